"""Sentence recovery: a continuous vector that makes a frozen language model regenerate a sentence.

Papers: "Can Unconditional Language Models Recover Arbitrary Sentences?" (Subramani, Bowman, Cho;
arXiv 1907.04944) and "Discovering Useful Sentence Representations from Large Pretrained Language
Models" (Subramani, Suresh; arXiv 2008.09049).

The LM's weights stay fixed. A sentence ``y_1 .. y_T`` gets a vector ``z`` in R^{d'} (the
*reparametrized sentence space* of 1907.04944), mapped into the model's input space by a fixed
matrix ``W`` drawn from the seed (orthonormal columns, or rows when ``d'`` is larger than its output;
scaled by ``rms(E) sqrt(out / d')`` with ``E`` the token embeddings, so a ``z`` of unit-size entries
gives vectors the size of token embeddings):

* ``inject="add"`` -- ``W z`` (``d x d'``) is added to the input embedding at every time step
  (1907.04944 adds its bias to the recurrent computation at every step; 2008.09049's embedding
  injection adds it to the token embeddings): inputs ``e(bos) + Wz, e(y_1) + Wz, .., e(y_{T-1}) + Wz``;
* ``inject="prefix"`` -- ``W z`` (``k d x d'``, ``k = ceil(d' / d)``) is reshaped into ``k`` input
  vectors in front of the sentence (a soft prefix; for a causal model the analogue of injecting into
  the initial state, and, with ``k > 1``, of 2008.09049's injection into every layer's attention):
  inputs ``(Wz)_1 .. (Wz)_k, e(y_1), .., e(y_{T-1})``;
* ``inject="state"`` -- 1907.04944's own injection into a recurrent LM: ``W z`` (``S x d'``, ``S`` the
  size of one row of the model's recurrent state, e.g. ``h`` and ``c`` of every LSTM layer) is a bias
  added to the previous state at *every* time step before the cell runs,
  ``(h, c)_{t-1} <- (h, c)_{t-1} + (W_h z, W_c z)``, so at ``t = 1`` it is the initial state and
  afterwards it keeps steering the recurrence; inputs ``e(bos), e(y_1), .., e(y_{T-1})``. Only for a
  ``SequenceModel`` whose mixers all carry a fixed-size state (LSTM, GRU, RNN, SSMs; ``W`` unscaled:
  the state is ``z``'s size);
* ``inject="kv"`` -- 2008.09049's attention injection: ``W z`` is a key/value slot in front of the
  sentence in every attention layer, then start tokens (``bos_token_id``: an id or a list); see
  :mod:`seqlab.decode.recovery_kv` (``transformers`` causal LMs and attention ``SequenceModel`` s).

Either way the output at the last injected position predicts ``y_1``, and the next ones ``y_2 ..``.
Recovery maximises
``sum_t log p(y_t | y_<t, z)`` over ``z`` with Adam from a small random start (the sentence ->
representation map by optimisation, as in both papers), then decodes greedily from ``z``
(representation -> sentence): ``T`` steps, each appending the argmax token. For a causal model greedy
decoding returns ``y`` exactly iff the teacher-forced argmax at every position is ``y_t``, so the
optimisation stops as soon as that holds for every sentence of the batch (checked every
``check_every`` steps); the reported ``exact`` comes from the greedy decode itself.

Works on any model with the :class:`seqlab.lm.LanguageModel` members ``input_embeddings`` and
``forward_embeds`` (``SequenceModel`` with any causal mixer; SmolLM2 from ``seqlab.lm``). Rows of a
batch are optimised together but independently (one ``z`` each; the loss is their sum).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from seqlab.decode import recovery_kv
from seqlab.registry import Paper, experiment, register

RECOVER_PAPER = Paper("Can Unconditional Language Models Recover Arbitrary Sentences?", "1907.04944")
DISCOVER_PAPER = Paper(
    "Discovering Useful Sentence Representations from Large Pretrained Language Models", "2008.09049"
)
INJECTIONS = ("add", "prefix", "state", "kv")


class Recovery(NamedTuple):
    """What :func:`recover` returns: ``z`` ``(d',)`` or ``(B, d')``, the greedy decode from it
    (``(T,)`` / ``(B, T)``) and whether it equals the sentence (bool / ``(B,)`` bool tensor)."""

    z: torch.Tensor
    ids: torch.Tensor
    exact: bool | torch.Tensor


def prefix_length(lm, dim: int, inject: str) -> int:
    """Input vectors ``W z`` occupies: ``ceil(dim / d_model)`` for a prefix, 1 when added (or the
    ``bos`` position of a state injection)."""
    return max(1, math.ceil(dim / int(lm.d_model))) if inject == "prefix" else 1


def _leaves(state) -> list[torch.Tensor]:
    if isinstance(state, torch.Tensor):
        return [state]
    if isinstance(state, dict):
        return [x for k in sorted(state) for x in _leaves(state[k])]
    return [x for part in state for x in _leaves(part)]


def _rebuild(template, flat: list[torch.Tensor]):
    """``template``'s structure with its leaves replaced, in :func:`_leaves` order, from ``flat``."""
    if isinstance(template, torch.Tensor):
        return flat.pop(0)
    if isinstance(template, dict):
        built = {k: _rebuild(template[k], flat) for k in sorted(template)}
        return {k: built[k] for k in template}
    return type(template)(_rebuild(part, flat) for part in template)


def check_state_model(lm) -> None:
    """``inject="state"`` needs a ``SequenceModel``-like LM with ``init_state`` / ``step`` whose
    mixers all carry a fixed-size state (a KV cache grows, so a bias on it means nothing)."""
    blocks = getattr(lm, "blocks", None)
    if blocks is None or not hasattr(lm, "init_state") or not hasattr(lm, "step"):
        raise ValueError(
            "inject='state' needs a SequenceModel with a recurrent state (init_state / step), "
            f"got {type(lm).__name__}"
        )
    growing = [type(b.mixer).__name__ for b in blocks if getattr(b.mixer, "state_growth", None) != "constant"]
    if growing:
        raise ValueError(
            f"inject='state' needs mixers with a fixed-size state (e.g. lstm, gru), got {growing}"
        )


def state_size(lm) -> int:
    """Entries of one row of the model's recurrent state (all layers): the rows of ``W`` for
    ``inject="state"``."""
    check_state_model(lm)
    return sum(x[0].numel() for x in _leaves(lm.init_state(1)["layers"]))


def state_bias(lm, v: torch.Tensor):
    """The per-layer state structure of ``lm`` filled from ``v`` ``(B, S)`` (the bias ``W z``)."""
    template = lm.init_state(v.shape[0], v.device, v.dtype)["layers"]
    flat, start = [], 0
    for leaf in _leaves(template):
        n = leaf[0].numel()
        flat.append(v[:, start : start + n].reshape(leaf.shape).to(leaf.dtype))
        start += n
    return _rebuild(template, flat)


def _add_state(state, bias):
    if isinstance(state, torch.Tensor):
        return state + bias
    if isinstance(state, dict):
        return {k: _add_state(state[k], bias[k]) for k in state}
    return type(state)(_add_state(s, b) for s, b in zip(state, bias, strict=True))


def state_injected_step(lm, tok: torch.Tensor, state, bias):
    """One step of the LM with the bias added to the previous state: ``lm.step(tok, state + bias)``
    (the state of 1907.04944's injection; ``state`` None = the model's zero initial state)."""
    if state is None:
        state = lm.init_state(tok.shape[0], tok.device, lm.head.weight.dtype)
    state = {"t": state["t"], "layers": _add_state(state["layers"], bias)}
    return lm.step(tok, state)


def state_injected_logits(lm, v: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
    """Logits ``(B, t, V)`` of the inputs ``tokens`` ``(B, t)`` with the bias ``v`` ``(B, S)`` added
    to the state before every step (teacher forcing, step by step)."""
    bias, state, out = state_bias(lm, v), None, []
    for i in range(tokens.shape[1]):
        logits, state = state_injected_step(lm, tokens[:, i], state, bias)
        out.append(logits)
    return torch.stack(out, 1)


def projection(lm, dim: int, seed: int, inject: str = "prefix") -> torch.Tensor:
    """The fixed map ``W`` (``k d_model x dim``, ``k`` = :func:`prefix_length`) from the
    reparametrized space into the input space: orthonormal columns (rows when ``dim > k d``), scaled
    by ``rms(E) sqrt(k d / dim)``."""
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ValueError(f"recover expects dim (the size of z) an int >= 1, got {dim!r}")
    if inject == "state":
        out, rms = state_size(lm), 1.0
    elif inject == "kv":
        out = recovery_kv.kv_slots(lm, dim) * recovery_kv.slot_size(lm)
        rms = recovery_kv.row_scales(lm, out // recovery_kv.slot_size(lm))[:, None]
    else:
        out = prefix_length(lm, dim, inject) * int(lm.d_model)
        probe = torch.arange(min(int(lm.vocab_size), 2048))
        with torch.no_grad():
            rms = float(lm.input_embeddings(probe[None]).double().pow(2).mean().sqrt())
    g = torch.Generator().manual_seed(int(seed))
    q, _ = torch.linalg.qr(torch.randn(max(out, dim), min(out, dim), generator=g, dtype=torch.float64))
    w = q if dim <= out else q.T
    return (w * rms * math.sqrt(out / dim)).float()  # rms: a number, or one per row (kv)


def injected_inputs(lm, v: torch.Tensor, tokens: torch.Tensor, inject: str, bos_token_id=None):
    """Input vectors ``(B, k + t, d)`` (prefix) or ``(B, 1 + t, d)`` (add) for the injected vectors
    ``v`` ``(B, k d)`` and the token prefixes ``tokens`` ``(B, t)`` (``t`` may be 0). The output at
    the last of the first ``k`` (or 1) positions predicts the first token."""
    b, d = v.shape[0], int(lm.d_model)
    if inject == "prefix":
        parts = [v.reshape(b, -1, d)]
        if tokens.shape[1]:
            parts.append(lm.input_embeddings(tokens))
        return torch.cat(parts, 1)
    bos = torch.full((b, 1), int(bos_token_id), dtype=torch.long, device=tokens.device)
    return lm.input_embeddings(torch.cat([bos, tokens], 1)) + v[:, None]


def injected_logits(lm, v: torch.Tensor, y: torch.Tensor, inject: str, bos_token_id=None):
    """Teacher-forced logits ``(B, T, V)`` of the sentences ``y`` ``(B, T)`` given the injected
    ``v = W z``: position ``t`` predicts ``y_t``."""
    if inject == "kv":
        return recovery_kv.kv_teacher_logits(lm, v, y, bos_token_id)
    if inject == "state":
        bos = torch.full((y.shape[0], 1), int(bos_token_id), dtype=torch.long, device=y.device)
        return state_injected_logits(lm, v, torch.cat([bos, y[:, :-1]], 1))
    k = v.shape[1] // int(lm.d_model) if inject == "prefix" else 1
    return lm.forward_embeds(injected_inputs(lm, v, y[:, :-1], inject, bos_token_id)).logits[:, k - 1 :]


def greedy_from_vectors(lm, v: torch.Tensor, length: int, inject: str = "prefix", bos_token_id=None):
    """Greedy decoding of ``length`` tokens from injected vectors ``v`` ``(B, d)`` (the whole prefix
    is re-run at each step through ``forward_embeds``, so any injection works; ``"state"`` steps the
    recurrence with the bias added each time; ``"kv"`` decodes incrementally through the cache)."""
    if inject == "kv":
        return recovery_kv.kv_greedy(lm, v, length, bos_token_id)
    if inject == "state":
        bias, state = state_bias(lm, v), None
        tok = torch.full((v.shape[0],), int(bos_token_id), dtype=torch.long, device=v.device)
        out = []
        with torch.no_grad():
            for _ in range(length):
                logits, state = state_injected_step(lm, tok, state, bias)
                tok = logits.argmax(-1)
                out.append(tok)
        return torch.stack(out, 1)
    tokens = torch.zeros(v.shape[0], 0, dtype=torch.long, device=v.device)
    with torch.no_grad():
        for _ in range(length):
            logits = lm.forward_embeds(injected_inputs(lm, v, tokens, inject, bos_token_id)).logits
            tokens = torch.cat([tokens, logits[:, -1].argmax(-1, keepdim=True)], 1)
    return tokens


def _check(lm, ids, lengths, inject, bos_token_id, steps, lr):
    if inject not in INJECTIONS:
        raise ValueError(f"recover expects inject one of {INJECTIONS}, got {inject!r}")
    if inject in ("add", "state", "kv") and bos_token_id is None:
        raise ValueError(
            f"recover with inject={inject!r} needs bos_token_id (the token the sentence starts after)"
        )
    if inject == "state":
        check_state_model(lm)
    if inject == "kv":
        recovery_kv.kv_layout(lm)
        recovery_kv.start_tokens(bos_token_id, 1)
    if not getattr(lm, "is_causal", False):
        raise ValueError("recover needs a causal language model (greedy decoding); got an encoder")
    if (
        not isinstance(ids, torch.Tensor)
        or ids.dim() not in (1, 2)
        or ids.dtype not in (torch.long, torch.int)
    ):
        got = f"{ids.dtype} {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        raise ValueError(f"recover expects token ids of shape (T,) or (B, T), got {got}")
    if ids.numel() == 0:
        raise ValueError("recover expects a non-empty sentence")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise ValueError(f"recover expects steps an int >= 0, got {steps!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"recover expects lr a finite number > 0, got {lr!r}")
    b, t = (1, ids.shape[0]) if ids.dim() == 1 else ids.shape
    if lengths is None:
        return torch.full((b,), t, dtype=torch.long)
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    if lengths.shape != (b,) or bool((lengths < 1).any()) or bool((lengths > t).any()):
        raise ValueError(f"recover expects lengths (B,) = ({b},) in [1, {t}], got {lengths.tolist()}")
    return lengths


def _optimise(lm, y, keep, w, z0, steps, lr, schedule, check_every, inject, bos_token_id):
    """Adam on ``z`` from ``z0`` until every row's teacher-forced argmax is its sentence (checked every
    ``check_every`` steps) or ``steps`` run out; ``schedule="cosine"`` decays lr to 0 over ``steps``."""
    b, t = y.shape
    z = z0.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    for i in range(steps + 1):
        logits = injected_logits(lm, z @ w.T, y, inject, bos_token_id)
        if i % max(1, check_every) == 0 or i == steps:
            hit = (logits.argmax(-1) == y) | ~keep
            if bool(hit.all()):
                break
        if i == steps:
            break
        if schedule == "cosine":
            opt.param_groups[0]["lr"] = lr * 0.5 * (1 + math.cos(math.pi * i / steps))
        nll = F.cross_entropy(logits.float().reshape(b * t, -1), y.reshape(-1), reduction="none")
        loss = (nll.reshape(b, t) * keep).sum() / keep.sum()
        (grad,) = torch.autograd.grad(loss, z)
        z.grad = grad
        opt.step()
    z = z.detach()
    if not bool(torch.isfinite(z).all()):
        raise ValueError("recover: the optimisation diverged (z holds NaN or inf); lower lr")
    return z


@register(
    "decoder",
    "sentence_recovery",
    implements=(RECOVER_PAPER, DISCOVER_PAPER),
    used_by=[RECOVER_PAPER.title, DISCOVER_PAPER.title],
    description="optimise z injected into a frozen LM (added to every input, as a prefix, as a bias "
    "on a recurrent state, or as a key/value slot in every attention layer) to regenerate a sentence",
)
def recover(
    lm,
    ids: torch.Tensor,
    dim: int,
    steps: int = 300,
    lr: float = 0.3,
    seed: int = 0,
    *,
    inject: str = "prefix",
    bos_token_id: int | None = None,
    lengths: torch.Tensor | None = None,
    check_every: int = 10,
    init_scale: float = 0.1,
    restarts: int = 1,
    schedule: str = "constant",
) -> Recovery:
    """Find ``z`` (size ``dim``) that makes the frozen ``lm`` regenerate ``ids`` by greedy decoding.

    ``ids``: one sentence ``(T,)`` or a batch ``(B, T)`` (right-padded rows with ``lengths``; only
    the first ``lengths[i]`` tokens count -- a causal model's later positions cannot change them).
    Put the end token in ``ids`` to make stopping part of the sentence. Returns :class:`Recovery`
    ``(z, recovered_ids, exact)``; ``seed`` draws ``W`` and the start of ``z``. ``lr`` is in units
    of ``z`` (entries of size ~1): 0.3 suits the small word LMs trained here; SmolLM2 needs ~0.03.
    ``restarts`` > 1 re-runs the rows not yet recovered from fresh random starts (each attempt's
    ``z`` kept for the rows it recovers; a row never recovered keeps its last attempt);
    ``schedule`` is ``"constant"`` or ``"cosine"`` (lr decays to 0 over ``steps``).
    """
    lengths = _check(lm, ids, lengths, inject, bos_token_id, steps, lr)
    if isinstance(restarts, bool) or not isinstance(restarts, int) or restarts < 1:
        raise ValueError(f"recover expects restarts an int >= 1, got {restarts!r}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"recover expects schedule 'constant' or 'cosine', got {schedule!r}")
    single = ids.dim() == 1
    y = (ids[None] if single else ids).long()
    b, t = y.shape
    w = projection(lm, dim, seed, inject)
    keep = torch.arange(t)[None] < lengths[:, None]  # (B, T) positions that count
    z = torch.zeros(b, dim)
    out = torch.zeros(b, t, dtype=torch.long)
    exact = torch.zeros(b, dtype=torch.bool)
    was_training = getattr(lm, "training", False)
    if was_training:
        lm.eval()
    try:
        for attempt in range(restarts):
            todo = (~exact).nonzero().flatten()
            if todo.numel() == 0:
                break
            g = torch.Generator().manual_seed(int(seed) + 1 + 7919 * attempt)
            z0 = (init_scale * torch.randn(b, dim, generator=g))[todo]
            zt = _optimise(
                lm, y[todo], keep[todo], w, z0, steps, lr, schedule, check_every, inject, bos_token_id
            )
            got = greedy_from_vectors(lm, zt @ w.T, t, inject, bos_token_id)
            z[todo], out[todo] = zt, got
            exact[todo] = ((got == y[todo]) | ~keep[todo]).all(1)
    finally:
        if was_training:
            lm.train()
    if single:
        return Recovery(z[0], out[0], bool(exact[0]))
    return Recovery(z, out, exact)


def decode_vector(
    lm, z: torch.Tensor, length: int, seed: int = 0, *, inject: str = "prefix", bos_token_id=None
):
    """Greedy decode of ``length`` tokens from ``z`` (``(d',)`` or ``(B, d')``) through the same ``W``
    (same ``seed``) that :func:`recover` used -- e.g. from a random ``z`` (the random-vector baseline)."""
    if inject not in INJECTIONS:
        raise ValueError(f"decode_vector expects inject one of {INJECTIONS}, got {inject!r}")
    if inject in ("add", "state", "kv") and bos_token_id is None:
        raise ValueError(f"decode_vector with inject={inject!r} needs bos_token_id")
    single = z.dim() == 1
    z = z[None] if single else z
    if not bool(torch.isfinite(z).all()):
        raise ValueError("decode_vector expects a finite z, got NaN or inf")
    w = projection(lm, z.shape[1], seed, inject)
    out = greedy_from_vectors(lm, z.float() @ w.T, length, inject, bos_token_id)
    return out[0] if single else out


# -- the experiment of the claims ----------------------------------------------------------------
RECOVERY_DEFAULTS = dict(
    mixer="attention",
    inject="prefix",
    d_model=128,
    n_layers=2,
    lm_steps=600,
    vocab=1000,
    dims=[32, 128, 512],
    n_sentences=16,
    max_tokens=14,
    steps=300,
    lr=0.3,
)


@experiment("decode.recovery")
def recovery_experiment(params: dict, seed: int) -> dict:
    """Train a small word LM on the Lee corpus (held-out short sentences excluded), then the
    exact-recovery rate at each size of ``z`` on held-out and on training sentences, and of the
    baselines: a random ``z`` (same ``W``) and ``z = 0`` (the LM's own greedy sentence)."""
    from seqlab.decode import small_lm as S

    p = {**RECOVERY_DEFAULTS, **params}
    sents = S.lee_sentences(4, 30)
    vocab = S.vocabulary(sents, p["vocab"])
    v = S.SPECIALS + len(vocab)
    ids = S.to_ids(sents, vocab)
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(ids), generator=g).tolist()
    short = [i for i in perm if len(ids[i]) <= p["max_tokens"]]
    held = set(short[: p["n_sentences"]])
    test = [ids[i] for i in short[: p["n_sentences"]]]
    train = [ids[i] for i in perm if i not in held]
    seen = [s for s in train if len(s) <= p["max_tokens"]][: p["n_sentences"]]
    lm = S.train_word_lm(
        train,
        v,
        seed=seed,
        mixer=p["mixer"],
        d_model=p["d_model"],
        n_layers=p["n_layers"],
        steps=p["lm_steps"],
        cache_key=("recovery", p["vocab"]),
    )
    out = {"perplexity": S.perplexity(lm, test), "unigram_perplexity": S.unigram_perplexity(train, test, v)}
    kw = dict(inject=p["inject"], bos_token_id=S.BOS)
    for name, data in (("heldout", test), ("train", seen)):
        x, m = S.pad([s[1:] for s in data])  # the sentence after BOS, EOS included
        for dim in p["dims"]:
            r = recover(lm, x, dim, steps=p["steps"], lr=p["lr"], seed=seed, lengths=m.sum(1), **kw)
            out[f"{name}_exact_{dim}"] = float(r.exact.float().mean())
            if name == "heldout":
                z = torch.randn(x.shape[0], dim, generator=g)
                for base, vec in (("random", z), ("zero", torch.zeros_like(z))):
                    y = decode_vector(lm, vec, x.shape[1], seed=seed, **kw)
                    out[f"{base}_exact_{dim}"] = float(((y == x) | ~m).all(1).float().mean())
    return out

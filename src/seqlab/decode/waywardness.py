"""Continuous prompts, their discrete projections, and prompt waywardness.

Paper: "Prompt Waywardness: The Curious Case of Discretized Interpretation of Continuous Prompts"
(Khashabi et al.; arXiv 2112.08348).

Prompt tuning: ``k`` free vectors ``P = (p_1 .. p_k)`` (each of the LM's width) are put in front of
the input embeddings of a frozen causal LM; a classification input ``x`` is answered by the LM's
next-token logits after ``P, e(x_1) .. e(x_n)`` restricted to the label tokens ``l_1 .. l_C``:

    L_task(P) = - mean log softmax_c(logit_{l_c})[y]

The discrete *projection* of ``P`` replaces each ``p_i`` by its nearest token embedding (Euclidean),
``proj(P)_i = argmin_v || p_i - e_v ||``. *Waywardness*: for an arbitrary target text ``t_1 .. t_k``
the objective

    L(P) = L_task(P) + gamma * mean_i || p_i - e(t_i) ||^2 / (d rms(E)^2)

(the distance normalised by the typical squared norm of a token embedding) finds prompts that still
solve the task while projecting onto the target; the paper reports such prompts within ~2% of the
best continuous prompt's accuracy, whatever the target. Measured here: accuracy of the continuous
prompt and of its projection, and the token F1 of the projection against the target.

Works on any causal model with ``input_embeddings`` and ``forward_embeds`` (``SequenceModel``;
SmolLM2). Inputs of different lengths are right-padded (:func:`right_padded` turns a left-padded
``lm.encode`` into that); the answer is read at each row's last real position (a causal model's
padding after it changes nothing, so a batch is cut at its longest row). On a ``transformers``
causal model the head is applied only at those positions (``logits_to_keep``), the same numbers as
``forward_embeds`` for a fifth less work. The experiment on the real SmolLM2-135M is
:mod:`seqlab.decode.waywardness_smollm2`.
"""

from __future__ import annotations

import math
from collections import Counter

import torch
import torch.nn.functional as F

from seqlab.registry import Paper, experiment, register

PAPER = Paper(
    "Prompt Waywardness: The Curious Case of Discretized Interpretation of Continuous Prompts", "2112.08348"
)


def _rows(x, lengths):
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.dtype not in (torch.long, torch.int):
        raise ValueError(f"expected task inputs as (batch, length) token ids, got {x!r}")
    if lengths is None:
        return torch.full((x.shape[0],), x.shape[1], dtype=torch.long)
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    if lengths.shape != (x.shape[0],) or bool((lengths < 1).any()) or bool((lengths > x.shape[1]).any()):
        raise ValueError(f"expected lengths (batch,) in [1, {x.shape[1]}], got {lengths.tolist()}")
    return lengths


def embedding_rms(lm) -> float:
    probe = torch.arange(min(int(lm.vocab_size), 4096))
    with torch.no_grad():
        return float(lm.input_embeddings(probe[None]).double().pow(2).mean().sqrt())


def right_padded(ids: torch.Tensor, mask: torch.Tensor, pad_id: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, lengths)`` with each row's real tokens (``mask`` 1, in order) moved to the front and
    ``pad_id`` after them -- e.g. from the left-padded ``encode`` of a causal ``transformers`` model."""
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or not isinstance(mask, torch.Tensor):
        raise ValueError(f"right_padded expects (batch, length) ids and mask tensors, got {ids!r}")
    if mask.shape != ids.shape:
        raise ValueError(
            f"right_padded expects a mask of the ids' shape {tuple(ids.shape)}, got {tuple(mask.shape)}"
        )
    keep = mask.bool()
    lengths = keep.sum(1)
    if bool((lengths < 1).any()):
        raise ValueError("right_padded expects every row to have at least one real token")
    out = torch.full_like(ids, int(pad_id))
    out[torch.arange(ids.shape[1])[None] < lengths[:, None]] = ids[keep]
    return out, lengths


def _hf_causal(lm):
    model = getattr(lm, "model", None)
    return getattr(lm, "is_causal", False) and model is not None and hasattr(model, "get_output_embeddings")


def _logits_at(lm, inputs: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """``(B, V)`` next-token logits of ``inputs`` ``(B, T, d)`` at position ``pos[b]`` of each row."""
    rows = torch.arange(inputs.shape[0])
    if _hf_causal(lm):
        keep = torch.unique(pos)  # sorted; the head runs at these positions only
        logits = lm.model(inputs_embeds=inputs, logits_to_keep=keep, return_dict=True).logits
        return logits[rows, torch.searchsorted(keep, pos)]
    return lm.forward_embeds(inputs).logits[rows, pos]


def class_logits(lm, prompt: torch.Tensor, x: torch.Tensor, labels, lengths=None) -> torch.Tensor:
    """``(B, C)`` logits of the label tokens after ``prompt`` ``(k, d)`` and the inputs ``x``."""
    lengths = _rows(x, lengths)
    x = x[:, : int(lengths.max())]  # causal: what follows every row's last token changes nothing
    if not isinstance(prompt, torch.Tensor) or prompt.dim() != 2 or prompt.shape[1] != int(lm.d_model):
        raise ValueError(
            f"expected a prompt of shape (k, {lm.d_model}), got {getattr(prompt, 'shape', prompt)}"
        )
    if not bool(torch.isfinite(prompt).all()):
        raise ValueError("expected a finite continuous prompt, got NaN or inf")
    b, k = x.shape[0], prompt.shape[0]
    dtype = lm.input_embeddings(x[:1, :1]).dtype
    inputs = torch.cat([prompt[None].expand(b, -1, -1).to(dtype), lm.input_embeddings(x)], 1)
    return _logits_at(lm, inputs, k + lengths - 1)[:, torch.as_tensor(labels, dtype=torch.long)]


@torch.no_grad()
def accuracy(lm, prompt, x, y, labels, lengths=None, batch_size: int | None = None) -> float:
    """Fraction of rows whose highest label logit is the gold class ``y``; with ``batch_size``, rows
    go through in batches of similar length (less padding), the same numbers."""
    lengths = _rows(x, lengths)
    y = torch.as_tensor(y, dtype=torch.long)
    if batch_size is None:
        return float((class_logits(lm, prompt, x, labels, lengths).argmax(-1) == y).float().mean())
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"accuracy expects batch_size an int >= 1 or None, got {batch_size!r}")
    order = torch.argsort(lengths, stable=True)
    right = 0
    for i in range(0, len(order), batch_size):
        idx = order[i : i + batch_size]
        pred = class_logits(lm, prompt, x[idx], labels, lengths[idx]).argmax(-1)
        right += int((pred == y[idx]).sum())
    return right / x.shape[0]


@torch.no_grad()
def project(lm, prompt: torch.Tensor, vocab: torch.Tensor | None = None) -> torch.Tensor:
    """Nearest token (Euclidean, among ``vocab`` ids or the whole vocabulary) of each prompt vector."""
    ids = torch.arange(int(lm.vocab_size)) if vocab is None else torch.as_tensor(vocab, dtype=torch.long)
    table = lm.input_embeddings(ids[None])[0].float()
    return ids[torch.cdist(prompt.float()[None], table[None])[0].argmin(-1)]


def token_f1(a, b) -> float:
    """Token-multiset F1 between two token sequences (1 when equal as multisets)."""
    a, b = Counter(list(map(int, a))), Counter(list(map(int, b)))
    common = sum((a & b).values())
    if common == 0:
        return 0.0
    p, r = common / sum(a.values()), common / sum(b.values())
    return 2 * p * r / (p + r)


@register(
    "decoder",
    "prompt_waywardness",
    implements=PAPER,
    used_by=[PAPER.title],
    description="continuous prompt tuning on a frozen LM, nearest-token projection, and the waywardness "
    "objective (task loss + gamma * distance to a target text)",
)
def tune_prompt(
    lm,
    x: torch.Tensor,
    y: torch.Tensor,
    labels,
    k: int,
    *,
    steps: int = 200,
    lr: float = 0.05,
    seed: int = 0,
    lengths=None,
    target: torch.Tensor | None = None,
    gamma: float = 0.0,
    batch_size: int = 64,
    init: torch.Tensor | None = None,
) -> torch.Tensor:
    """Tune a ``(k, d)`` continuous prompt on ``(x, y)`` (frozen ``lm``); with ``target`` ``(k,)``
    token ids and ``gamma > 0``, the waywardness objective pulls it towards the target's embeddings.

    The prompt starts as Gaussian noise of the token embeddings' size (drawn from ``seed``), or, with
    ``init`` (``k`` token ids), as those tokens' embeddings (a discrete prompt). Each of ``steps`` Adam
    steps (learning rate ``lr`` times that size) uses ``batch_size`` rows drawn with replacement."""
    lengths = _rows(x, lengths)
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"tune_prompt expects k (prompt vectors) an int >= 1, got {k!r}")
    if not (isinstance(gamma, (int, float)) and math.isfinite(gamma) and gamma >= 0):
        raise ValueError(f"tune_prompt expects gamma a finite number >= 0, got {gamma!r}")
    if gamma > 0 and (target is None or len(target) != k):
        raise ValueError(f"tune_prompt with gamma > 0 needs target: {k} token ids (one per prompt vector)")
    y = torch.as_tensor(y, dtype=torch.long)
    if y.shape != (x.shape[0],) or int(y.min()) < 0 or int(y.max()) >= len(labels):
        raise ValueError(f"tune_prompt expects y (batch,) class indices in [0, {len(labels)})")
    rms = embedding_rms(lm)
    g = torch.Generator().manual_seed(int(seed))
    if init is None:
        prompt = rms * torch.randn(k, int(lm.d_model), generator=g)
    else:
        init = torch.as_tensor(init, dtype=torch.long)
        if init.shape != (k,):
            raise ValueError(
                f"tune_prompt expects init as {k} token ids (one per prompt vector), got {init.tolist()}"
            )
        with torch.no_grad():
            prompt = lm.input_embeddings(init[None])[0].float().clone()
    prompt = prompt.requires_grad_(True)
    goal = None
    if target is not None:
        with torch.no_grad():
            goal = lm.input_embeddings(torch.as_tensor(target, dtype=torch.long)[None])[0].float()
    opt = torch.optim.Adam([prompt], lr=lr * rms)
    was_training = getattr(lm, "training", False)
    if was_training:
        lm.eval()
    try:
        for _ in range(steps):
            pick = torch.randint(x.shape[0], (min(batch_size, x.shape[0]),), generator=g)
            logits = class_logits(lm, prompt, x[pick], labels, lengths[pick])
            loss = F.cross_entropy(logits.float(), y[pick])
            if gamma > 0:
                loss = loss + gamma * (prompt - goal).pow(2).sum(-1).mean() / (int(lm.d_model) * rms**2)
            (grad,) = torch.autograd.grad(loss, prompt)
            prompt.grad = grad
            opt.step()
    finally:
        if was_training:
            lm.train()
    prompt = prompt.detach()
    if not bool(torch.isfinite(prompt).all()):
        raise ValueError("tune_prompt diverged (NaN or inf in the prompt); lower lr")
    return prompt


# -- the generated task and the experiment of the claim ------------------------------------------
# Vocabulary of the toy multi-task LM: BOS, SEP, 4 symbols, 4 label tokens, 3 task tokens, 16 filler
# words (a "text" the tasks never use). A training sequence is BOS T_j x_1 .. x_n SEP l_y (task j on
# the symbols x) or BOS f f .. f (filler text).
BOS, SEP, SYMBOLS, LABELS, TASKS, FILLER = 0, 1, range(2, 6), range(6, 10), range(10, 13), range(13, 29)
TOY_VOCAB = 29
TASK_NAMES = ("first symbol", "last symbol", "most frequent symbol")


def task_labels(x: torch.Tensor, task: int) -> torch.Tensor:
    """Class (symbol index 0..3) of each row of symbol ids ``x`` under task 0 / 1 / 2."""
    s = x - SYMBOLS[0]
    if task == 0:
        return s[:, 0]
    if task == 1:
        return s[:, -1]
    counts = F.one_hot(s, len(SYMBOLS)).sum(1)  # ties -> the smallest symbol
    return counts.argmax(-1)


def task_batch(n: int, length: int, task: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x + SEP, y)``: ``n`` rows of ``length`` random symbols then SEP, and their classes."""
    x = torch.randint(SYMBOLS[0], SYMBOLS[-1] + 1, (n, length), generator=g)
    return torch.cat([x, torch.full((n, 1), SEP)], 1), task_labels(x, task)


def toy_corpus(n: int, length: int, g: torch.Generator) -> list[list[int]]:
    out = []
    for _ in range(n):
        if float(torch.rand((), generator=g)) < 0.2:
            out.append([BOS, *torch.randint(FILLER[0], FILLER[-1] + 1, (length + 2,), generator=g).tolist()])
            continue
        task = int(torch.randint(len(TASKS), (), generator=g))
        xs, y = task_batch(1, length, task, g)
        out.append([BOS, TASKS[task], *xs[0].tolist(), LABELS[0] + int(y[0])])
    return out


@experiment("decode.waywardness")
def waywardness_experiment(params: dict, seed: int) -> dict:
    from seqlab.decode.small_lm import train_word_lm

    p = {"length": 6, "k": 4, "gamma": 1.0, "lm_steps": 400, "d_model": 64, "prompt_steps": 200, **params}
    g = torch.Generator().manual_seed(seed)
    lm = train_word_lm(
        toy_corpus(4000, p["length"], g),
        TOY_VOCAB,
        seed=seed,
        d_model=p["d_model"],
        steps=p["lm_steps"],
        cache_key=("waywardness", p["length"]),
    )
    labels = list(LABELS)
    xtr, ytr = task_batch(512, p["length"], 0, g)
    xte, yte = task_batch(512, p["length"], 0, g)
    k = p["k"]
    # an arbitrary target text: k tokens drawn from the other tasks' tokens and the filler words
    pool = torch.tensor([*TASKS[1:], *FILLER])
    target = pool[torch.randperm(len(pool), generator=g)[:k]]
    with torch.no_grad():
        task_prompt = lm.input_embeddings(torch.tensor([[BOS, TASKS[0]]]))[0]
        target_prompt = lm.input_embeddings(target[None])[0]
    acc = lambda prompt: accuracy(lm, prompt, xte, yte, labels)  # noqa: E731
    best = tune_prompt(lm, xtr, ytr, labels, k, steps=p["prompt_steps"], seed=seed)
    way = tune_prompt(
        lm, xtr, ytr, labels, k, steps=p["prompt_steps"], seed=seed, target=target, gamma=p["gamma"]
    )
    proj_best, proj_way = project(lm, best), project(lm, way)
    rnd = embedding_rms(lm) * torch.randn(k, int(lm.d_model), generator=g)
    return {
        "task_token_acc": acc(task_prompt),
        "continuous_acc": acc(best),
        "continuous_projected_acc": acc(lm.input_embeddings(proj_best[None])[0]),
        "continuous_projection_f1": token_f1(proj_best, target),
        "wayward_acc": acc(way),
        "wayward_projected_acc": acc(lm.input_embeddings(proj_way[None])[0]),
        "wayward_projection_f1": token_f1(proj_way, target),
        "target_tokens_acc": acc(target_prompt),
        "random_prompt_acc": acc(rnd),
        "chance": 1.0 / len(labels),
    }

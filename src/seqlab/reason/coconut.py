"""Coconut: chain of continuous thought.

"Training Large Language Models to Reason in a Continuous Latent Space" (Hao et al., arXiv
2412.06769). Instead of decoding a step into a word token, the last hidden state of the model at
the last position is appended as the next input embedding::

    e_1 .. e_P            = embeddings of  question BOT
    h_t                   = hidden_states[-1](e_1 .. e_{P+t-1})[last position]      t = 1 .. n
    input after thought t = e_1 .. e_P h_1 .. h_t

then ``EOT``, the remaining language steps and the answer. Training follows the paper's staged
curriculum: at stage ``k`` the first ``k`` steps of the discrete chain of thought are replaced by
``c * k`` continuous thoughts (``c`` = ``thoughts_per_step``) and the loss is the cross-entropy of
the remaining steps and the answer (none on the question or the thoughts); stage 0 is plain CoT.
There cannot be more stages than steps (ValueError). Gradients flow through every thought
(back-propagation through the recurrence of hidden states).

The "BFS reading" of a thought: the model's own output head applied to a thought gives a
distribution over the vocabulary; on graph tasks the probability mass on the frontier nodes
(children reached in ``i`` steps) versus other nodes shows the thought keeping several branches
alive (:meth:`Coconut.read_thought`, :func:`frontier_mass`).

Key-value cache (``kv_cache=True``): without it, thought ``t`` re-runs the whole prefix
``e_1 .. e_{P+t-1}`` (``n`` passes of growing length, O(n (P + n)^2) attention work). With it the
prefix runs once through the model's chunked mode and each thought is *one* incremental step: the
vector ``h_t`` enters with the state (every layer's keys and values, or a recurrent mixer's state)
of the positions before it, and the last layer's final-norm output at that one position is
``h_{t+1}``. The remaining language tokens (``EOT`` and the steps) continue from the same state.
Causal attention makes both paths the same function (tested to float tolerance); gradients flow
through the cached keys and values as through the full passes. The cache needs a
:class:`~seqlab.models.SequenceModel` whose mixers have a chunked mode, or a causal model of
:mod:`seqlab.lm` (SmolLM2: the ``transformers`` KV cache) (:func:`supports_cache`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.reason.base import Prediction, Reasoner, check_batch, tokens
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import EOT

COCONUT = Paper("Training Large Language Models to Reason in a Continuous Latent Space", "2412.06769")


def supports_cache(model) -> bool:
    """Whether ``model`` can run continuous thoughts incrementally: a :class:`SequenceModel` whose
    every mixer has a chunked (stateful) mode, or a causal ``transformers`` model of
    :mod:`seqlab.lm` (:class:`~seqlab.lm.hf.HFCausalLM`, its KV cache)."""
    from seqlab.lm.hf import HFCausalLM
    from seqlab.models import SequenceModel

    if isinstance(model, HFCausalLM):
        return True
    return isinstance(model, SequenceModel) and all("chunked" in b.mixer.modes for b in model.blocks)


def embeds_with_state(model, embeds: torch.Tensor, state=None):
    """Run input vectors ``embeds`` (B, L, d) after ``state`` incrementally: returns (final-norm
    last-layer hidden states (B, L, d), logits (B, L, V), new state). Feeding ``a`` then ``b`` with
    the returned state equals ``forward_embeds(cat(a, b))`` at the positions of ``b``.

    A :class:`SequenceModel` runs its chunked mode (state: ``{"t", "layers"}`` from ``init_state``);
    an :class:`~seqlab.lm.hf.HFCausalLM` runs the ``transformers`` model with its ``DynamicCache``
    (state: ``{"t", "cache"}``; rows unpadded, the cache is extended in place)."""
    if not supports_cache(model):
        raise ValueError(
            f"a continuous-thought cache needs a SequenceModel whose mixers have a chunked mode or a "
            f"seqlab.lm causal model; got {type(model).__name__}"
        )
    if not isinstance(embeds, torch.Tensor) or embeds.dim() != 3 or embeds.shape[-1] != model.d_model:
        raise ValueError(f"embeds_with_state expects (batch, length, {model.d_model}) floats, got {embeds!r}")
    b, length = embeds.shape[:2]
    if not hasattr(model, "blocks"):
        return _hf_with_state(model, embeds, state)
    if state is None:
        state = model.init_state(b, embeds.device, model.head.weight.dtype)
    model._check_state(state, b)
    pos = (torch.arange(length, device=embeds.device) + state["t"]).expand(b, length)
    x = embeds
    if model.pos is not None and getattr(model.pos, "additive", True):
        x = x + model.pos(pos)
    new = []
    for block, s in zip(model.blocks, state["layers"], strict=True):
        x, s = block.forward_with_state(x, s, pos)
        new.append(s)
    h = model.norm(x)
    return h, model.head(h), {"t": state["t"] + length, "layers": new}


def _hf_with_state(lm, embeds: torch.Tensor, state):
    from transformers import DynamicCache

    if state is None:
        state = {"t": 0, "cache": DynamicCache(config=lm.model.config)}
    if not isinstance(state, dict) or set(state) != {"t", "cache"}:
        raise ValueError(f"{lm.name} expects a cache state {{'t', 'cache'}} from embeds_with_state")
    b, length = embeds.shape[:2]
    if lm.context_length is not None and state["t"] + length > lm.context_length:
        raise ValueError(
            f"{lm.name} has a context of {lm.context_length} positions; the thoughts overflow it"
        )
    pos = (torch.arange(length, device=embeds.device) + state["t"]).expand(b, length)
    out = lm.model(
        inputs_embeds=embeds,
        position_ids=pos,
        cache=state["cache"],
        use_cache=True,
        output_hidden_states=True,
        return_dict=True,
    )
    return out.hidden_states[-1], out.logits, {"t": state["t"] + length, "cache": state["cache"]}


def _int(name, v, minimum):
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {v!r}")


@register(
    "reasoner",
    "coconut",
    implements=COCONUT,
    used_by=[COCONUT.title],
    description="last hidden state fed back as the next input embedding; staged curriculum",
)
class Coconut(Reasoner):
    """Continuous thoughts by feeding back the last hidden state (see the module docstring)."""

    def __init__(
        self,
        model,
        cot_steps: int,
        n_stages: int | None = None,
        thoughts_per_step: int = 1,
        kv_cache: bool = False,
    ):
        super().__init__(model)
        if not isinstance(kv_cache, bool):
            raise ValueError(f"kv_cache must be a bool, got {kv_cache!r}")
        if kv_cache and not supports_cache(model):
            raise ValueError(
                f"kv_cache=True needs a SequenceModel whose mixers have a chunked mode or a seqlab.lm "
                f"causal model; "
                f"got {type(model).__name__} (use kv_cache=False)"
            )
        self.kv_cache = kv_cache
        _int("cot_steps", cot_steps, 1)
        n_stages = cot_steps if n_stages is None else n_stages
        _int("n_stages", n_stages, 0)
        _int("thoughts_per_step", thoughts_per_step, 1)
        if n_stages > cot_steps:
            raise ValueError(
                f"a Coconut curriculum cannot have more stages ({n_stages}) than CoT steps ({cot_steps}): "
                f"stage k replaces the first k steps"
            )
        self.cot_steps, self.n_stages, self.c = cot_steps, n_stages, thoughts_per_step

    def n_thoughts(self, stage: int) -> int:
        return self.c * stage

    def _stage(self, stage):
        stage = self.n_stages if stage is None else stage
        if isinstance(stage, bool) or not isinstance(stage, int) or not 0 <= stage <= self.n_stages:
            raise ValueError(f"stage must be an int in [0, {self.n_stages}], got {stage!r}")
        return stage

    def thoughts(self, embeds: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Append ``n`` continuous thoughts to ``embeds``; returns (extended embeds, thoughts (B, n, d))."""
        out = []
        for _ in range(n):
            h = self.last_hidden(embeds)
            out.append(h)
            embeds = torch.cat([embeds, h[:, None]], 1)
        th = torch.stack(out, 1) if out else embeds[:, :0]
        return embeds, th

    def cached_thoughts(self, prefix: torch.Tensor, n: int):
        """The ``n`` thoughts by incremental steps: one chunked pass over ``prefix``, then one step per
        thought. Returns (thoughts (B, n, d), the state after the last thought, the logits at the last
        position (B, V))."""
        h, logits, state = embeds_with_state(self.model, prefix)
        h, logits = h[:, -1], logits[:, -1]
        out = []
        for _ in range(n):
            out.append(h)
            hh, ll, state = embeds_with_state(self.model, h[:, None], state)
            h, logits = hh[:, 0], ll[:, 0]
        th = torch.stack(out, 1) if out else prefix[:, :0]
        return th, state, logits

    def suffix_logits(self, batch, stage=None) -> torch.Tensor:
        """Teacher-forced logits (B, k, V) at the language suffix ``EOT s_{k+1} .. s_m`` after the
        stage's thoughts: position ``j`` predicts ``s_{k+j+1}`` (the last one the answer). Uses the
        cache when ``kv_cache``."""
        self._check(batch)
        stage = self._stage(stage)
        suffix_in, _ = self.language_suffix(batch, stage)
        n = self.n_thoughts(stage)
        if self.kv_cache:
            _, state, _ = self.cached_thoughts(self.prefix(batch), n)
            return embeds_with_state(self.model, self.embed(suffix_in), state)[1]
        head, _ = self.thoughts(self.prefix(batch), n)
        k = suffix_in.shape[1]
        return self.run(torch.cat([head, self.embed(suffix_in)], 1)).logits[:, -k:]

    def _check(self, batch):
        m = check_batch(batch)
        if m != self.cot_steps:
            raise ValueError(f"Coconut built for {self.cot_steps} CoT steps, the batch has {m}")
        return m

    def loss(self, batch, stage=None):
        self._check(batch)
        stage = self._stage(stage)
        if self.kv_cache:
            _, suffix_out = self.language_suffix(batch, stage)
            pred = self.suffix_logits(batch, stage)
            return F.cross_entropy(pred.reshape(-1, pred.shape[-1]), suffix_out.reshape(-1))
        head, _ = self.thoughts(self.prefix(batch), self.n_thoughts(stage))
        suffix_in, suffix_out = self.language_suffix(batch, stage)
        return self.suffix_loss(head, suffix_in, suffix_out)

    @torch.no_grad()
    def predict(self, batch, stage=None) -> Prediction:
        m = self._check(batch)
        stage = self._stage(stage)
        n = self.n_thoughts(stage)
        ans = batch["answer"]
        if self.kv_cache:
            written = self._cached_greedy(batch, n, m - stage + 1)
        else:
            head, _ = self.thoughts(self.prefix(batch), n)
            head = torch.cat([head, self.embed(tokens(ans.shape[0], EOT, ans))], 1)
            written = self.greedy_after(head, m - stage + 1)  # remaining steps, then the answer
        return Prediction(
            written[:, -1], torch.full((ans.shape[0],), m - stage + 1), thoughts=n, steps=written
        )

    def _cached_greedy(self, batch, n: int, n_tokens: int) -> torch.Tensor:
        """:meth:`greedy_after` on the cached path: thoughts, ``EOT``, then one step per token."""
        _, state, _ = self.cached_thoughts(self.prefix(batch), n)
        ans = batch["answer"]
        inp = self.embed(tokens(ans.shape[0], EOT, ans))
        out = []
        for _ in range(n_tokens):
            _, logits, state = embeds_with_state(self.model, inp, state)
            tok = logits[:, -1].argmax(-1)
            out.append(tok)
            inp = self.embed(tok[:, None])
        return torch.stack(out, 1)

    def read_thought(self, thought: torch.Tensor) -> torch.Tensor:
        """``softmax(head(thought))``: the distribution over the vocabulary a thought decodes to."""
        head = getattr(self.model, "head", None)
        if head is None:
            raise ValueError(
                f"reading a thought needs the model's output head; {type(self.model).__name__} has none"
            )
        return torch.softmax(head(thought).float(), -1)


def frontier_mass(probs: torch.Tensor, groups: dict[str, list[int]]) -> dict[str, float]:
    """Total probability of each group of tokens in ``probs`` (vocab,): e.g. frontier vs other nodes."""
    if probs.dim() != 1:
        raise ValueError(f"frontier_mass expects one distribution (vocab,), got shape {tuple(probs.shape)}")
    return {k: float(probs[list(v)].sum()) if v else 0.0 for k, v in groups.items()}

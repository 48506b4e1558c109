"""CCoT: compressed chain of thought with continuous contemplation tokens.

"Compressed Chain of Thought: Efficient Reasoning Through Dense Representations" (Cheng and Van
Durme, arXiv 2412.13171). A model that already reasons with a discrete chain of thought (the
*teacher*, frozen) gives gold hidden states ``H^l_j`` (layer ``l``) at the positions of its ``n``
steps ``s_1 .. s_n``. For a compression ratio ``r`` in ``(0, 1]`` the method keeps

    m = ceil(r * n)      positions   i_k = ceil(k * n / m),  k = 1 .. m   (evenly spaced, i_m = n)

and trains a CCoT module (a copy of the teacher) to *generate* ``m`` continuous contemplation
tokens whose hidden states approximate the kept ones. Token ``k + 1``'s input is the last-layer
hidden state at token ``k`` (the first one's is the last hidden state at ``BOT``). Training is
teacher-forced in one parallel pass: the inputs are the gold last-layer states ``H^L_{BOT},
H^L_{i_1} .. H^L_{i_{m-1}}`` and the loss is the layer-wise normalised error

    L_ccot = mean_{l = 1 .. L}  || h^l_k - H^l_{i_k} ||^2 / Var(H^l)      (mean over k and the batch)

A DECODE module (another copy of the teacher) then reads ``question BOT z_1 .. z_m EOT`` with the
contemplation tokens ``z`` generated autoregressively by the frozen CCoT module, and is trained
with the cross-entropy of the answer. One answer token is decoded; ``m`` continuous tokens are
spent. Curriculum of :func:`seqlab.reason.train.fit`: stage 0 trains the CCoT module, stage 1
the decoder (``n_stages = 1``).

Differences from the paper at this scale: by default the kept positions are evenly spaced and
``m`` comes from ``r`` and the task's trace length; the modules are fully fine-tuned copies instead
of LoRA adapters. Two learned pieces of the paper are options (both trained in stage 0 beside
``L_ccot``, on frozen inputs, so they never change the CCoT module's gradients):

- ``scorer="learned"``: a linear scorer ``s_j = w . H^L_j + b`` over the teacher's last-layer
  states at the ``n`` CoT steps; each row keeps its top-``m`` steps (in order). Its target here
  is a stated proxy, the teacher's *occlusion importance* of each step,
  ``imp_j = CE(answer | steps with s_j -> PAD) - CE(answer | steps)`` (the rise of the teacher's
  answer loss when the step is hidden), fitted by mean squared error
  ``L_score = mean_j (s_j - imp_j)^2``.
- ``end="learned"``: an END predictor ``p_k = sigmoid(u . h^L_k + c)`` on the CCoT module's
  last-layer state at contemplation token ``k`` (detached), trained with binary cross-entropy
  to fire at the target ``m`` (label 1 at ``k = m``, 0 before). Generation then stops at the
  first token with ``p_k > 0.5`` (at most ``n`` tokens); rows stopping at different lengths are
  decoded in groups of equal length.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.reason.base import Prediction, Reasoner, check_batch, check_lm, tokens
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import BOT, EOT, PAD

SCORERS = ("even", "learned")
ENDS = ("fixed", "learned")
CCOT = Paper("Compressed Chain of Thought: Efficient Reasoning Through Dense Representations", "2412.13171")


def n_contemplation(ratio: float, cot_len: int) -> int:
    """``m = ceil(r * n)``: contemplation tokens for a chain of ``n`` steps at ratio ``r`` in (0, 1]."""
    if isinstance(ratio, bool) or not isinstance(ratio, (int, float)) or not 0 < ratio <= 1:
        raise ValueError(f"compression ratio must be a number in (0, 1], got {ratio!r}")
    if isinstance(cot_len, bool) or not isinstance(cot_len, int) or cot_len < 1:
        raise ValueError(f"the chain of thought needs >= 1 step, got {cot_len!r}")
    return max(1, math.ceil(ratio * cot_len - 1e-9))


def kept_steps(n: int, m: int) -> list[int]:
    """The 1-based steps ``i_k = ceil(k n / m)`` whose hidden states ``m`` tokens approximate."""
    if not 1 <= m <= n:
        raise ValueError(f"need 1 <= m <= n, got m={m}, n={n}")
    return [-(-k * n // m) for k in range(1, m + 1)]


def _frozen_copy(model, trainable: bool):
    out = copy.deepcopy(model)
    for p in out.parameters():
        p.requires_grad_(trainable)
    return out


@register(
    "reasoner",
    "ccot",
    implements=CCOT,
    used_by=[CCOT.title],
    description="m = ceil(r|CoT|) continuous contemplation tokens approximating the CoT's hidden states",
)
class CCoT(Reasoner):
    """Compressed contemplation tokens (see the module docstring). ``model`` is the trained teacher;
    the reasoner keeps a frozen copy of it (the caller's model is left as it is)."""

    n_stages = 1

    def __init__(self, model, cot_steps: int, ratio: float, *, scorer: str = "even", end: str = "fixed"):
        check_lm(model)
        if scorer not in SCORERS:
            raise ValueError(f"CCoT scorer must be one of {SCORERS}, got {scorer!r}")
        if end not in ENDS:
            raise ValueError(f"CCoT end must be one of {ENDS}, got {end!r}")
        model = _frozen_copy(model, False)  # the teacher is frozen
        super().__init__(model)
        self.m = n_contemplation(ratio, cot_steps)
        self.cot_steps, self.ratio = cot_steps, float(ratio)
        self.kept = kept_steps(cot_steps, self.m)
        self.ccot = _frozen_copy(model, True)
        self.decoder = _frozen_copy(model, True)
        self.scorer_kind, self.end_kind = scorer, end
        d = int(model.input_embeddings(torch.zeros(1, 1, dtype=torch.long)).shape[-1])
        self.scorer = nn.Linear(d, 1) if scorer == "learned" else None
        self.end_head = nn.Linear(d, 1) if end == "learned" else None
        self.last_lengths: torch.Tensor | None = None  # contemplation tokens per row of the last predict

    def _check(self, batch):
        n = check_batch(batch)
        if n != self.cot_steps:
            raise ValueError(f"CCoT built for {self.cot_steps} CoT steps, the batch has {n}")

    @torch.no_grad()
    def gold(self, batch) -> tuple[tuple[torch.Tensor, ...], int]:
        """The teacher's hidden states on ``question BOT s_1 .. s_n`` and the position of ``BOT``."""
        q, trace = batch["question"], batch["trace"]
        ids = torch.cat([q, tokens(q.shape[0], BOT, q), trace], 1)
        return self.run(self.embed(ids)).hidden_states, q.shape[1]

    @torch.no_grad()
    def occlusion_importance(self, batch) -> torch.Tensor:
        """``imp_j`` (B, n): the rise of the frozen teacher's answer cross-entropy on ``question BOT
        s_1 .. s_n EOT`` when step ``j`` is replaced by ``PAD`` (the scorer's proxy target)."""
        q, trace, ans = batch["question"], batch["trace"][:, : self.cot_steps], batch["answer"]
        B = q.shape[0]

        def answer_ce(steps):
            ids = torch.cat([q, tokens(B, BOT, q), steps, tokens(B, EOT, q)], 1)
            logits = self.run(self.embed(ids)).logits[:, -1]
            return F.cross_entropy(logits, ans, reduction="none")

        base = answer_ce(trace)
        cols = []
        for j in range(self.cot_steps):
            hidden = trace.clone()
            hidden[:, j] = PAD
            cols.append(answer_ce(hidden) - base)
        return torch.stack(cols, 1)

    def step_scores(self, batch) -> torch.Tensor:
        """The learned scorer's ``s_j`` (B, n) on the teacher's last-layer states at the steps."""
        if self.scorer is None:
            raise ValueError("step_scores needs CCoT(..., scorer='learned')")
        hs, bot = self.gold(batch)
        return self.scorer(hs[-1][:, bot + 1 : bot + 1 + self.cot_steps]).squeeze(-1)

    def scorer_loss(self, batch) -> torch.Tensor:
        """``L_score``: mean squared error of the scores against the occlusion importances."""
        self._check(batch)
        return ((self.step_scores(batch) - self.occlusion_importance(batch)) ** 2).mean()

    def kept_positions(self, batch) -> torch.Tensor:
        """The 1-based kept steps (B, m), ascending: evenly spaced, or each row's top-``m`` scores."""
        B = batch["question"].shape[0]
        if self.scorer is None:
            return torch.tensor(self.kept, dtype=torch.long).expand(B, -1)
        with torch.no_grad():
            top = self.step_scores(batch).topk(self.m, dim=1).indices
        return top.sort(1).values + 1

    def ccot_loss(self, batch) -> torch.Tensor:
        """Layer-wise normalised squared error of the teacher-forced contemplation tokens."""
        return self._ccot_loss_and_states(batch)[0]

    def _ccot_loss_and_states(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``L_ccot`` and the teacher-forced tokens' last-layer states (B, m, d)."""
        self._check(batch)
        hs, bot = self.gold(batch)
        pos = bot + self.kept_positions(batch)  # s_i sits at bot + i; (B, m)
        src = torch.cat([torch.full_like(pos[:, :1], bot), pos[:, :-1]], 1)

        def take(h, idx):  # h (B, T, d), idx (B, k) -> (B, k, d)
            return h.gather(1, idx[..., None].expand(-1, -1, h.shape[-1]))

        inputs = take(hs[-1], src)  # gold last-layer states feed the next token
        q = batch["question"]
        prefix = self.ccot.input_embeddings(torch.cat([q, tokens(q.shape[0], BOT, q)], 1))
        out = self.ccot.forward_embeds(torch.cat([prefix, inputs], 1)).hidden_states
        losses = []
        for layer in range(1, len(hs)):
            target = take(hs[layer], pos)
            var = hs[layer][:, : bot + self.cot_steps + 1].var().clamp_min(1e-6)
            losses.append(
                ((out[layer][:, bot + 1 :] - target) ** 2).sum(-1).mean() / (var * target.shape[-1])
            )
        return torch.stack(losses).mean(), out[-1][:, bot + 1 :]

    def end_loss(self, states: torch.Tensor) -> torch.Tensor:
        """Binary cross-entropy of the END predictor on the ``m`` contemplation states (B, m, d):
        label 1 at the last (the target ``m``), 0 before. The states are detached."""
        if self.end_head is None:
            raise ValueError("end_loss needs CCoT(..., end='learned')")
        logit = self.end_head(states.detach()).squeeze(-1)
        label = torch.zeros_like(logit)
        label[:, -1] = 1
        return F.binary_cross_entropy_with_logits(logit, label)

    def stage0_loss(self, batch) -> torch.Tensor:
        """``L_ccot`` plus, when learned, ``L_score`` and the END predictor's loss."""
        loss, states = self._ccot_loss_and_states(batch)
        if self.scorer is not None:
            loss = loss + self.scorer_loss(batch)
        if self.end_head is not None:
            loss = loss + self.end_loss(states)
        return loss

    def contemplate(self, batch, n: int | None = None) -> torch.Tensor:
        """``n`` (default ``m``) contemplation tokens (B, n, d), generated autoregressively by the
        CCoT module."""
        q = batch["question"]
        embeds = self.ccot.input_embeddings(torch.cat([q, tokens(q.shape[0], BOT, q)], 1))
        zs = []
        for _ in range(self.m if n is None else n):
            z = self.ccot.forward_embeds(embeds).hidden_states[-1][:, -1]
            zs.append(z)
            embeds = torch.cat([embeds, z[:, None]], 1)
        return torch.stack(zs, 1)

    @torch.no_grad()
    def contemplate_until_end(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokens (B, n, d) and each row's length: the first ``k`` with ``p_k > 0.5`` (else ``n``)."""
        if self.end_head is None:
            raise ValueError("contemplate_until_end needs CCoT(..., end='learned')")
        z = self.contemplate(batch, n=self.cot_steps)
        stop = torch.sigmoid(self.end_head(z).squeeze(-1)) > 0.5
        stop[:, -1] = True
        return z, stop.float().argmax(1) + 1

    def _answer_logits(self, batch, z):
        q = batch["question"]
        n = q.shape[0]
        emb = self.decoder.input_embeddings
        head = torch.cat([emb(torch.cat([q, tokens(n, BOT, q)], 1)), z, emb(tokens(n, EOT, q))], 1)
        return self.decoder.forward_embeds(head).logits[:, -1]

    def decode_loss(self, batch) -> torch.Tensor:
        self._check(batch)
        with torch.no_grad():
            z = self.contemplate(batch)
        return F.cross_entropy(self._answer_logits(batch, z), batch["answer"])

    def loss(self, batch, stage=None):
        stage = 1 if stage is None else stage
        if stage not in (0, 1):
            raise ValueError(f"CCoT stages are 0 (contemplation) and 1 (decode), got {stage!r}")
        return self.stage0_loss(batch) if stage == 0 else self.decode_loss(batch)

    @torch.no_grad()
    def predict(self, batch) -> Prediction:
        """The answer from ``m`` tokens; with ``end='learned'`` from each row's own number of tokens
        (``thoughts`` is then the largest, ``last_lengths`` holds them all)."""
        self._check(batch)
        if self.end_head is None:
            answer = self._answer_logits(batch, self.contemplate(batch)).argmax(-1)
            self.last_lengths = torch.full_like(answer, self.m)
            return Prediction(answer, torch.ones_like(answer), thoughts=self.m)
        z, lengths = self.contemplate_until_end(batch)
        answer = torch.empty_like(batch["answer"])
        for k in lengths.unique().tolist():
            rows = (lengths == k).nonzero()[:, 0]
            sub = {"question": batch["question"][rows]}
            answer[rows] = self._answer_logits(sub, z[rows, :k]).argmax(-1)
        self.last_lengths = lengths
        return Prediction(answer, torch.ones_like(answer), thoughts=int(lengths.max()))

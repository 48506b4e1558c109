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

Differences from the paper at this scale: the kept positions are evenly spaced instead of chosen
by a learned scorer; the modules are fully fine-tuned copies instead of LoRA adapters; ``m`` comes
from ``r`` and the task's trace length instead of a learned END predictor.
"""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from seqlab.reason.base import Prediction, Reasoner, check_batch, check_lm, tokens
from seqlab.registry import Paper, register
from seqlab.tasks.reasoning_base import BOT, EOT

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

    def __init__(self, model, cot_steps: int, ratio: float):
        check_lm(model)
        model = _frozen_copy(model, False)  # the teacher is frozen
        super().__init__(model)
        self.m = n_contemplation(ratio, cot_steps)
        self.cot_steps, self.ratio = cot_steps, float(ratio)
        self.kept = kept_steps(cot_steps, self.m)
        self.ccot = _frozen_copy(model, True)
        self.decoder = _frozen_copy(model, True)

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

    def ccot_loss(self, batch) -> torch.Tensor:
        """Layer-wise normalised squared error of the teacher-forced contemplation tokens."""
        self._check(batch)
        hs, bot = self.gold(batch)
        pos = [bot + i for i in self.kept]  # s_i sits at bot + i
        inputs = hs[-1][:, [bot] + pos[:-1]]  # gold last-layer states feed the next token
        q = batch["question"]
        prefix = self.ccot.input_embeddings(torch.cat([q, tokens(q.shape[0], BOT, q)], 1))
        out = self.ccot.forward_embeds(torch.cat([prefix, inputs], 1)).hidden_states
        losses = []
        for layer in range(1, len(hs)):
            target = hs[layer][:, pos]
            var = hs[layer][:, : bot + self.cot_steps + 1].var().clamp_min(1e-6)
            losses.append(
                ((out[layer][:, bot + 1 :] - target) ** 2).sum(-1).mean() / (var * target.shape[-1])
            )
        return torch.stack(losses).mean()

    def contemplate(self, batch) -> torch.Tensor:
        """The ``m`` contemplation tokens (B, m, d), generated autoregressively by the CCoT module."""
        q = batch["question"]
        embeds = self.ccot.input_embeddings(torch.cat([q, tokens(q.shape[0], BOT, q)], 1))
        zs = []
        for _ in range(self.m):
            z = self.ccot.forward_embeds(embeds).hidden_states[-1][:, -1]
            zs.append(z)
            embeds = torch.cat([embeds, z[:, None]], 1)
        return torch.stack(zs, 1)

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
        return self.ccot_loss(batch) if stage == 0 else self.decode_loss(batch)

    @torch.no_grad()
    def predict(self, batch) -> Prediction:
        self._check(batch)
        answer = self._answer_logits(batch, self.contemplate(batch)).argmax(-1)
        return Prediction(answer, torch.ones_like(answer), thoughts=self.m)

"""Continuity pretext tasks on sequences: justification, discontinuity localisation, missing section.

"Self-supervised Spatiotemporal Representation Learning by Exploiting Video Continuity" (Liang et al.;
arXiv 2112.05883), CPNet, on multichannel sequences instead of video. A clip of ``T`` steps is cut
from a sequence ``x`` at start ``s``; a *discontinuous* clip skips a section of ``m`` steps after its
first ``p`` steps:

    continuous:     x[s : s + T]
    discontinuous:  x[s : s + p] ++ x[s + p + m : s + T + m]        missing section  x[s + p : s + p + m]

One shared backbone (:class:`~seqlab.embed.trajectories.ConvSequenceEncoder`) gives per-step features
``h_1..h_T`` and the clip vector ``v``; three heads are trained jointly:

- **continuity justification**: ``softmax(W_j v)`` over {continuous, discontinuous}, cross-entropy;
- **discontinuity localisation** (discontinuous clips): a score ``w_l . h_t`` per step, softmax over the
  ``T`` steps, cross-entropy with the first step after the cut (``t = p``);
- **missing-section approximation** (discontinuous clips): ``u = g(v)`` (an MLP) should be close to the
  backbone's vector of the missing section ``e = E(x[s+p : s+p+m])`` (gradient stopped): an InfoNCE loss
  over the batch with cosine similarities / ``tau``, the other clips' missing sections as negatives (the
  paper contrasts the true missing section with other sections to avoid a collapsed target).

``L = L_just + L_loc + L_miss``. The frozen backbone is then linearly probed.
"""

from __future__ import annotations

import torch
from torch import nn

from seqlab.embed.trajectories import ConvSequenceEncoder, adam_steps
from seqlab.registry import Paper, register

CONTINUITY_PAPER = Paper(
    "Self-supervised Spatiotemporal Representation Learning by Exploiting Video Continuity", "2112.05883"
)

__all__ = ["ContinuityNetwork", "continuity_batch"]


def continuity_batch(x: torch.Tensor, clip: int, missing: int, margin: int, generator: torch.Generator):
    """Clips for the three tasks from sequences ``x`` (B, L, C); half of them (at random) discontinuous.

    Returns ``clips (B, clip, C)``, ``cut (B,)`` (1 = discontinuous), ``where (B,)`` (the step after the
    cut, ``p``; -1 for continuous clips) and ``sections (B, missing, C)`` (the removed steps; for
    continuous clips the ``missing`` steps after the clip, unused by the losses)."""
    B, L, C = x.shape
    if clip + missing > L:
        raise ValueError(
            f"a clip of {clip} plus a missing section of {missing} needs {clip + missing} steps, got {L}"
        )
    if not 1 <= margin < clip - margin:
        raise ValueError(
            f"margin must leave room for a cut: 1 <= margin < clip - margin, got {margin} for {clip}"
        )
    cut = torch.rand(B, generator=generator) < 0.5
    p = torch.randint(margin, clip - margin + 1, (B,), generator=generator)
    s = torch.randint(L - clip - missing + 1, (B,), generator=generator)
    t = torch.arange(clip)[None]
    src = s[:, None] + t + torch.where(cut[:, None] & (t >= p[:, None]), missing, 0)
    rows = torch.arange(B)[:, None]
    clips = x[rows, src]
    sec_start = torch.where(cut, s + p, s + clip)
    sections = x[rows, sec_start[:, None] + torch.arange(missing)[None]]
    where = torch.where(cut, p, torch.full_like(p, -1))
    return clips, cut.long(), where, sections


@register("embedder", "continuity_cpnet", implements=CONTINUITY_PAPER)
class ContinuityNetwork(nn.Module):
    """Shared backbone + justification, localisation and missing-section heads, trained jointly."""

    def __init__(self, channels: int, hidden: int = 32, d: int = 32, tau: float = 0.1):
        super().__init__()
        self.encoder = ConvSequenceEncoder(channels, hidden, d)
        self.justify = nn.Linear(d, 2)
        self.locate = nn.Linear(hidden, 1)
        self.approx = nn.Sequential(nn.Linear(d, d), nn.GELU(), nn.Linear(d, d))
        self.tau = tau

    def heads(self, clips: torch.Tensor):
        """``(justification logits (B, 2), localisation logits (B, T), missing-section guess (B, d))``."""
        h = self.encoder.steps(clips)
        v = self.encoder.out(h.mean(1))
        return self.justify(v), self.locate(h).squeeze(2), self.approx(v)

    def losses(self, clips, cut, where, sections) -> dict[str, torch.Tensor]:
        just, loc, guess = self.heads(clips)
        out = {"justify": nn.functional.cross_entropy(just, cut)}
        d = cut.bool()
        if d.sum() >= 2:
            out["locate"] = nn.functional.cross_entropy(loc[d], where[d])
            with torch.no_grad():
                target = self.encoder(sections[d])
            sim = nn.functional.normalize(guess[d], dim=1) @ nn.functional.normalize(target, dim=1).T
            out["missing"] = nn.functional.cross_entropy(sim / self.tau, torch.arange(int(d.sum())))
        return out

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Sequence vectors ``(N, d)`` of the (frozen) backbone."""
        return self.encoder.encode(x)

    def fit(
        self,
        sample,
        steps: int = 400,
        batch: int = 32,
        clip: int = 32,
        missing: int = 8,
        margin: int = 4,
        lr: float = 3e-3,
        seed: int = 0,
    ) -> list[float]:
        """Joint training on fresh clips: ``sample(n, generator) -> (n, L, C)``; the total loss per step."""

        def batch_loss(g):
            return sum(self.losses(*continuity_batch(sample(batch, g), clip, missing, margin, g)).values())

        return adam_steps(self, batch_loss, steps, lr, seed)

    @torch.no_grad()
    def evaluate(
        self, x: torch.Tensor, clip: int = 32, missing: int = 8, margin: int = 4, seed: int = 0
    ) -> dict:
        """Held-out accuracies: justification, exact localisation, missing section retrieved (top-1)."""
        clips, cut, where, sections = continuity_batch(
            x, clip, missing, margin, torch.Generator().manual_seed(seed)
        )
        just, loc, guess = self.heads(clips)
        d = cut.bool()
        sim = (
            nn.functional.normalize(guess[d], dim=1)
            @ nn.functional.normalize(self.encoder(sections[d]), dim=1).T
        )
        return {
            "justify": float((just.argmax(1) == cut).float().mean()),
            "locate": float((loc[d].argmax(1) == where[d]).float().mean()),
            "missing": float((sim.argmax(1) == torch.arange(int(d.sum()))).float().mean()),
            "n_missing": int(d.sum()),
        }

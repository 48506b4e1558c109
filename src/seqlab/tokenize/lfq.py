"""Binary / lookup-free quantization: bit outputs with entropy regularisation.

Papers: "To be Continuous, or to be Discrete, Those are Bits of Questions" (binary representations
with bit-level outputs) and lookup-free quantization from "Language Model Beats Diffusion --
Tokenizer Is Key to Visual Generation" (arXiv 2310.05737). With ``z`` projected to ``n`` bits::

    q_i = s * sign(z_i) (straight-through),  code = sum_i [z_i > 0] 2^i,  codebook {-s, s}^n
    p_i = P(bit_i = 1 | z) = sigmoid(4 s z_i / tau)        (softmax over the two distances)
    L_ent = E_z[H(p(.|z))] - gamma H(E_z[p(.|z)])           (confident bits, diverse codes)

``H(E_z p)`` is exact over all ``2^n`` codes for ``n <= 12`` and the per-bit upper bound above that.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.registry import Paper, register
from seqlab.tokenize.base import PAD, Quantizer, QuantizerOutput, check_codes, check_features, lazy_metrics

EXACT_ENTROPY_BITS = 12


def _binary_entropy(p: torch.Tensor) -> torch.Tensor:
    return -(p * p.clamp_min(1e-12).log() + (1 - p) * (1 - p).clamp_min(1e-12).log())


def bits_to_codes(bits: torch.Tensor) -> torch.Tensor:
    """``(..., n)`` 0/1 bits -> integer codes ``sum_i b_i 2^i``."""
    n = bits.shape[-1]
    return (bits.long() << torch.arange(n)).sum(-1)


def codes_to_bits(codes: torch.Tensor, n: int) -> torch.Tensor:
    """Integer codes -> ``(..., n)`` 0/1 bits (inverse of :func:`bits_to_codes`)."""
    return (codes[..., None].long() >> torch.arange(n)) & 1


@register(
    "tokenizer",
    "lfq",
    implements=Paper("Language Model Beats Diffusion -- Tokenizer is Key to Visual Generation", "2310.05737"),
    family="quantizer",
)
class BinaryQuantizer(Quantizer):
    """Lookup-free binary quantizer (LFQ, arXiv 2310.05737): ``n`` sign bits, entropy-regularised."""

    def __init__(
        self,
        dim: int,
        bits: int,
        scale: float = 1.0,
        entropy_weight: float = 0.1,
        diversity: float = 1.0,
        commitment: float = 0.25,
        temperature: float = 1.0,
        seed: int = 0,
    ):
        super().__init__()
        if not isinstance(bits, int) or not 1 <= bits <= 62:
            raise ValueError(f"bits must be an int in [1, 62], got {bits!r}")
        self.dim, self.bits, self.codebook_size = dim, bits, 2**bits
        self.scale, self.entropy_weight, self.diversity = scale, entropy_weight, diversity
        self.commitment, self.temperature = commitment, temperature
        with torch.random.fork_rng():  # projections initialised from ``seed``, global RNG untouched
            torch.manual_seed(seed)
            self.project_in = nn.Linear(dim, bits) if dim != bits else nn.Identity()
            self.project_out = nn.Linear(bits, dim) if dim != bits else nn.Identity()

    def entropy_terms(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean per-sample entropy, entropy of the mean code distribution) for ``z: (n, bits)``."""
        logit = 4 * self.scale * z / self.temperature
        p = torch.sigmoid(logit)
        per_sample = _binary_entropy(p).sum(-1).mean()
        if self.bits <= EXACT_ENTROPY_BITS:
            table = codes_to_bits(torch.arange(2**self.bits), self.bits).to(z.dtype)  # (2^n, n)
            logp = F.logsigmoid(logit) @ table.t() + F.logsigmoid(-logit) @ (1 - table).t()
            avg = logp.exp().mean(0)
            codebook = -(avg * avg.clamp_min(1e-12).log()).sum()
        else:
            codebook = _binary_entropy(p.mean(0)).sum()
        return per_sample, codebook

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        check_features(x, self.dim, type(self).__name__, mask)
        z = self.project_in(x)
        hard = torch.where(z > 0, self.scale, -self.scale)
        q = z + (hard - z).detach()
        codes = bits_to_codes(z.detach() > 0)
        zv = z if mask is None else z[mask]
        per_sample, codebook = self.entropy_terms(zv)
        losses = {
            "entropy": self.entropy_weight * (per_sample - self.diversity * codebook),
            "commitment": self.commitment * F.mse_loss(zv, (hard if mask is None else hard[mask]).detach()),
        }
        out = self.project_out(q)
        if mask is not None:
            codes = codes.masked_fill(~mask, PAD)
            out = out * mask[..., None]
        ent = {"sample_entropy": per_sample.detach(), "codebook_entropy": codebook.detach()}
        metrics = lazy_metrics(codes, self.codebook_size if self.bits <= 16 else None, x, out, mask,
                               lambda: {k: float(v) for k, v in ent.items()})
        return QuantizerOutput(out, codes, sum(losses.values()), losses, metrics)

    @torch.no_grad()
    def encode_bits(self, x: torch.Tensor) -> torch.Tensor:
        """``(..., bits)`` 0/1 bit outputs."""
        check_features(x, self.dim, type(self).__name__)
        return (self.project_in(x) > 0).long()

    @torch.no_grad()
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        check_features(x, self.dim, type(self).__name__, mask)
        codes = bits_to_codes(self.project_in(x) > 0)
        return codes if mask is None else codes.masked_fill(~mask, PAD)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        check_codes(codes, self.codebook_size, type(self).__name__)
        pad = codes < 0
        vals = (codes_to_bits(codes.clamp_min(0), self.bits).float() * 2 - 1) * self.scale
        return self.project_out(vals) * (~pad)[..., None]

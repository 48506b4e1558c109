"""Vector quantization (VQ-VAE codebooks) with EMA updates, k-means++ init and dead-code restart.

Paper: "Neural Discrete Representation Learning" (van den Oord et al., arXiv 1711.00937); the
rotation-trick estimator from "Restructuring Vector Quantization with the Rotation Trick" (Fifty
et al., arXiv 2410.06424). For ``z`` (one head of ``x``) and codebook ``e_1..e_K``:

    k*(z) = argmin_k |z - e_k|^2           (cosine: argmax_k <z/|z|, e_k/|e_k|>)
    loss  = beta |z - sg(e_k*)|^2 [+ |sg(z) - e_k*|^2 when the codebook is learned by gradient]
    EMA:    N_k <- g N_k + (1-g) n_k,  m_k <- g m_k + (1-g) sum_{z->k} z,  e_k = m_k / N_k
    STE:    q = z + sg(e - z)
    rotation trick: q = sg(|e|/|z| R) z with R the rotation taking z/|z| to e/|e|
                    (R = I - 2 w w^T + 2 v u^T, u = z/|z|, v = e/|e|, w = (u+v)/|u+v|)

Codes with EMA usage ``N_k < dead_threshold`` are restarted from vectors of the current batch
sampled with probability proportional to their quantization error (as k-means++ seeds). The
codebook is seeded by k-means++ + Lloyd on the first ``init_batches`` training batches.
Quantizing frames of continuous self-supervised speech features into a token sequence, the model
input of "Beyond Orthography: Automatic Recovery of Short Vowels and Dialectal Sounds in Arabic"
(catalog paper 37), is ``encode`` on ``(batch, frames, dim)`` followed by :func:`dedup_units`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.registry import Paper, register
from seqlab.tokenize.base import PAD, Quantizer, QuantizerOutput, check_codes, check_features, lazy_metrics
from seqlab.tokenize.kmeans import kmeans, squared_distances

BEYOND_ORTHOGRAPHY = "Beyond Orthography: Automatic Recovery of Short Vowels and Dialectal Sounds in Arabic"


def straight_through(z: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """Value ``e``, gradient identity to ``z``."""
    return z + (e - z).detach()


def rotation_trick(z: torch.Tensor, e: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Value ``e``; gradient ``sg(lambda R)^T g`` where ``lambda R`` maps ``z`` onto ``e``."""
    zn = z.norm(dim=-1, keepdim=True).clamp_min(eps)
    en = e.norm(dim=-1, keepdim=True)
    u = (z / zn).detach()
    v = (e / en.clamp_min(eps)).detach()
    w = F.normalize(u + v, dim=-1, eps=eps).detach()
    rz = z - 2 * w * (w * z).sum(-1, keepdim=True) + 2 * v * (u * z).sum(-1, keepdim=True)
    return (en / zn).detach() * rz


def dedup_units(codes: torch.Tensor) -> list[list[int]]:
    """Collapse runs of repeated codes in each row of ``(batch, frames)`` (PAD dropped): unit sequences."""
    if codes.dim() != 2:
        raise ValueError(f"dedup_units expects codes of shape (batch, frames), got {tuple(codes.shape)}")
    out = []
    for row in codes.tolist():
        seq: list[int] = []
        for c in row:
            if c != PAD and (not seq or seq[-1] != c):
                seq.append(c)
        out.append(seq)
    return out


@register(
    "tokenizer",
    "vq",
    implements=(
        Paper("Neural Discrete Representation Learning", "1711.00937"),
        Paper("Restructuring Vector Quantization with the Rotation Trick", "2410.06424"),
    ),
    used_by=[BEYOND_ORTHOGRAPHY],
    family="quantizer",
)
class VectorQuantizer(Quantizer):
    """Multi-head VQ codebook (Euclidean/cosine, EMA or gradient, STE/rotation trick), VQ-VAE 1711.00937.

    ``x: (..., dim)`` -> codes ``(...)`` (``heads == 1``) or ``(..., heads)``.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int,
        heads: int = 1,
        metric: str = "euclidean",
        ema: bool = True,
        decay: float = 0.99,
        commitment: float = 0.25,
        estimator: str = "ste",
        kmeans_init: bool = True,
        kmeans_iters: int = 10,
        init_batches: int = 1,
        init_max_vectors: int = 16384,
        dead_threshold: float = 0.0,
        seed: int = 0,
    ):
        super().__init__()
        if not isinstance(dim, int) or dim <= 0 or not isinstance(heads, int) or heads <= 0 or dim % heads:
            raise ValueError(
                f"dim must be a positive int divisible by heads, got dim={dim!r}, heads={heads!r}"
            )
        if not isinstance(codebook_size, int) or codebook_size < 2:
            raise ValueError(f"codebook_size must be an int >= 2, got {codebook_size!r}")
        if metric not in ("euclidean", "cosine"):
            raise ValueError(f"metric must be 'euclidean' or 'cosine', got {metric!r}")
        if estimator not in ("ste", "rotation"):
            raise ValueError(f"estimator must be 'ste' or 'rotation', got {estimator!r}")
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}")
        self.dim, self.codebook_size, self.heads = dim, codebook_size, heads
        self.head_dim = dim // heads
        self.metric, self.ema, self.decay = metric, ema, decay
        self.commitment, self.estimator = commitment, estimator
        self.kmeans_init, self.kmeans_iters = kmeans_init, kmeans_iters
        self.init_batches, self.init_max_vectors = init_batches, init_max_vectors
        self.dead_threshold = dead_threshold
        self.generator = torch.Generator().manual_seed(seed)
        embed = torch.randn(heads, codebook_size, self.head_dim, generator=self.generator)
        if metric == "cosine":
            embed = F.normalize(embed, dim=-1)
        if ema:
            self.register_buffer("embed", embed)
            self.register_buffer("embed_sum", embed.clone())
        else:
            self.embed = torch.nn.Parameter(embed)
        self.register_buffer("cluster_size", torch.ones(heads, codebook_size))
        self.register_buffer("batches_seen", torch.zeros((), dtype=torch.long))
        self._init_pool: list[torch.Tensor] = []
        self.restarts = 0

    # -- assignment -----------------------------------------------------------------------
    def _prep(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=-1) if self.metric == "cosine" else z

    def _codebook(self, dtype) -> torch.Tensor:
        e = self.embed.to(dtype)
        return F.normalize(e, dim=-1) if self.metric == "cosine" else e

    def assign(self, z: torch.Tensor) -> torch.Tensor:
        """Nearest code per head for ``z: (n, heads, head_dim)`` (already normalised for cosine)."""
        e = self._codebook(z.dtype)
        if self.heads == 1:
            zz = z[:, 0]
            if self.metric == "cosine":
                return (zz @ e[0].t()).argmax(-1)[:, None]
            return squared_distances(zz, e[0]).argmin(-1)[:, None]
        zh = z.transpose(0, 1)  # (heads, n, head_dim)
        if self.metric == "cosine":
            return torch.bmm(zh, e.transpose(1, 2)).argmax(-1).t()
        d = torch.baddbmm(e.pow(2).sum(-1)[:, None, :], zh, e.transpose(1, 2), alpha=-2.0)
        return d.argmin(-1).t()

    def assign_reference(self, z: torch.Tensor) -> torch.Tensor:
        """The same assignment by direct per-code distance sums (reference for tests)."""
        e = self._codebook(z.dtype)
        out = []
        for h in range(self.heads):
            if self.metric == "cosine":
                s = torch.stack([(z[:, h] * e[h, k]).sum(-1) for k in range(self.codebook_size)], -1)
                out.append(s.argmax(-1))
            else:
                d = torch.stack([((z[:, h] - e[h, k]) ** 2).sum(-1) for k in range(self.codebook_size)], -1)
                out.append(d.argmin(-1))
        return torch.stack(out, -1)

    def _lookup(self, codes: torch.Tensor, dtype) -> torch.Tensor:
        e = self._codebook(dtype)
        heads = torch.arange(self.heads, device=codes.device).expand_as(codes)
        return e[heads, codes]

    # -- training-time codebook maintenance -------------------------------------------------
    @torch.no_grad()
    def _maybe_init(self, z: torch.Tensor) -> None:
        if int(self.batches_seen) >= self.init_batches:
            return
        self._init_pool.append(z.detach().float())
        pool = torch.cat(self._init_pool)
        if pool.shape[0] > self.init_max_vectors:
            pool = pool[torch.randperm(pool.shape[0], generator=self.generator)[: self.init_max_vectors]]
            self._init_pool = [pool]
        if self.kmeans_init:
            if pool.shape[0] < self.codebook_size:
                raise ValueError(
                    f"k-means init of a {self.codebook_size}-code codebook needs at least "
                    f"{self.codebook_size} vectors in the first batch, got {pool.shape[0]}"
                )
            cents = [kmeans(pool[:, h], self.codebook_size, self.kmeans_iters, self.generator)
                     for h in range(self.heads)]
            self.embed.data.copy_(self._prep(torch.stack(cents)))
        codes = self.assign(pool)
        counts = self._counts(codes).float() * (z.shape[0] / pool.shape[0])
        self.cluster_size.copy_(counts)
        if self.ema:
            self.embed_sum.copy_(self.embed * counts[..., None])
        if int(self.batches_seen) + 1 >= self.init_batches:
            self._init_pool = []

    def _counts(self, codes: torch.Tensor) -> torch.Tensor:
        offs = codes + torch.arange(self.heads) * self.codebook_size
        return torch.bincount(offs.reshape(-1), minlength=self.heads * self.codebook_size).view(
            self.heads, self.codebook_size
        )

    @torch.no_grad()
    def _update(self, z: torch.Tensor, codes: torch.Tensor, e: torch.Tensor) -> None:
        counts = self._counts(codes).to(self.cluster_size.dtype)
        self.cluster_size.mul_(self.decay).add_(counts, alpha=1 - self.decay)
        if self.ema:
            offs = (codes + torch.arange(self.heads) * self.codebook_size).reshape(-1)
            sums = torch.zeros(self.heads * self.codebook_size, self.head_dim, dtype=self.embed.dtype)
            sums.index_add_(0, offs, z.reshape(-1, self.head_dim).to(self.embed.dtype))
            self.embed_sum.mul_(self.decay).add_(sums.view_as(self.embed_sum), alpha=1 - self.decay)
            self.embed.copy_(self._prep(self.embed_sum / self.cluster_size[..., None].clamp_min(1e-12)))
        if self.dead_threshold > 0:
            self._restart_dead(z, (z - e).pow(2).sum(-1))

    @torch.no_grad()
    def _restart_dead(self, z: torch.Tensor, err: torch.Tensor) -> None:
        dead = self.cluster_size < self.dead_threshold
        for h in torch.nonzero(dead.any(-1)).flatten().tolist():
            idx = torch.nonzero(dead[h]).flatten()
            # new codes go where the codebook serves the batch worst: sampled with p ~ error (k-means++ style)
            w = err[:, h].double()
            w = w / w.sum() if w.sum() > 0 else torch.full_like(w, 1.0 / w.numel())
            pick = torch.multinomial(w, idx.numel(), replacement=True, generator=self.generator)
            self.embed.data[h, idx] = self._prep(z[pick, h].detach().to(self.embed.dtype))
            self.cluster_size[h, idx] = self.dead_threshold
            if self.ema:
                self.embed_sum[h, idx] = self.embed[h, idx] * self.dead_threshold
            self.restarts += idx.numel()

    # -- public interface ---------------------------------------------------------------------
    def _flatten(self, x: torch.Tensor, mask: torch.Tensor | None):
        check_features(x, self.dim, type(self).__name__, mask)
        z = self._prep(x.reshape(-1, self.heads, self.head_dim))
        keep = None if mask is None else mask.reshape(-1)
        return z, keep

    def _shape_codes(self, codes: torch.Tensor, lead: torch.Size) -> torch.Tensor:
        return codes.reshape(*lead) if self.heads == 1 else codes.reshape(*lead, self.heads)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> QuantizerOutput:
        lead = x.shape[:-1]
        z, keep = self._flatten(x, mask)
        zv = z if keep is None else z[keep]
        if self.training:
            self._maybe_init(zv)
        codes_v = self.assign(zv.detach())
        e = self._lookup(codes_v, z.dtype)
        losses = {"commitment": self.commitment * F.mse_loss(zv, e.detach())}
        if not self.ema:
            losses["codebook"] = F.mse_loss(zv.detach(), e)
        if self.training:
            self._update(zv.detach(), codes_v, e.detach())
            self.batches_seen += 1
        est = straight_through if self.estimator == "ste" else rotation_trick
        qv = est(zv, e)
        if keep is None:
            q, codes = qv, codes_v
        else:
            q = torch.zeros_like(z).index_put((keep,), qv)
            codes = torch.full((z.shape[0], self.heads), PAD, dtype=torch.long).index_put((keep,), codes_v)
        return QuantizerOutput(
            quantized=q.reshape(*lead, self.dim),
            codes=self._shape_codes(codes, lead),
            loss=sum(losses.values()),
            losses=losses,
            metrics_fn=lazy_metrics(codes_v, self.codebook_size, zv, e),
        )

    @torch.no_grad()
    def encode(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        lead = x.shape[:-1]
        z, keep = self._flatten(x, mask)
        codes = self.assign(z)
        if keep is not None:
            codes[~keep] = PAD
        return self._shape_codes(codes, lead)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        check_codes(codes, self.codebook_size, type(self).__name__)
        if self.heads > 1 and (codes.dim() == 0 or codes.shape[-1] != self.heads):
            raise ValueError(f"{type(self).__name__} expects codes of shape (..., {self.heads}), "
                             f"got {tuple(codes.shape)}")
        c = codes.long().reshape(-1, self.heads)
        pad = c == PAD
        out = self._lookup(c.clamp_min(0), self.embed.dtype).masked_fill(pad[..., None], 0.0)
        lead = codes.shape if self.heads == 1 else codes.shape[:-1]
        return out.reshape(*lead, self.dim)

"""A spatial-temporal transformer over ``(time, space)`` token grids, with three sequence-parallel schemes.

The model (as in video transformers such as Latte/OpenSora) alternates, in every block, attention
along time (for each spatial position), attention along space (for each frame) and an MLP, each
pre-norm with a residual: for ``x`` of shape ``(B, T, S, D)``

    x <- x + Attn_T(LN(x)),   x <- x + Attn_S(LN(x)),   x <- x + MLP(LN(x)),

with bidirectional multi-head softmax attention ``softmax(q k^T / sqrt(d_h)) v`` along one axis.
Its weights are replicated on every rank; the activations are sharded over ``P`` ranks by one of:

* ``"dsp"`` -- Dynamic Sequence Parallelism ("DSP: Dynamic Sequence Parallelism for
  Multi-Dimensional Transformers", Zhao et al., arXiv 2403.10266). Activations enter sharded along
  space, so temporal attention is local; one all-to-all switches the shard to time for spatial
  attention and the MLP, and one switches it back: 2 all-to-alls of the activation per block.
* ``"ulysses"`` -- head sharding ("DeepSpeed Ulysses", Jacobs et al., arXiv 2309.14509) applied to
  the time-sharded grid: spatial attention is local; around temporal attention q, k, v go from
  time-sharded/all-heads to all-times/``H/P`` heads (one all-to-all of 3 activations) and the output
  back (one more): 4 activation-sized all-to-alls per block.
* ``"ring"`` -- ring attention ("Ring Attention with Blockwise Transformers for Near-Infinite
  Context", Liu et al., arXiv 2310.01889) on the time-sharded grid: for temporal attention each rank
  keeps its queries and passes k, v blocks around the ring ``P - 1`` times, merging the partial
  softmaxes with their log-sum-exps ``lse = log(e^{lse_a} + e^{lse_b})``,
  ``o = e^{lse_a - lse} o_a + e^{lse_b - lse} o_b``: ``2 (P - 1)`` local-activation sends per block.

An all-to-all sends ``(P - 1) / P`` of its input, so per block and pass (forward, and the same again
backward) a rank sends ``2 (P-1)/P``, ``4 (P-1)/P`` and ``2 (P-1)`` local activations for DSP,
Ulysses and ring: DSP moves half of Ulysses' volume and ``1/P`` of the ring's.
``seqlab.parallel.comm`` counts the bytes actually sent; ``benchmarks/sequence_parallel.py``
reports them. After ``backward``, :func:`seqlab.parallel.comm.sum_grads` adds the ranks' parameter
gradients, which then equal one process's.
"""

from __future__ import annotations

import math

import torch
import torch.distributed as dist
from torch import nn

from seqlab.parallel.comm import all_to_all, ring_shift
from seqlab.registry import Paper, register

SCHEMES = ("none", "dsp", "ulysses", "ring")
SHARD_DIM = {"none": None, "dsp": 2, "ulysses": 1, "ring": 1}  # which grid axis a rank's slice cuts


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Softmax attention ``(N, H, Lq, d)`` and its log-sum-exp ``(N, H, Lq, 1)``."""
    s = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
    lse = torch.logsumexp(s, dim=-1, keepdim=True)
    return torch.exp(s - lse) @ v, lse


class AxisAttention(nn.Module):
    """Multi-head self-attention along one axis (1: time, 2: space) of a ``(B, T, S, D)`` grid."""

    def __init__(self, d_model: int, n_heads: int, axis: int):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model={d_model} must be divisible by n_heads={n_heads}")
        self.h, self.axis = n_heads, axis
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, mode: str = "local", group=None) -> torch.Tensor:
        b, t, s, d = x.shape
        seq = x.transpose(1, 2) if self.axis == 1 else x  # (B, other, L, D)
        other, length = seq.shape[1], seq.shape[2]
        qkv = self.qkv(seq.reshape(b * other, length, d)).view(b * other, length, 3, self.h, d // self.h)
        qkv = qkv.permute(2, 0, 3, 1, 4)  # (3, N, H, L, dh)
        if mode == "local":
            o, _ = _attend(qkv[0], qkv[1], qkv[2])
        elif mode == "ulysses":  # sequence-sharded -> head-sharded, attend over the whole axis, back
            if self.h % dist.get_world_size(group):
                raise ValueError(f"ulysses needs n_heads={self.h} divisible by the world size")
            qkv = all_to_all(qkv, scatter_dim=2, gather_dim=3, group=group)
            o, _ = _attend(qkv[0], qkv[1], qkv[2])
            o = all_to_all(o, scatter_dim=2, gather_dim=1, group=group)
        elif mode == "ring":
            q, kv = qkv[0], qkv[1:]
            o, lse = _attend(q, kv[0], kv[1])
            for _ in range(dist.get_world_size(group) - 1):
                kv = ring_shift(kv, group)
                o_j, lse_j = _attend(q, kv[0], kv[1])
                new = torch.logaddexp(lse, lse_j)
                o = o * torch.exp(lse - new) + o_j * torch.exp(lse_j - new)
                lse = new
        else:
            raise ValueError(f"mode must be 'local', 'ulysses' or 'ring', got {mode!r}")
        o = o.transpose(1, 2).reshape(b, other, length, d)
        o = self.out(o)
        return o.transpose(1, 2) if self.axis == 1 else o


class SpatialTemporalBlock(nn.Module):
    """Temporal attention, spatial attention, MLP; pre-norm residuals."""

    def __init__(self, d_model: int, n_heads: int, mlp_ratio: float):
        super().__init__()
        self.norm_t, self.norm_s, self.norm_m = (nn.LayerNorm(d_model) for _ in range(3))
        self.attn_t = AxisAttention(d_model, n_heads, axis=1)
        self.attn_s = AxisAttention(d_model, n_heads, axis=2)
        hidden = int(mlp_ratio * d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, hidden), nn.GELU(), nn.Linear(hidden, d_model))

    def forward(self, x: torch.Tensor, scheme: str, group=None) -> torch.Tensor:
        if scheme == "dsp":  # x sharded along space: time is whole here
            x = x + self.attn_t(self.norm_t(x))
            x = all_to_all(x, scatter_dim=1, gather_dim=2, group=group)  # now sharded along time
            x = x + self.attn_s(self.norm_s(x))
            x = x + self.mlp(self.norm_m(x))
            return all_to_all(x, scatter_dim=2, gather_dim=1, group=group)  # back to space shards
        temporal = {"none": "local", "ulysses": "ulysses", "ring": "ring"}[scheme]
        x = x + self.attn_t(self.norm_t(x), temporal, group)
        x = x + self.attn_s(self.norm_s(x))  # space is whole on every rank (time is sharded)
        return x + self.mlp(self.norm_m(x))


@register(
    "model",
    "spatiotemporal_transformer",
    implements=[
        Paper("DSP: Dynamic Sequence Parallelism for Multi-Dimensional Transformers", "2403.10266"),
        Paper(
            "DeepSpeed Ulysses: System Optimizations for Enabling Training of Extreme Long Sequence "
            "Transformer Models",
            "2309.14509",
        ),
        Paper("Ring Attention with Blockwise Transformers for Near-Infinite Context", "2310.01889"),
    ],
    used_by=["DSP: Dynamic Sequence Parallelism for Multi-Dimensional Transformers"],
    schemes=("none", "dsp", "ulysses", "ring"),
)
class SpatialTemporalTransformer(nn.Module):
    """``(B, T, S, D) -> (B, T, S, D)`` blocks of temporal + spatial attention (see module docstring)."""

    def __init__(self, d_model: int = 32, n_heads: int = 4, n_layers: int = 2, mlp_ratio: float = 2.0):
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        self.d_model = d_model
        self.blocks = nn.ModuleList(
            SpatialTemporalBlock(d_model, n_heads, mlp_ratio) for _ in range(n_layers)
        )
        self.norm = nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, scheme: str = "none", group=None) -> torch.Tensor:
        """``x`` is this rank's shard: whole for ``"none"``, a slice of space (dim 2) for ``"dsp"``,
        a slice of time (dim 1) for ``"ulysses"`` and ``"ring"`` (see :func:`shard_grid`)."""
        if scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[-1] != self.d_model:
            raise ValueError(
                f"expected x of shape (batch, time, space, {self.d_model}), got {getattr(x, 'shape', x)}"
            )
        if scheme != "none" and not dist.is_initialized():
            raise ValueError(
                f"scheme {scheme!r} needs an initialised process group; use 'none' in one process"
            )
        for block in self.blocks:
            x = block(x, scheme, group)
        return self.norm(x)


def shard_grid(x: torch.Tensor, scheme: str, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s slice of a whole grid ``(B, T, S, D)`` in the layout ``scheme`` expects."""
    dim = SHARD_DIM.get(scheme, "bad")
    if dim == "bad":
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if dim is None or world == 1:
        return x
    if x.shape[dim] % world:
        raise ValueError(
            f"scheme {scheme!r} shards grid dim {dim} (size {x.shape[dim]}); it must divide by world={world}"
        )
    return x.chunk(world, dim=dim)[rank]

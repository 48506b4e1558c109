"""Semantic IDs: hierarchical codes for a catalogue of item embeddings, unique by construction.

Paper: "Generative Recommendation with Semantic IDs: A Practitioner's Handbook" (the GRID pipeline);
RQ-VAE from arXiv 2107.14795. For item embeddings ``v_1..v_N``::

    (c_1, ..., c_L)(v) = residual quantization of v (RQ-VAE on an MLP latent, or residual k-means)
    id(v) = (c_1, ..., c_L, d),  d = rank of v among the items sharing (c_1..c_L)  (disambiguation)

Reported: unique-tuple rate ``|{(c_1..c_L)}| / N`` before disambiguation and per-level perplexity.
:meth:`SemanticIDs.trie` holds the valid IDs for constrained decoding
(:class:`seqlab.tokenize.trie.PrefixTrie`).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from seqlab.registry import Paper, register
from seqlab.tokenize.base import check_features, codebook_stats
from seqlab.tokenize.rvq import SEMANTIC_IDS, ResidualKMeans, ResidualVQ
from seqlab.tokenize.trie import PrefixTrie

METHODS = ("residual-kmeans", "rq-vae")


def _atomic_write(path: Path, write) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def disambiguate(raw: torch.Tensor) -> torch.Tensor:
    """Append a digit ranking items that share a code tuple (0 for the first/only one)."""
    digit = torch.zeros(raw.shape[0], dtype=torch.long)
    seen: dict[tuple, int] = {}
    for i, t in enumerate(map(tuple, raw.tolist())):
        digit[i] = seen.get(t, 0)
        seen[t] = digit[i].item() + 1
    return torch.cat([raw, digit[:, None]], 1)


class _RQVAE(nn.Module):
    """MLP encoder -> residual VQ -> MLP decoder, trained to reconstruct item embeddings."""

    def __init__(self, dim, latent, hidden, codebook_size, levels, seed):
        super().__init__()
        with torch.random.fork_rng():  # weights from ``seed``, global RNG untouched
            torch.manual_seed(seed)
            self.enc = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, latent))
            self.dec = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, dim))
        self.rvq = ResidualVQ(latent, codebook_size, levels, seed=seed, dead_threshold=0.05)

    def fit(self, x, steps, batch_size, lr, generator):
        opt = torch.optim.Adam([p for n, p in self.named_parameters() if "rvq" not in n], lr=lr)
        self.train()
        for _ in range(steps):
            b = x[torch.randint(x.shape[0], (min(batch_size, x.shape[0]),), generator=generator)]
            out = self.rvq(self.enc(b))
            loss = (self.dec(out.quantized) - b).pow(2).mean() + out.loss
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.eval()

    @torch.no_grad()
    def encode(self, x):
        return self.rvq.encode(self.enc(x))


@register(
    "tokenizer", "semantic-ids", implements=Paper(SEMANTIC_IDS, "2507.22224"), used_by=[SEMANTIC_IDS],
    family="catalogue",
)
class SemanticIDs:
    """Semantic IDs (GRID handbook): RQ-VAE or residual k-means codes + a disambiguation digit.

    ``fit(embeddings)`` then ``encode(items) -> ids (n, levels + 1)``, ``decode(ids) -> items``.
    """

    def __init__(self, levels: int = 3, codebook_size: int = 256, method: str = "residual-kmeans",
                 seed: int = 0, steps: int = 300, batch_size: int = 1024):
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        ok = isinstance(levels, int) and levels >= 1 and isinstance(codebook_size, int) and codebook_size >= 2
        if not ok:
            raise ValueError(f"need levels >= 1 and codebook_size >= 2, got {levels!r}, {codebook_size!r}")
        self.levels, self.codebook_size, self.method = levels, codebook_size, method
        self.seed, self.steps, self.batch_size = seed, steps, batch_size
        self.raw: torch.Tensor | None = None
        self.ids: torch.Tensor | None = None
        self._index: dict[tuple, int] = {}

    def fit(self, embeddings: torch.Tensor, rqvae_latent: int = 32, rqvae_hidden: int = 128,
            lr: float = 1e-3):
        if embeddings.dim() != 2:
            raise ValueError(
                f"SemanticIDs expects item embeddings (num_items, dim), got {tuple(embeddings.shape)}"
            )
        check_features(embeddings, embeddings.shape[-1], "SemanticIDs")
        if embeddings.shape[0] < self.codebook_size:
            raise ValueError(f"SemanticIDs needs at least codebook_size={self.codebook_size} items to fit "
                             f"the codebooks, got {embeddings.shape[0]}")
        g = torch.Generator().manual_seed(self.seed)
        x = embeddings.float()
        if self.method == "residual-kmeans":
            rk = ResidualKMeans(x.shape[1], self.codebook_size, self.levels, seed=self.seed)
            raw = rk.fit(x, batch_size=self.batch_size, steps=self.steps, generator=g).encode(x)
        else:
            model = _RQVAE(x.shape[1], rqvae_latent, rqvae_hidden, self.codebook_size, self.levels, self.seed)
            model.fit(x, self.steps, self.batch_size, lr, g)
            raw = model.encode(x)
        self._set(raw.long())
        return self

    def _set(self, raw: torch.Tensor) -> None:
        self.raw = raw
        self.ids = disambiguate(raw)
        self._index = {tuple(r): i for i, r in enumerate(self.ids.tolist())}

    def _fitted(self) -> torch.Tensor:
        if self.ids is None:
            raise ValueError("SemanticIDs has no mapping yet: call fit(embeddings) or load(path)")
        return self.ids

    @property
    def num_items(self) -> int:
        return self._fitted().shape[0]

    def encode(self, items) -> torch.Tensor:
        """IDs ``(n, levels + 1)`` of item indices ``items``."""
        ids = self._fitted()
        items = torch.as_tensor(items, dtype=torch.long)
        if ((items < 0) | (items >= ids.shape[0])).any():
            raise ValueError(
                f"item indices must be in [0, {ids.shape[0]}), got {items.flatten()[:5].tolist()}"
            )
        return ids[items]

    def decode(self, ids) -> torch.Tensor:
        """Item indices of ID rows ``(n, levels + 1)``; a ``ValueError`` names any invalid ID."""
        width = self._fitted().shape[1]
        ids = torch.as_tensor(ids, dtype=torch.long)
        if ids.dim() != 2 or ids.shape[1] != width:
            raise ValueError(f"SemanticIDs.decode expects IDs of shape (n, {width}), got {tuple(ids.shape)}")
        out = []
        for row in map(tuple, ids.tolist()):
            if row not in self._index:
                raise ValueError(f"ID {row} names no item (not in the mapping of {self.num_items} items)")
            out.append(self._index[row])
        return torch.tensor(out, dtype=torch.long)

    def trie(self) -> PrefixTrie:
        return PrefixTrie(self._fitted().tolist())

    def report(self) -> dict[str, float]:
        """Unique-tuple rate before disambiguation, collisions, per-level perplexity."""
        raw = self.raw if self.raw is not None else self._fitted()[:, :-1]
        n_unique = len({tuple(r) for r in raw.tolist()})
        rep = {
            "items": float(raw.shape[0]),
            "unique_tuple_rate": n_unique / raw.shape[0],
            "colliding_items": float(raw.shape[0] - n_unique),
            "max_disambiguation_digit": float(self._fitted()[:, -1].max()),
        }
        for i in range(raw.shape[1]):
            rep[f"perplexity_{i}"] = codebook_stats(raw[:, i], self.codebook_size)["perplexity"]
        return rep

    def save(self, directory) -> None:
        """``semantic_ids.safetensors`` (raw codes + IDs) and ``semantic_ids.json``, written atomically."""
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        ids = self._fitted()
        tensors = {"ids": ids.contiguous(), "raw": self.raw.contiguous()}
        meta = {"levels": self.levels, "codebook_size": self.codebook_size, "method": self.method,
                "num_items": int(ids.shape[0])}
        _atomic_write(d / "semantic_ids.safetensors", lambda p: save_file(tensors, p))
        _atomic_write(d / "semantic_ids.json", lambda p: Path(p).write_text(json.dumps(meta, indent=1)))

    @classmethod
    def load(cls, directory) -> SemanticIDs:
        d = Path(directory)
        try:
            meta = json.loads((d / "semantic_ids.json").read_text())
            tensors = load_file(str(d / "semantic_ids.safetensors"))
        except FileNotFoundError as err:
            raise ValueError(f"no semantic-ID mapping in {d}: expected semantic_ids.json and "
                             f"semantic_ids.safetensors ({err})") from err
        except Exception as err:  # safetensors and json raise their own error types
            raise ValueError(f"malformed semantic-ID mapping in {d}: {err}") from err
        need = {"levels", "codebook_size", "method", "num_items"}
        if not need <= set(meta) or set(tensors) != {"ids", "raw"}:
            raise ValueError(f"malformed semantic-ID mapping in {d}: expected JSON keys {sorted(need)} "
                             f"and tensors ['ids', 'raw'], got {sorted(meta)} and {sorted(tensors)}")
        obj = cls(meta["levels"], meta["codebook_size"], meta["method"])
        raw = tensors["raw"].long()
        if raw.shape != (meta["num_items"], meta["levels"]):
            raise ValueError(f"malformed semantic-ID mapping in {d}: raw codes of shape {tuple(raw.shape)}, "
                             f"expected ({meta['num_items']}, {meta['levels']})")
        obj._set(raw)
        if not torch.equal(obj.ids, tensors["ids"].long()):
            raise ValueError(f"malformed semantic-ID mapping in {d}: stored IDs disagree with the raw codes")
        return obj

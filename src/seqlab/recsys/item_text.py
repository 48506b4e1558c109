"""Item embeddings from item text through MiniLM (``seqlab.lm.load("minilm-l6")``).

An item's text (title, year and genres for MovieLens) is encoded by all-MiniLM-L6-v2 and mean-pooled
over its tokens, then L2-normalised -- the sentence embedding that model is trained to give:
``e = normalize(sum_t m_t h_t / sum_t m_t)`` with ``h_t`` the last hidden states and ``m`` the mask.
These are the continuous item representations GRID quantizes into semantic IDs. Results are cached
(safetensors, keyed by a hash of the texts) under ``<seqlab cache>/recsys/``.
"""

from __future__ import annotations

import hashlib
import os
import tempfile

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file


def _cache_path(texts: list[str]):
    from seqlab.lm.weights_cache import cache_root

    h = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:16]
    d = cache_root() / "recsys"
    d.mkdir(parents=True, exist_ok=True)
    return d / f"minilm-l6-{h}.safetensors"


@torch.no_grad()
def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """L2-normalised masked mean of ``hidden`` (B, T, d) over tokens where ``mask`` (B, T) is 1."""
    m = mask.to(hidden.dtype)[..., None]
    return F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1.0), dim=-1)


def embed_texts(texts: list[str], batch_size: int = 64, cache: bool = True) -> torch.Tensor:
    """``(len(texts), 384)`` MiniLM sentence embeddings; an empty text is a ``ValueError``."""
    if not texts:
        raise ValueError("embed_texts needs at least one text")
    empty = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if empty:
        raise ValueError(f"item text is empty for items at positions {empty[:5]}: every item needs a text")
    path = _cache_path(texts) if cache else None
    if path is not None and path.is_file():
        out = load_file(str(path))["embeddings"]
        if out.shape[0] == len(texts):
            return out
    import seqlab.lm

    lm = seqlab.lm.load("minilm-l6")
    parts = []
    for lo in range(0, len(texts), batch_size):
        ids, mask = lm.encode(texts[lo : lo + batch_size])
        parts.append(mean_pool(lm.hidden_states(ids, mask)[-1], mask))
    out = torch.cat(parts).float().contiguous()
    if path is not None:
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        os.close(fd)
        try:
            save_file({"embeddings": out}, tmp)
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
    return out

"""DenoSent: sentence embeddings from intra-sentence denoising, plus its contrastive term.

"DenoSent: A Denoising Objective for Self-Supervised Sentence Representation Learning" (Wang et
al., arXiv 2401.13621). A Transformer encoder reads a *noised* sentence ``x~`` and pools it into
one vector ``e = pool(Enc(x~))``; a Transformer decoder that sees only ``e`` (its one memory slot)
must reconstruct the clean sentence ``x`` token by token:

    L_deno = - sum_t log p(x_t | x_<t, e)

Noise is discrete -- each token deleted with probability ``p_del``, and each token moved within a
window of ``shuffle`` positions (a local shuffle) -- and continuous -- dropout on the token
embeddings plus Gaussian noise of scale ``sigma``. The contrastive term (the paper's inter-sentence
part) pulls two independently noised views of a sentence together against the other sentences of
the batch: ``L_con = CE(cos(e_i, e'_j) / tau, j = i)``; the loss is ``L_deno + lam * L_con``.

The model here is small (word vocabulary of the Lee background corpus, ``d`` 64, 2 + 2 layers)
and trains on CPU in minutes; :func:`lee_sentences` supplies the sentences. ``encode`` embeds
texts with the clean (un-noised) encoder; a document longer than ``max_len`` is embedded as the
mean of its sentences' embeddings.

The encoder, decoder and vocabulary here are shared with :mod:`seqlab.embed.nugget`.
"""

from __future__ import annotations

import math
import random
from collections import Counter

import torch
from torch import nn

from seqlab.embed.docsim import lee_background, sentences, words
from seqlab.registry import Paper, register

DENOSENT_PAPER = Paper(
    "DenoSent: A Denoising Objective for Self-Supervised Sentence Representation Learning", "2401.13621"
)
PAD, BOS, EOS, UNK = 0, 1, 2, 3


class WordVocab:
    """Word -> id with the specials PAD, BOS, EOS, UNK first."""

    def __init__(self, texts: list[str], min_count: int = 2):
        counts = Counter(w for t in texts for w in words(t))
        kept = sorted(w for w, c in counts.items() if c >= min_count)
        if not kept:
            raise ValueError(f"min_count {min_count} leaves no vocabulary from {len(texts)} texts")
        self.itos = ["<pad>", "<bos>", "<eos>", "<unk>", *kept]
        self.stoi = {w: i for i, w in enumerate(self.itos)}

    def __len__(self) -> int:
        return len(self.itos)

    def ids(self, text: str, max_len: int | None = None) -> list[int]:
        out = [self.stoi.get(w, UNK) for w in words(text)]
        return out[:max_len] if max_len else out


def lee_sentences(min_words: int = 4) -> list[str]:
    """Sentences of the (deduplicated) Lee background corpus with at least ``min_words`` words."""
    docs = list(dict.fromkeys(lee_background()))
    return [s for d in docs for s in sentences(d) if len(words(s)) >= min_words]


def pad_rows(rows: list[list[int]], length: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded ids ``(B, T)`` and a mask of real tokens."""
    T = length or max(1, max(len(r) for r in rows))
    ids = torch.full((len(rows), T), PAD, dtype=torch.long)
    for i, r in enumerate(rows):
        r = r[:T]
        if r:
            ids[i, : len(r)] = torch.tensor(r)
    return ids, ids != PAD


def sinusoid(T: int, d: int) -> torch.Tensor:
    """Fixed sinusoidal positions ``(T, d)`` (any length works at test time)."""
    pos = torch.arange(T, dtype=torch.float)[:, None]
    freq = torch.exp(torch.arange(0, d, 2, dtype=torch.float) * (-math.log(10000.0) / d))
    pe = torch.zeros(T, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq[: d // 2])
    return pe


# -- discrete noise -------------------------------------------------------------------------------------
def delete_tokens(ids: list[int], p: float, rng: random.Random) -> list[int]:
    """Drop each token with probability ``p`` (at least one token is kept)."""
    if not 0 <= p < 1:
        raise ValueError(f"deletion probability must be in [0, 1), got {p}")
    kept = [t for t in ids if rng.random() >= p]
    return kept or ids[:1]


def local_shuffle(ids: list[int], window: int, rng: random.Random) -> list[int]:
    """Move each token by at most ``window - 1`` places: sort by ``position + U(0, window)``."""
    if window < 0:
        raise ValueError(f"shuffle window must be >= 0, got {window}")
    if window <= 1:
        return list(ids)
    keys = [i + rng.uniform(0, window) for i in range(len(ids))]
    return [t for _, t in sorted(zip(keys, ids), key=lambda kt: kt[0])]


# -- the encoder and the decoder -----------------------------------------------------------------------
class TextEncoder(nn.Module):
    """Token embedding (+ continuous noise when training) -> Transformer encoder -> token states."""

    def __init__(self, vocab_size: int, d: int = 64, layers: int = 2, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.d = d
        self.emb = nn.Embedding(vocab_size, d, padding_idx=PAD)
        layer = nn.TransformerEncoderLayer(d, heads, 4 * d, dropout, batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, ids, mask, emb_dropout: float = 0.0, sigma: float = 0.0):
        x = self.emb(ids) * math.sqrt(self.d)
        if emb_dropout > 0:
            x = nn.functional.dropout(x, emb_dropout, training=True)
        if sigma > 0:
            x = x + sigma * torch.randn_like(x)
        x = x + sinusoid(ids.shape[1], self.d)
        return self.norm(self.enc(x, src_key_padding_mask=~mask))


class TextDecoder(nn.Module):
    """Causal Transformer decoder reading only ``memory`` ``(B, S, d)``; ``memory_bias`` ``(B, S)``
    is added to the cross-attention logits (Nugget's score path; zero for DenoSent)."""

    def __init__(self, vocab_size: int, d: int = 64, layers: int = 2, heads: int = 4, dropout: float = 0.1):
        super().__init__()
        self.d, self.heads = d, heads
        self.emb = nn.Embedding(vocab_size, d, padding_idx=PAD)
        layer = nn.TransformerDecoderLayer(d, heads, 4 * d, dropout, batch_first=True, norm_first=True)
        self.dec = nn.TransformerDecoder(layer, layers)
        self.out = nn.Linear(d, vocab_size)

    def forward(self, inp, memory, memory_mask=None, memory_bias=None):
        B, T = inp.shape
        x = self.emb(inp) * math.sqrt(self.d) + sinusoid(T, self.d)
        causal = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        S = memory.shape[1]
        bias = torch.zeros(B, S) if memory_bias is None else memory_bias
        if memory_mask is not None:
            bias = bias.masked_fill(~memory_mask, float("-inf"))
        cross = bias[:, None, None, :].expand(B, self.heads, T, S).reshape(B * self.heads, T, S)
        h = self.dec(x, memory, tgt_mask=causal, memory_mask=cross, tgt_is_causal=True)
        return self.out(h)


def reconstruction_loss(
    decoder: TextDecoder, clean: torch.Tensor, memory, memory_mask=None, memory_bias=None
):
    """Teacher-forced ``-mean_t log p(x_t | x_<t, memory)`` over the clean sentence plus EOS."""
    B = clean.shape[0]
    lengths = (clean != PAD).sum(1)
    target = torch.cat([clean, torch.full((B, 1), PAD)], 1)
    target[torch.arange(B), lengths] = EOS
    inp = torch.cat([torch.full((B, 1), BOS), clean], 1)
    logits = decoder(inp, memory, memory_mask, memory_bias)
    return nn.functional.cross_entropy(
        logits.reshape(-1, logits.shape[-1]), target.reshape(-1), ignore_index=PAD
    )


# -- DenoSent ------------------------------------------------------------------------------------------
@register("embedder", "denosent", implements=DENOSENT_PAPER)
class DenoSent(nn.Module):
    """Intra-sentence denoising (discrete + continuous noise) with an optional contrastive term."""

    def __init__(
        self,
        d: int = 64,
        layers: int = 2,
        p_del: float = 0.15,
        shuffle: int = 3,
        emb_dropout: float = 0.1,
        sigma: float = 0.05,
        contrastive: float = 1.0,
        tau: float = 0.05,
        steps: int = 300,
        batch_size: int = 32,
        lr: float = 1e-3,
        max_len: int = 32,
        min_count: int = 2,
        seed: int = 0,
    ):
        super().__init__()
        if not 0 <= p_del < 1 or shuffle < 0 or contrastive < 0 or steps < 1 or batch_size < 2:
            raise ValueError(
                "DenoSent needs 0 <= p_del < 1, shuffle >= 0, contrastive >= 0, steps >= 1, batch >= 2"
            )
        self.cfg = dict(
            d=d,
            layers=layers,
            p_del=p_del,
            shuffle=shuffle,
            emb_dropout=emb_dropout,
            sigma=sigma,
            contrastive=contrastive,
            tau=tau,
            steps=steps,
            batch_size=batch_size,
            lr=lr,
            max_len=max_len,
            min_count=min_count,
            seed=seed,
        )
        self.vocab: WordVocab | None = None
        self.history: list[float] = []

    def noised(self, ids: list[int], rng: random.Random) -> list[int]:
        return local_shuffle(delete_tokens(ids, self.cfg["p_del"], rng), self.cfg["shuffle"], rng)

    def embed_ids(self, ids, mask, noise: bool = False) -> torch.Tensor:
        c = self.cfg
        h = self.encoder(ids, mask, c["emb_dropout"] if noise else 0.0, c["sigma"] if noise else 0.0)
        m = mask.float()[..., None]
        return (h * m).sum(1) / m.sum(1).clamp(min=1)

    def loss(self, batch: list[list[int]], rng: random.Random) -> torch.Tensor:
        c = self.cfg
        clean, _ = pad_rows(batch)
        v1 = pad_rows([self.noised(b, rng) for b in batch])
        e1 = self.embed_ids(*v1, noise=True)
        loss = reconstruction_loss(self.decoder, clean, e1[:, None])
        if c["contrastive"] > 0:
            v2 = pad_rows([self.noised(b, rng) for b in batch])
            e2 = self.embed_ids(*v2, noise=True)
            n = nn.functional.normalize
            logits = n(e1, dim=-1) @ n(e2, dim=-1).T / c["tau"]
            loss = loss + c["contrastive"] * nn.functional.cross_entropy(logits, torch.arange(len(batch)))
        return loss

    def fit(self, texts: list[str] | None = None) -> DenoSent:
        """Train on ``texts`` (default: the Lee background sentences)."""
        c = self.cfg
        texts = lee_sentences() if texts is None else list(texts)
        if len(texts) < 2:
            raise ValueError(f"DenoSent.fit needs at least 2 sentences, got {len(texts)}")
        torch.manual_seed(c["seed"])
        self.vocab = WordVocab(texts, c["min_count"])
        self.encoder = TextEncoder(len(self.vocab), c["d"], c["layers"])
        self.decoder = TextDecoder(len(self.vocab), c["d"], c["layers"])
        rows = [r for r in (self.vocab.ids(t, c["max_len"]) for t in texts) if r]
        rng = random.Random(c["seed"])
        opt = torch.optim.AdamW(self.parameters(), lr=c["lr"])
        self.train()
        for _ in range(c["steps"]):
            batch = rng.sample(rows, min(c["batch_size"], len(rows)))
            loss = self.loss(batch, rng)
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(self.parameters(), 1.0)
            opt.step()
            self.history.append(float(loss.detach()))
        self.eval()
        return self

    @torch.no_grad()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """Clean-encoder embeddings ``(N, d)``; a text longer than ``max_len`` words is the mean of
        its sentences' embeddings."""
        if self.vocab is None:
            raise ValueError("DenoSent is not fitted: call fit() first")
        return encode_by_sentences(texts, self.vocab, self.cfg["max_len"], lambda i, m: self.embed_ids(i, m))


def encode_by_sentences(texts, vocab: WordVocab, max_len: int, embed) -> torch.Tensor:
    """Embed each text (its sentences averaged when it is longer than ``max_len`` words)."""
    if isinstance(texts, str) or not texts or not all(isinstance(t, str) for t in texts):
        raise ValueError(f"encode expects a non-empty list of strings, got {texts!r}")
    out = []
    for t in texts:
        parts = [t] if len(words(t)) <= max_len else sentences(t)
        rows = [vocab.ids(p, max_len) or [UNK] for p in parts]
        out.append(embed(*pad_rows(rows)).mean(0))
    return torch.stack(out)

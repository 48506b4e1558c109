"""Playlist embeddings ("Representation, Exploration and Recommendation of Music Playlists", Papreja et
al., arXiv 1907.01098): a sequence-to-sequence autoencoder whose bottleneck is a fixed-length
embedding of an item sequence, probed for what it holds and used to recommend by nearest playlist.

- **Playlists**: each user's training history cut into consecutive pieces of ``min_len..max_len``
  items (lengths drawn with the seed) -- the paper's playlists are sentences and songs words; here
  a user's films in rating order play the part.
- **Seq2seq**: a GRU encoder reads the items, its last hidden state is the embedding
  ``z = GRU_enc(E[i_1..i_n])_n``; a GRU decoder started from ``z`` reconstructs the same sequence with
  teacher forcing, ``-sum_t log softmax(V h_t)[i_t]`` with ``h_t = GRU_dec(E[i_{t-1}], h_{t-1})``,
  ``h_0 = z``, ``i_0 = BOS``. No attention, so everything the decoder needs must pass through ``z``.
- **Baselines of the paper's comparison**: the bag of items (mean of the trained item embeddings,
  order-free) and the same encoder untrained.
- **Probe tasks** (:func:`probe_labels`): from an embedding, a ridge linear probe predicts the
  playlist's dominant genre, its popularity tertile (mean log training count), its length tertile
  and whether its order is the original or reversed (order sensitivity; the bag is blind to it).
- **Recommendation by nearest playlist**: the user's last ``max_len`` items are embedded, the
  ``neighbours`` most cosine-similar training playlists are found, and item ``i`` scores
  ``sum_k cos_k 1[i in playlist_k]`` (ties by popularity).

Not here: the paper's Spotify/8tracks data and audio features, its hierarchical and attention
variants, and the t-SNE exploration.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.recsys.base import ScoringRecommender, check_histories
from seqlab.recsys.data import PAD, Split
from seqlab.registry import Paper, register

PLAYLIST_TITLE = "Representation, Exploration and Recommendation of Music Playlists"


def cut_playlists(sequences, min_len: int, max_len: int, seed: int = 0) -> list[torch.Tensor]:
    """Consecutive pieces of each sequence with lengths drawn uniformly from ``min_len..max_len``;
    a tail shorter than ``min_len`` is dropped. Every returned piece is a slice of one sequence."""
    if not isinstance(min_len, int) or not isinstance(max_len, int) or not 2 <= min_len <= max_len:
        raise ValueError(f"need ints 2 <= min_len <= max_len, got {min_len!r}, {max_len!r}")
    g = torch.Generator().manual_seed(seed)
    out = []
    for seq in sequences:
        start = 0
        while True:
            n = int(torch.randint(min_len, max_len + 1, (1,), generator=g))
            if start + n > seq.numel():
                n = seq.numel() - start
                if n >= min_len:
                    out.append(seq[start:])
                break
            out.append(seq[start : start + n])
            start += n
    if not out:
        raise ValueError(f"no sequence has >= {min_len} items: no playlists")
    return out


def _pad(seqs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    lens = torch.tensor([s.numel() for s in seqs])
    out = torch.zeros(len(seqs), int(lens.max()), dtype=torch.long)
    for r, s in enumerate(seqs):
        out[r, : s.numel()] = s
    return out, lens


class Seq2SeqAutoencoder(nn.Module):
    """GRU encoder -> embedding ``z`` -> GRU decoder reconstructing the sequence."""

    def __init__(self, vocab: int, d_item: int = 32, d_model: int = 64):
        super().__init__()
        self.bos = vocab  # one extra id
        self.items = nn.Embedding(vocab + 1, d_item, padding_idx=PAD)
        self.encoder = nn.GRU(d_item, d_model, batch_first=True)
        self.decoder = nn.GRU(d_item, d_model, batch_first=True)
        self.out = nn.Linear(d_model, vocab)

    def encode(self, seqs: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        """``z``: the encoder's hidden state after each sequence's last real item, (B, d_model)."""
        packed = nn.utils.rnn.pack_padded_sequence(
            self.items(seqs), lens, batch_first=True, enforce_sorted=False
        )
        _, h = self.encoder(packed)
        return h[-1]

    def reconstruction_logits(self, seqs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Teacher-forced decoder logits (B, L, vocab) for targets ``seqs``."""
        prev = torch.cat([torch.full_like(seqs[:, :1], self.bos), seqs[:, :-1]], 1)
        h, _ = self.decoder(self.items(prev), z[None].contiguous())
        return self.out(h)

    def loss(self, seqs: torch.Tensor, lens: torch.Tensor) -> torch.Tensor:
        logits = self.reconstruction_logits(seqs, self.encode(seqs, lens))
        return F.cross_entropy(logits.flatten(0, 1), seqs.flatten(), ignore_index=PAD)


@torch.no_grad()
def embed_sequences(model: Seq2SeqAutoencoder, seqs, kind: str = "seq2seq", batch_size: int = 512):
    """``model``'s embeddings of item sequences: the encoder's ``z`` or the bag (mean item embedding)."""
    if kind not in ("seq2seq", "bag"):
        raise ValueError(f"kind must be 'seq2seq' or 'bag', got {kind!r}")
    out = []
    for lo in range(0, len(seqs), batch_size):
        x, lens = _pad(seqs[lo : lo + batch_size])
        out.append(model.encode(x, lens) if kind == "seq2seq" else model.items(x).sum(1) / lens[:, None])
    return torch.cat(out)


@register("recommender", "playlist", implements=Paper(PLAYLIST_TITLE, "1907.01098"), used_by=[PLAYLIST_TITLE])
class PlaylistSeq2Seq(ScoringRecommender):
    """Seq2seq playlist embeddings; recommendation by the nearest training playlists."""

    def __init__(
        self,
        d_item: int = 32,
        d_model: int = 64,
        min_len: int = 5,
        max_len: int = 20,
        epochs: int = 4,
        batch_size: int = 64,
        lr: float = 3e-3,
        neighbours: int = 50,
        seed: int = 0,
    ):
        for name, v in (("epochs", epochs), ("batch_size", batch_size), ("neighbours", neighbours)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not isinstance(min_len, int) or not isinstance(max_len, int) or not 2 <= min_len <= max_len:
            raise ValueError(f"need ints 2 <= min_len <= max_len, got {min_len!r}, {max_len!r}")
        self.d_item, self.d_model, self.min_len, self.max_len = d_item, d_model, min_len, max_len
        self.epochs, self.batch_size, self.lr, self.k, self.seed = epochs, batch_size, lr, neighbours, seed
        self.model: Seq2SeqAutoencoder | None = None
        self.playlists: list[torch.Tensor] = []
        self.losses: list[float] = []

    def _fit(self, split: Split) -> None:
        self.playlists = cut_playlists(split.train, self.min_len, self.max_len, self.seed)
        self.counts = split.train_counts().float()
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.model = Seq2SeqAutoencoder(split.num_items + 1, self.d_item, self.d_model)
        g = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.model.train()
        for _ in range(self.epochs):
            order = torch.randperm(len(self.playlists), generator=g).tolist()
            total, steps = 0.0, 0
            for lo in range(0, len(order), self.batch_size):
                seqs, lens = _pad([self.playlists[i] for i in order[lo : lo + self.batch_size]])
                loss = self.model.loss(seqs, lens)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, steps = total + loss.item(), steps + 1
            self.losses.append(total / steps)
        self.model.eval()
        self.bank = F.normalize(self.embed(self.playlists), dim=-1)
        rows = torch.cat([torch.full((p.numel(),), r) for r, p in enumerate(self.playlists)])
        self.membership = torch.zeros(len(self.playlists), split.num_items + 1)
        self.membership[rows, torch.cat(self.playlists)] = 1.0

    @torch.no_grad()
    def embed(self, playlists, kind: str = "seq2seq", batch_size: int = 512) -> torch.Tensor:
        """Embeddings (N, d) of item sequences: ``"seq2seq"`` (the encoder's ``z``) or ``"bag"`` (mean
        of the trained item embeddings)."""
        n = self._fitted()
        playlists = check_histories(playlists, n)
        return embed_sequences(self.model, playlists, kind, batch_size)

    @torch.no_grad()
    def reconstruction_accuracy(self, playlists) -> float:
        """Token accuracy of greedy-free (teacher-forced) reconstruction of ``playlists``."""
        seqs, lens = _pad(check_histories(playlists, self._fitted()))
        logits = self.model.reconstruction_logits(seqs, self.model.encode(seqs, lens))
        mask = seqs != PAD
        return float((logits.argmax(-1)[mask] == seqs[mask]).float().mean())

    @torch.no_grad()
    def scores(self, histories) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        q = F.normalize(self.embed([h[-self.max_len :] for h in histories]), dim=-1)
        sim = q @ self.bank.T
        top = sim.topk(min(self.k, sim.shape[1]), dim=1)
        s = torch.einsum("bk,bki->bi", top.values, self.membership[top.indices])
        return s + 1e-6 * torch.log1p(self.counts)[None]


def probe_labels(playlists: list[torch.Tensor], genres: torch.Tensor, counts: torch.Tensor) -> dict:
    """Per playlist: ``genre`` (index of the most frequent genre, ties to the lower index),
    ``popularity`` and ``length`` (tertile 0/1/2 of the mean log(1 + training count) and of the
    number of items; ties split by the stable order)."""
    dom = torch.stack([genres[p].sum(0) for p in playlists])
    genre = torch.sort(-dom, dim=1, stable=True).indices[:, 0]
    pop = torch.tensor([float(torch.log1p(counts[p].double()).mean()) for p in playlists])
    length = torch.tensor([float(p.numel()) for p in playlists])
    return {"genre": genre, "popularity": tertiles(pop), "length": tertiles(length)}


def tertiles(values: torch.Tensor) -> torch.Tensor:
    """0/1/2 by rank: the lowest third, the middle third, the top third (stable ranks)."""
    rank = torch.empty(len(values), dtype=torch.long)
    rank[torch.sort(values, stable=True).indices] = torch.arange(len(values))
    return (rank * 3) // len(values)

"""GRID: generative recommendation with semantic IDs ("Generative Recommendation with Semantic IDs: A
Practitioner's Handbook", arXiv 2507.22224).

The pipeline the handbook modularises, built from seqlab parts:

1. item embeddings ``e_i`` from item text (:func:`seqlab.recsys.item_text.embed_texts`, MiniLM);
2. semantic IDs ``(c_1, ..., c_L)`` by residual quantization of ``e_i`` (``seqlab.tokenize``'s
   ``semantic-ids``: residual k-means or RQ-VAE), with a collision policy: ``"digit"`` appends the
   disambiguation digit ``d`` (the rank among items sharing the tuple), ``"none"`` keeps the raw
   tuple, so colliding items share an ID and are ranked after decoding by training popularity;
3. a token per (level, code): level ``l`` code ``c`` is token ``l K + c``, the digit ``d`` is token
   ``L K + d``, then an end-of-item token ``EOS``; a user history is the concatenation of its items'
   tokens ``c_1 .. c_L [d] EOS``;
4. a causal seqlab ``SequenceModel`` (attention, learned positions) trained by next-token
   cross-entropy on windows of ``window + 1`` consecutive items of each training history;
5. generative retrieval: the last ``window`` items as the prompt, then constrained beam search
   (``seqlab.decode``'s ``constrained_beam``) inside the trie of valid IDs -- here the IDs of items
   the user has not seen -- with ``k`` beams; the ``k`` returned IDs, best first, are the ranking.

The handbook uses an encoder-decoder (T5-style) model and a user token; this is the decoder-only
variant, without a user token.
"""

from __future__ import annotations

import torch

from seqlab.decode import PrefixTrie, generate
from seqlab.models import SequenceModel
from seqlab.recsys.base import Recommender, check_histories
from seqlab.recsys.data import Split
from seqlab.recsys.train import train_next_token
from seqlab.registry import Paper, register

GRID_TITLE = "Generative Recommendation with Semantic IDs: A Practitioner's Handbook"
COLLISIONS = ("digit", "none")


def id_tokens(codes: torch.Tensor, codebook_size: int, digits: torch.Tensor | None) -> torch.Tensor:
    """Token ids of semantic IDs: ``l * K + c_l`` per level, then ``L * K + d`` when ``digits`` given."""
    levels = codes.shape[1]
    toks = codes + torch.arange(levels) * codebook_size
    if digits is not None:
        toks = torch.cat([toks, (levels * codebook_size + digits)[:, None]], 1)
    return toks


@register("recommender", "grid", implements=Paper(GRID_TITLE, "2507.22224"), used_by=[GRID_TITLE])
class GRID(Recommender):
    """Semantic IDs from item text + a causal ID-token model + constrained beam search over the ID trie."""

    def __init__(
        self,
        levels: int = 3,
        codebook_size: int = 32,
        method: str = "residual-kmeans",
        collisions: str = "digit",
        window: int = 15,
        d_model: int = 64,
        n_layers: int = 2,
        n_heads: int = 2,
        dropout: float = 0.1,
        epochs: int = 5,
        batch_size: int = 128,
        lr: float = 2e-3,
        seed: int = 0,
        quantizer_steps: int = 1000,
        embeddings: torch.Tensor | None = None,
    ):
        if collisions not in COLLISIONS:
            raise ValueError(f"collisions must be one of {COLLISIONS}, got {collisions!r}")
        for name, v in (("window", window), ("epochs", epochs), ("levels", levels)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        self.levels, self.codebook_size, self.method, self.collisions = (
            levels,
            codebook_size,
            method,
            collisions,
        )
        self.window, self.d_model, self.n_layers, self.n_heads = window, d_model, n_layers, n_heads
        self.dropout, self.epochs, self.batch_size, self.lr, self.seed = dropout, epochs, batch_size, lr, seed
        self.quantizer_steps = quantizer_steps
        self.embeddings = embeddings
        self.model: SequenceModel | None = None
        self.losses: list[float] = []

    # -- semantic IDs --------------------------------------------------------------------------
    def _build_ids(self, split: Split) -> None:
        from seqlab.registry import create

        emb = self.embeddings
        if emb is None:
            from seqlab.recsys.item_text import embed_texts

            emb = embed_texts(split.item_text)
        if emb.dim() != 2 or emb.shape[0] != split.num_items:
            raise ValueError(
                f"GRID needs one embedding per item: ({split.num_items}, dim), got {tuple(emb.shape)}"
            )
        self.sid = create(
            "tokenizer",
            "semantic-ids",
            levels=self.levels,
            codebook_size=self.codebook_size,
            method=self.method,
            seed=self.seed,
            steps=self.quantizer_steps,
        ).fit(emb)
        digits = self.sid.ids[:, -1] if self.collisions == "digit" else None
        toks = id_tokens(self.sid.raw, self.codebook_size, digits)  # (num_items, id_len)
        self.id_len = toks.shape[1]
        n_digit = int(digits.max()) + 1 if digits is not None else 0
        self.eos = self.levels * self.codebook_size + n_digit
        self.pad = self.eos + 1
        self.vocab = self.eos + 2
        # row i = item i's tokens + EOS; row 0 (padding item) is all pad
        self.item_tokens = torch.full((split.num_items + 1, self.id_len + 1), self.pad, dtype=torch.long)
        self.item_tokens[1:, :-1] = toks
        self.item_tokens[1:, -1] = self.eos
        # ID tuple -> items sharing it (one item each with the digit); popularity breaks ties
        counts = split.train_counts()
        self.items_of: dict[tuple, list[int]] = {}
        for i, row in enumerate(toks.tolist(), start=1):
            self.items_of.setdefault(tuple(row), []).append(i)
        for items in self.items_of.values():
            items.sort(key=lambda i: (-int(counts[i]), i))
        self.id_of = {i: t for t, items in self.items_of.items() for i in items}

    def report(self) -> dict[str, float]:
        """Semantic-ID statistics: unique-tuple rate, colliding items, per-level perplexity, ID length."""
        rep = dict(self.sid.report())
        rep["id_tokens"] = float(self.id_len)
        rep["distinct_ids"] = float(len(self.items_of))
        return rep

    # -- training ------------------------------------------------------------------------------
    def windows(self, seq: torch.Tensor) -> list[torch.Tensor]:
        """Token windows of ``window + 1`` items, from the end backwards by ``window`` items (the
        first one right-padded), so that each item after the first is predicted once."""
        n, w = seq.numel(), self.window
        out, end = [], n
        while end > 1:
            start = max(0, end - w - 1)
            toks = self.item_tokens[seq[start:end]].flatten()
            full = (w + 1) * (self.id_len + 1)
            if toks.numel() < full:
                toks = torch.cat([toks, torch.full((full - toks.numel(),), self.pad, dtype=torch.long)])
            out.append(toks)
            end = start + 1
        return out

    def _fit(self, split: Split) -> None:
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self._build_ids(split)
            span = (self.window + 1) * (self.id_len + 1)
            self.model = SequenceModel(
                mixer="attention",
                d_model=self.d_model,
                n_layers=self.n_layers,
                vocab_size=self.vocab,
                pos_enc="learned",
                max_len=span,
                dropout=self.dropout,
                mixer_cfg={"n_heads": self.n_heads, "pos": "none"},
            )
            rows = torch.stack([w for seq in split.train if seq.numel() >= 2 for w in self.windows(seq)])
            self.losses = train_next_token(
                self.model,
                rows[:, :-1].contiguous(),
                rows[:, 1:].contiguous(),
                epochs=self.epochs,
                batch_size=self.batch_size,
                lr=self.lr,
                seed=self.seed,
                pad=self.pad,
            )

    # -- retrieval -----------------------------------------------------------------------------
    def trie(self, exclude=()) -> PrefixTrie:
        """The trie of the IDs that name at least one item not in ``exclude``."""
        ex = {int(i) for i in exclude}
        ids = [t for t, items in self.items_of.items() if any(i not in ex for i in items)]
        if not ids:
            raise ValueError("no valid continuation: every item of the catalogue is excluded for this user")
        return PrefixTrie(ids)

    def prompt(self, history: torch.Tensor) -> torch.Tensor:
        return self.item_tokens[history[-self.window :]].flatten()[None]

    @torch.no_grad()
    def generate_ids(self, history: torch.Tensor, k: int, trie: PrefixTrie | None) -> list[tuple[int, ...]]:
        """The ``k`` best IDs after ``history`` (constrained to ``trie``; plain beam search when None)."""
        prompt = self.prompt(history)
        if trie is None:
            out = generate(
                self.model,
                prompt,
                "beam",
                num_beams=k,
                num_return_sequences=k,
                max_new_tokens=self.id_len + 1,
                eos_token_id=self.eos,
                pad_token_id=self.pad,
            )
        else:
            out = generate(
                self.model,
                prompt,
                "constrained_beam",
                trie=trie,
                num_beams=k,
                num_return_sequences=k,
                max_new_tokens=self.id_len + 1,
                eos_token_id=self.eos,
                pad_token_id=self.pad,
            )
        return [tuple(r) for r in out[:, prompt.shape[1] : prompt.shape[1] + self.id_len].tolist()]

    def recommend(self, histories, k: int, exclude_seen: bool = True) -> torch.Tensor:
        """Ranked ``(users, k)`` items: each user's top-``k`` IDs by constrained beam search (``k`` beams),
        expanded to their items; a row the beams cannot fill is an error, never padding.

        ``self.emitted_ids`` / ``self.invalid_ids`` count the IDs the search returned and those that
        name no item (skipped, never recommended); :meth:`reset_counts` zeroes them."""
        n = self._fitted()
        histories = check_histories(histories, n)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
            raise ValueError(f"k must be an int in 1..{n}, got {k!r}")
        self.model.eval()
        rows = []
        for h in histories:
            seen = set(h.tolist()) if exclude_seen else set()
            trie = self.trie(seen)
            items: list[int] = []
            for t in self.generate_ids(h, min(k, len(trie)), trie):
                self.emitted_ids += 1
                if t not in self.items_of:
                    self.invalid_ids += 1
                    continue
                items.extend(i for i in self.items_of[t] if i not in seen and i not in items)
            if len(items) < k:
                raise ValueError(f"only {len(items)} unseen items reachable for a user, asked for k={k}")
            rows.append(items[:k])
        return torch.tensor(rows, dtype=torch.long)

    emitted_ids = 0
    invalid_ids = 0

    def reset_counts(self) -> None:
        self.emitted_ids = self.invalid_ids = 0

    def invalid_rate(self, histories, k: int = 10) -> float:
        """Fraction of the IDs *unconstrained* beam search returns that name no item (the failure that
        the trie rules out)."""
        self._fitted()
        histories = check_histories(histories, self.num_items)
        bad = total = 0
        for h in histories:
            for t in self.generate_ids(h, k, None):
                bad += t not in self.items_of
                total += 1
        return bad / total

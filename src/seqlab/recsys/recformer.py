"""Recformer ("Text Is All You Need: Learning Language Representations for Sequential Recommendation",
Li et al., arXiv 2305.13731): items as key-value text, one encoder for user sequences and items.

- **Items as sentences**: item ``i``'s attributes flattened as ``k_1 v_1 k_2 v_2 ...`` -- for
  MovieLens ``title <title> genre <genres> year <year>`` -- tokenised (MiniLM's WordPiece by default,
  or plain lower-case words), at most ``item_tokens`` tokens per item. No item id is used anywhere,
  so an item never seen in training still has a representation: its text.
- **Sequence input**: the last ``max_items`` items of a history flattened into one token sequence
  (oldest first), followed by a summary token ``[S]``. Each token's input is the sum of four
  embeddings, the paper's embedding layer: ``x = W_p Tok[w] + Pos[position in the flat sequence]
  + Item[item position, counted from the most recent = 1; 0 for [S]] + Type[0 summary, 1 key,
  2 value]``. ``Tok`` is MiniLM's input embedding table (384-d) of the same WordPiece tokens
  (``init="minilm"``, kept frozen unless ``freeze_tokens=False``; ``W_p`` is trained) or random
  and trained (``init="random"``).
- **Encoder**: a small transformer (seqlab ``SequenceModel``, attention mixer). The paper's encoder is
  bidirectional (Longformer) reading a leading ``[CLS]``; here attention is *causal* and the
  representation is read at the trailing ``[S]``, which sees every token and never the right
  padding (seqlab's attention has no key-padding mask).
- **Item embeddings from the same encoder**: item ``i`` alone (item position 1) gives ``v_i``; a
  history gives ``u``; the score is ``cos(u, v_i) / tau``.
- **Training**: contrastive next-item loss with in-batch negatives,
  ``-log exp(cos(u_b, v_{y_b})/tau) / sum_c exp(cos(u_b, v_{y_c})/tau)`` (duplicate targets in a
  batch are not counted as negatives), over (history prefix, next item) pairs of the training
  histories.

Not here: the paper's pre-training corpus and masked-language-model objective, its two-stage
fine-tuning with a cached item table, and Longformer's local/global attention.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models import SequenceModel
from seqlab.recsys.base import ScoringRecommender, check_histories
from seqlab.recsys.data import PAD, Split
from seqlab.registry import Paper, register

RECFORMER_TITLE = "Text Is All You Need: Learning Language Representations for Sequential Recommendation"
SUMMARY, KEY, VALUE = 0, 1, 2  # token types
_ML_TEXT = re.compile(r"^(?P<title>.*?)(?: \((?P<year>[^()]*)\))?; genres:\s*(?P<genres>.*)$")


def item_attributes(text: str) -> dict[str, str]:
    """Key-value attributes of an item text; MovieLens' ``"Title (year); genres: a, b"`` gives
    ``{"title": "Title", "genre": "a b", "year": "year"}``, any other text ``{"title": text}``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"an item needs a non-empty text, got {text!r}")
    m = _ML_TEXT.match(text.strip())
    if m is None:
        return {"title": text.strip()}
    out = {"title": m["title"].strip(), "genre": " ".join(g.strip() for g in m["genres"].split(","))}
    if m["year"]:
        out["year"] = m["year"].strip()
    return {k: v for k, v in out.items() if v}


def flatten_attributes(attrs: dict[str, str]) -> list[tuple[str, int]]:
    """``[(k_1, KEY), (v_1, VALUE), ...]``: the item "sentence" as (text piece, token type)."""
    out = []
    for k, v in attrs.items():
        out += [(k, KEY), (v, VALUE)]
    return out


class ItemTokens:
    """Every item's flattened key-value tokens: ``ids`` and ``types`` (num_items + 1, item_tokens).

    ``ids`` index a local vocabulary (0 = padding, 1 = the summary token, then every token that
    occurs); ``source_ids[j]`` is local token ``j``'s id in the source tokenizer (MiniLM) or -1.
    """

    def __init__(self, texts: list[str], item_tokens: int = 16, tokenizer: str = "minilm"):
        if tokenizer not in ("minilm", "words"):
            raise ValueError(f"tokenizer must be 'minilm' or 'words', got {tokenizer!r}")
        if not isinstance(item_tokens, int) or item_tokens < 2:
            raise ValueError(f"item_tokens must be an int >= 2, got {item_tokens!r}")
        if not texts:
            raise ValueError("ItemTokens needs at least one item text")
        pieces = [flatten_attributes(item_attributes(t)) for t in texts]
        split = self._splitter(tokenizer)
        vocab: dict = {}
        source: list[int] = [-1, -1]
        self.ids = torch.zeros(len(texts) + 1, item_tokens, dtype=torch.long)
        self.types = torch.zeros(len(texts) + 1, item_tokens, dtype=torch.long)
        for i, item in enumerate(pieces, start=1):
            toks = [(tok, typ) for piece, typ in item for tok in split(piece)][:item_tokens]
            for j, (tok, typ) in enumerate(toks):
                if tok not in vocab:
                    vocab[tok] = len(source)
                    source.append(tok if isinstance(tok, int) else -1)
                self.ids[i, j], self.types[i, j] = vocab[tok], typ
        self.vocab_size = len(source)
        self.source_ids = torch.tensor(source)
        self.tokenizer = tokenizer

    @staticmethod
    def _splitter(tokenizer: str):
        if tokenizer == "words":
            return lambda s: re.findall(r"\w+|[^\w\s]", s.lower())
        import seqlab.lm

        tok = seqlab.lm.load("minilm-l6").tokenizer
        return lambda s: tok(s, add_special_tokens=False)["input_ids"]

    @property
    def lengths(self) -> torch.Tensor:
        return (self.ids != PAD).sum(1)


class RecformerEncoder(nn.Module):
    """``encode(tokens, types, item_pos) -> (B, d)``: the state at each row's last real token ([S])."""

    def __init__(
        self,
        items: ItemTokens,
        d_model: int = 64,
        n_layers: int = 2,
        max_tokens: int = 128,
        max_items: int = 8,
        init: str = "minilm",
        dropout: float = 0.1,
        freeze_tokens: bool = True,
    ):
        super().__init__()
        if init not in ("minilm", "random"):
            raise ValueError(f"init must be 'minilm' or 'random', got {init!r}")
        if init == "minilm" and items.tokenizer != "minilm":
            raise ValueError("init='minilm' needs items tokenised with tokenizer='minilm'")
        d_tok = 384 if init == "minilm" else d_model
        self.tok = nn.Embedding(items.vocab_size, d_tok, padding_idx=PAD)
        if init == "minilm":
            import seqlab.lm

            lm = seqlab.lm.load("minilm-l6")
            src = items.source_ids.clamp(min=0)
            with torch.no_grad():
                self.tok.weight.copy_(lm.input_embeddings(src[None])[0].float())
                self.tok.weight[:2].normal_(std=0.02)
                self.tok.weight[PAD].zero_()
            self.tok.weight.requires_grad_(not freeze_tokens)
        else:
            nn.init.normal_(self.tok.weight, std=0.02)
        self.item_pos = nn.Embedding(max_items + 1, d_model)
        self.token_type = nn.Embedding(3, d_model)
        nn.init.normal_(self.item_pos.weight, std=0.02)
        nn.init.normal_(self.token_type.weight, std=0.02)
        self.backbone = SequenceModel(
            mixer="attention",
            d_model=d_model,
            n_layers=n_layers,
            d_input=d_tok,
            n_outputs=1,
            pos_enc="learned",
            max_len=max_tokens,
            dropout=dropout,
            mixer_cfg={"n_heads": 2, "pos": "none"},
            mlp_ratio=2.0,
        )

    def encode(self, tokens: torch.Tensor, types: torch.Tensor, item_pos: torch.Tensor) -> torch.Tensor:
        bb = self.backbone
        x = bb.embed(self.tok(tokens)) + self.item_pos(item_pos) + self.token_type(types)
        x = x + bb.pos(torch.arange(x.shape[1]).expand(x.shape[0], -1))
        for block in bb.blocks:
            x = block(x)
        h = bb.norm(x)
        last = (tokens != PAD).sum(1) - 1
        return h[torch.arange(h.shape[0]), last]


def flat_sequences(items: ItemTokens, histories, max_items: int):
    """The last ``max_items`` items of each history as one right-padded token row + the [S] token:
    ``(tokens, types, item_pos)``, each (B, T); item positions count from the most recent (= 1)."""
    rows = []
    for h in histories:
        h = h[-max_items:]
        n = h.numel()
        toks, typs, pos = [], [], []
        for k, i in enumerate(h.tolist()):
            m = int(items.lengths[i])
            toks.append(items.ids[i, :m])
            typs.append(items.types[i, :m])
            pos.append(torch.full((m,), n - k, dtype=torch.long))
        toks.append(torch.tensor([1]))
        typs.append(torch.tensor([SUMMARY]))
        pos.append(torch.tensor([0]))
        rows.append((torch.cat(toks), torch.cat(typs), torch.cat(pos)))
    T = max(r[0].numel() for r in rows)
    out = [torch.zeros(len(rows), T, dtype=torch.long) for _ in range(3)]
    for b, r in enumerate(rows):
        for o, v in zip(out, r, strict=True):
            o[b, : v.numel()] = v
    return tuple(out)


@register(
    "recommender", "recformer", implements=Paper(RECFORMER_TITLE, "2305.13731"), used_by=[RECFORMER_TITLE]
)
class Recformer(ScoringRecommender):
    """Text-only sequential recommender: one encoder for histories and items (module docstring)."""

    def __init__(
        self,
        d_model: int = 64,
        n_layers: int = 2,
        max_items: int = 6,
        item_tokens: int = 12,
        tokenizer: str = "minilm",
        init: str = "minilm",
        tau: float = 0.07,
        epochs: int = 1,
        batch_size: int = 64,
        lr: float = 1e-3,
        max_steps: int | None = None,
        seed: int = 0,
        dropout: float = 0.1,
        freeze_tokens: bool = True,
    ):
        for name, v in (("max_items", max_items), ("epochs", epochs), ("batch_size", batch_size)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        self.d_model, self.n_layers, self.max_items, self.item_tokens = (
            d_model,
            n_layers,
            max_items,
            item_tokens,
        )
        self.tokenizer, self.init, self.tau, self.dropout = tokenizer, init, tau, dropout
        self.freeze_tokens = freeze_tokens
        self.epochs, self.batch_size, self.lr, self.max_steps, self.seed = (
            epochs,
            batch_size,
            lr,
            max_steps,
            seed,
        )
        self.items: ItemTokens | None = None
        self.encoder: RecformerEncoder | None = None
        self.losses: list[float] = []

    def _fit(self, split: Split) -> None:
        if len(split.item_text) != split.num_items:
            raise ValueError(
                f"Recformer needs one text per item ({split.num_items}), got {len(split.item_text)}"
            )
        self.items = ItemTokens(split.item_text, self.item_tokens, self.tokenizer)
        with torch.random.fork_rng():
            torch.manual_seed(self.seed)
            self.encoder = RecformerEncoder(
                self.items,
                self.d_model,
                self.n_layers,
                self.max_items * self.item_tokens + 1,
                self.max_items,
                self.init,
                self.dropout,
                self.freeze_tokens,
            )
        pairs = [(seq, t) for seq in split.train for t in range(1, seq.numel())]
        if not pairs:
            raise ValueError("Recformer needs training histories of >= 2 items")
        g = torch.Generator().manual_seed(self.seed)
        opt = torch.optim.Adam([p for p in self.encoder.parameters() if p.requires_grad], lr=self.lr)
        self.encoder.train()
        steps = 0
        for _ in range(self.epochs):
            order = torch.randperm(len(pairs), generator=g).tolist()
            total, count = 0.0, 0
            for lo in range(0, len(order), self.batch_size):
                batch = [pairs[i] for i in order[lo : lo + self.batch_size]]
                hist = [seq[max(0, t - self.max_items) : t] for seq, t in batch]
                target = torch.tensor([int(seq[t]) for seq, t in batch])
                loss = self.contrastive_loss(hist, target)
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, count, steps = total + loss.item(), count + 1, steps + 1
                if self.max_steps is not None and steps >= self.max_steps:
                    break
            self.losses.append(total / count)
            if self.max_steps is not None and steps >= self.max_steps:
                break
        self.encoder.eval()

    def user_vectors(self, histories) -> torch.Tensor:
        return F.normalize(
            self.encoder.encode(*flat_sequences(self.items, histories, self.max_items)), dim=-1
        )

    def item_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """``v_i``: the encoder over item ``i``'s tokens alone, then [S] (item position 1)."""
        return self.user_vectors([i.view(1) for i in torch.as_tensor(ids, dtype=torch.long)])

    def contrastive_loss(self, histories, targets: torch.Tensor) -> torch.Tensor:
        """In-batch softmax over the batch's target items (duplicates masked out as negatives)."""
        u = self.user_vectors(histories)
        v = self.item_vectors(targets)
        logits = u @ v.T / self.tau
        same = targets[:, None] == targets[None, :]
        logits = logits.masked_fill(same & ~torch.eye(len(targets), dtype=torch.bool), float("-inf"))
        return F.cross_entropy(logits, torch.arange(len(targets)))

    @torch.no_grad()
    def all_item_vectors(self, chunk: int = 512) -> torch.Tensor:
        n = self._fitted()
        ids = torch.arange(1, n + 1)
        vecs = torch.cat([self.item_vectors(ids[lo : lo + chunk]) for lo in range(0, n, chunk)])
        return torch.cat([torch.zeros(1, vecs.shape[1]), vecs])

    @torch.no_grad()
    def scores(self, histories) -> torch.Tensor:
        n = self._fitted()
        histories = check_histories(histories, n)
        if getattr(self, "_cache", None) is None:
            self._cache = self.all_item_vectors()
        s = self.user_vectors(histories) @ self._cache.T / self.tau
        s[:, PAD] = float("-inf")
        return s

    def fit(self, split: Split):
        self._cache = None
        return super().fit(split)

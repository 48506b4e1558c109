"""Recformer ("Text Is All You Need: Learning Language Representations for Sequential Recommendation",
Li et al., arXiv 2305.13731): items as key-value text, one encoder for user sequences and items.

- **Items as sentences**: item ``i``'s attributes flattened as ``k_1 v_1 k_2 v_2 ...`` -- for
  MovieLens ``title <title> genre <genres> year <year>`` -- tokenised (MiniLM's WordPiece by default,
  or plain lower-case words), at most ``item_tokens`` tokens per item. No item id is used anywhere,
  so an item never seen in training still has a representation: its text.
- **Sequence input**: the last ``max_items`` items of a history flattened into one token sequence
  plus a summary token. Each token's input is the sum of four embeddings, the paper's embedding
  layer: ``x = W_p Tok[w] + Pos[position in the flat sequence] + Item[item position, counted from
  the most recent = 1; 0 for the summary token] + Type[0 summary, 1 key, 2 value]``. ``Tok`` is
  MiniLM's input embedding table (384-d) of the same WordPiece tokens (``init="minilm"``, kept frozen
  unless ``freeze_tokens=False``; ``W_p`` is trained) or random and trained (``init="random"``).
- **Encoder**: a small transformer (seqlab ``SequenceModel`` blocks, attention mixer), in one of two
  layouts. ``bidirectional=True`` is the paper's: ``[CLS]`` first, then the items most recent first
  (the paper reverses the sequence), every token attending to every real token (padding is masked
  out of the keys), the representation read at ``[CLS]``. Longformer's local windows + global
  ``[CLS]`` attention only save compute on long inputs; at <= 6 items x 12 tokens full attention is
  the same model, so it is not built. ``bidirectional=False`` (the earlier default, kept for the
  stored claim rows) is causal, oldest item first, with the summary token last, read there.
- **Item embeddings from the same encoder**: item ``i`` alone (item position 1) gives ``v_i``; a
  history gives ``u``; the score is ``cos(u, v_i) / tau``.
- **Training**, in the paper's order (each part optional):

  1. *pre-training* (``pretrain_steps > 0``, :mod:`~seqlab.recsys.recformer_pretrain`): masked
     language modelling over the item-text tokens plus the item-item contrastive loss with in-batch
     negatives, ``L_IIC + 0.1 L_MLM``, on (history prefix, next item) pairs of the training histories
     -- here the same MovieLens histories, not the paper's separate Amazon pre-training corpus;
  2. *fine-tuning*: ``finetune="in_batch"`` (the earlier default) continues the in-batch contrastive
     loss, ``-log exp(cos(u_b, v_{y_b})/tau) / sum_c exp(cos(u_b, v_{y_c})/tau)`` (duplicate targets
     not counted as negatives) for ``epochs`` / ``max_steps``; ``finetune="two_stage"`` is the paper's
     two-stage fine-tuning (:mod:`~seqlab.recsys.recformer_finetune`): a full softmax against the
     item feature table re-encoded every epoch (stage 1), then against the table frozen (stage 2),
     with the best epoch chosen on the validation targets.

Not here: the paper's Amazon pre-training and fine-tuning corpora and its Longformer-initialised
weights (``init="minilm"`` borrows MiniLM's token embeddings only).
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from seqlab.models import SequenceModel
from seqlab.recsys.base import ScoringRecommender, check_histories
from seqlab.recsys.data import PAD, Split
from seqlab.recsys.recformer_finetune import two_stage_finetune
from seqlab.recsys.recformer_pretrain import MLMHead, in_batch_loss, mlm_loss, mlm_mask, pretrain
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
    """``encode(tokens, types, item_pos) -> (B, d)``: the state at the summary token -- position 0
    (``[CLS]``) when ``bidirectional``, else each row's last real token.

    ``mask_token=True`` adds one token-embedding row, id ``mask_id = items.vocab_size``, for MLM's
    ``[MASK]`` (MiniLM's own ``[MASK]`` embedding under ``init="minilm"``).
    """

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
        bidirectional: bool = False,
        mask_token: bool = False,
    ):
        super().__init__()
        if init not in ("minilm", "random"):
            raise ValueError(f"init must be 'minilm' or 'random', got {init!r}")
        if init == "minilm" and items.tokenizer != "minilm":
            raise ValueError("init='minilm' needs items tokenised with tokenizer='minilm'")
        self.bidirectional = bool(bidirectional)
        self.vocab_size = items.vocab_size  # real tokens: padding, summary and the item-text tokens
        self.mask_id = items.vocab_size if mask_token else None
        d_tok = 384 if init == "minilm" else d_model
        self.tok = nn.Embedding(items.vocab_size + int(mask_token), d_tok, padding_idx=PAD)
        if init == "minilm":
            import seqlab.lm

            lm = seqlab.lm.load("minilm-l6")
            src = items.source_ids.clamp(min=0)
            if mask_token:
                src = torch.cat([src, torch.tensor([lm.tokenizer.mask_token_id])])
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
            mixer_cfg={"n_heads": 2, "pos": "none", "causal": not self.bidirectional},
            mlp_ratio=2.0,
        )

    def hidden_states(
        self, tokens: torch.Tensor, types: torch.Tensor, item_pos: torch.Tensor
    ) -> torch.Tensor:
        """The last layer's (normed) state of every token, (B, T, d). Bidirectionally, each token attends
        to every non-padding token of its row (the keys of padding are masked out)."""
        bb = self.backbone
        x = bb.embed(self.tok(tokens)) + self.item_pos(item_pos) + self.token_type(types)
        x = x + bb.pos(torch.arange(x.shape[1]).expand(x.shape[0], -1))
        if not self.bidirectional:
            for block in bb.blocks:
                x = block(x)
            return bb.norm(x)
        keys = (tokens != PAD)[:, None, None, :]  # (B, 1, 1, T): broadcast over heads and queries
        for block in bb.blocks:
            q, k, v = block.mixer.project(block.norm1(x), None)
            x = x + block.drop(block.mixer.attend(q, k, v, None, None, allowed=keys))
            x = x + block.drop(block.mlp(block.norm2(x)))
        return bb.norm(x)

    def summary(self, h: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The summary token's row of ``h`` (B, T, d): position 0, or the last real token when causal."""
        if self.bidirectional:
            return h[:, 0]
        last = (tokens != PAD).sum(1) - 1
        return h[torch.arange(h.shape[0]), last]

    def encode(self, tokens: torch.Tensor, types: torch.Tensor, item_pos: torch.Tensor) -> torch.Tensor:
        return self.summary(self.hidden_states(tokens, types, item_pos), tokens)


def flat_sequences(items: ItemTokens, histories, max_items: int, cls_first: bool = False):
    """The last ``max_items`` items of each history as one right-padded token row with the summary
    token: ``(tokens, types, item_pos)``, each (B, T); item positions count from the most recent (= 1).

    ``cls_first=False``: oldest item first, the summary token after the last item. ``cls_first=True``
    (the paper's input, Eq. 1): ``[CLS]`` first, then the items most recent first.
    """
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
        summary = (torch.tensor([1]), torch.tensor([SUMMARY]), torch.tensor([0]))
        if cls_first:
            toks, typs, pos = toks[::-1], typs[::-1], pos[::-1]
            parts = [[s, *p] for s, p in zip(summary, (toks, typs, pos), strict=True)]
        else:
            parts = [[*p, s] for s, p in zip(summary, (toks, typs, pos), strict=True)]
        rows.append(tuple(torch.cat(p) for p in parts))
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
    """Text-only sequential recommender: one encoder for histories and items (module docstring).

    ``bidirectional``, ``pretrain_steps`` and ``finetune="two_stage"`` select the paper's encoder,
    pre-training and fine-tuning; the defaults are the earlier causal, in-batch-only model.
    Two-stage fine-tuning runs ``stage1_steps`` then ``stage2_steps`` steps, re-encoding the item
    table (stage 1) and validating every ``refresh_every`` steps on the validation targets of at most
    ``valid_users`` users (the first ones with a training history).
    """

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
        bidirectional: bool = False,
        pretrain_steps: int = 0,
        mlm_weight: float = 0.1,
        mlm_prob: float = 0.15,
        finetune: str = "in_batch",
        stage1_steps: int = 200,
        stage2_steps: int = 200,
        refresh_every: int = 50,
        valid_users: int = 300,
    ):
        for name, v in (
            ("max_items", max_items),
            ("epochs", epochs),
            ("batch_size", batch_size),
            ("refresh_every", refresh_every),
            ("valid_users", valid_users),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}")
        for name, v in (
            ("pretrain_steps", pretrain_steps),
            ("stage1_steps", stage1_steps),
            ("stage2_steps", stage2_steps),
        ):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ValueError(f"{name} must be an int >= 0, got {v!r}")
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        if finetune not in ("in_batch", "two_stage"):
            raise ValueError(f"finetune must be 'in_batch' or 'two_stage', got {finetune!r}")
        if finetune == "two_stage" and stage1_steps + stage2_steps == 0:
            raise ValueError("finetune='two_stage' needs stage1_steps + stage2_steps >= 1")
        if not mlm_weight >= 0:
            raise ValueError(f"mlm_weight must be >= 0, got {mlm_weight!r}")
        if not 0 < mlm_prob < 1:
            raise ValueError(f"mlm_prob must lie in (0, 1), got {mlm_prob!r}")
        self.d_model, self.n_layers, self.max_items, self.item_tokens = (
            d_model,
            n_layers,
            max_items,
            item_tokens,
        )
        self.tokenizer, self.init, self.tau, self.dropout = tokenizer, init, tau, dropout
        self.freeze_tokens, self.bidirectional = freeze_tokens, bool(bidirectional)
        self.epochs, self.batch_size, self.lr, self.max_steps, self.seed = (
            epochs,
            batch_size,
            lr,
            max_steps,
            seed,
        )
        self.pretrain_steps, self.mlm_weight, self.mlm_prob = pretrain_steps, mlm_weight, mlm_prob
        self.finetune, self.stage1_steps, self.stage2_steps = finetune, stage1_steps, stage2_steps
        self.refresh_every, self.valid_users = refresh_every, valid_users
        self.items: ItemTokens | None = None
        self.encoder: RecformerEncoder | None = None
        self.mlm_head: MLMHead | None = None
        self.losses: list[float] = []
        self.pretrain_log: list[tuple[float, float]] = []
        self.finetune_log: list[dict] = []
        self.table: torch.Tensor | None = None

    def _fit(self, split: Split) -> None:
        if len(split.item_text) != split.num_items:
            raise ValueError(
                f"Recformer needs one text per item ({split.num_items}), got {len(split.item_text)}"
            )
        self.items = ItemTokens(split.item_text, self.item_tokens, self.tokenizer)
        self.table, self.losses, self.pretrain_log, self.finetune_log = None, [], [], []
        mlm = self.pretrain_steps > 0
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
                self.bidirectional,
                mask_token=mlm,
            )
            self.mlm_head = MLMHead(self.d_model, self.items.vocab_size) if mlm else None
        pairs = [(seq, t) for seq in split.train for t in range(1, seq.numel())]
        if not pairs:
            raise ValueError("Recformer needs training histories of >= 2 items")
        with torch.random.fork_rng():  # dropout draws from the global generator: seeded, then restored
            torch.manual_seed(self.seed + 1)
            self._train(split, pairs)
        self.encoder.eval()

    def _train(self, split: Split, pairs) -> None:
        g = torch.Generator().manual_seed(self.seed)
        if self.pretrain_steps > 0:
            batches = self._batches(pairs, g)
            self.pretrain_log = pretrain(
                self, batches, self.pretrain_steps, self.mlm_weight, self.mlm_prob, self.lr, g
            )
        if self.finetune == "two_stage":
            users = [u for u, h in enumerate(split.train) if h.numel() > 0][: self.valid_users]
            self.table, self.finetune_log = two_stage_finetune(
                self,
                self._batches(pairs, g),
                self.stage1_steps,
                self.stage2_steps,
                self.refresh_every,
                self.lr,
                [split.train[u] for u in users],
                split.valid[users],
            )
        else:
            self._fit_in_batch(pairs, g)

    def _batches(self, pairs, g: torch.Generator):
        """Endless ``(histories, targets)`` batches over shuffled passes of the (prefix, next) pairs."""
        while True:
            order = torch.randperm(len(pairs), generator=g).tolist()
            for lo in range(0, len(order), self.batch_size):
                batch = [pairs[i] for i in order[lo : lo + self.batch_size]]
                hist = [seq[max(0, t - self.max_items) : t] for seq, t in batch]
                yield hist, torch.tensor([int(seq[t]) for seq, t in batch])

    def _fit_in_batch(self, pairs, g: torch.Generator) -> None:
        opt = torch.optim.Adam([p for p in self.encoder.parameters() if p.requires_grad], lr=self.lr)
        self.encoder.train()
        steps = 0
        per_epoch = -(-len(pairs) // self.batch_size)
        batches = self._batches(pairs, g)
        for _ in range(self.epochs):
            total, count = 0.0, 0
            for _ in range(per_epoch):
                hist, target = next(batches)
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

    def _inputs(self, histories):
        return flat_sequences(self.items, histories, self.max_items, cls_first=self.bidirectional)

    def user_vectors(self, histories) -> torch.Tensor:
        return F.normalize(self.encoder.encode(*self._inputs(histories)), dim=-1)

    def item_vectors(self, ids: torch.Tensor) -> torch.Tensor:
        """``v_i``: the encoder over item ``i``'s tokens alone with the summary token (item position 1)."""
        return self.user_vectors([i.view(1) for i in torch.as_tensor(ids, dtype=torch.long)])

    def masked_views(self, histories, prob: float, generator):
        """MLM on ``histories``' flat inputs: ``(unit summary vectors, summed token loss, #chosen)``."""
        tokens, types, pos = self._inputs(histories)
        inputs, labels = mlm_mask(tokens, self.encoder.mask_id, self.encoder.vocab_size, prob, generator)
        h = self.encoder.hidden_states(inputs, types, pos)
        tok_loss, n = mlm_loss(self.mlm_head, h, labels)
        return F.normalize(self.encoder.summary(h, inputs), dim=-1), tok_loss, n

    def contrastive_loss(self, histories, targets: torch.Tensor) -> torch.Tensor:
        """In-batch softmax over the batch's target items (duplicates masked out as negatives)."""
        return in_batch_loss(self.user_vectors(histories), self.item_vectors(targets), targets, self.tau)

    @torch.no_grad()
    def encode_table(self, chunk: int = 512) -> torch.Tensor:
        """Every item's unit vector from its text with the encoder as it is now, in eval mode:
        ((num_items + 1, d), row 0 zero). Two-stage fine-tuning's item feature matrix ``I``."""
        was = self.encoder.training
        self.encoder.eval()
        n = len(self.items.ids) - 1
        ids = torch.arange(1, n + 1)
        vecs = torch.cat([self.item_vectors(ids[lo : lo + chunk]) for lo in range(0, n, chunk)])
        self.encoder.train(was)
        return torch.cat([torch.zeros(1, vecs.shape[1]), vecs])

    @torch.no_grad()
    def all_item_vectors(self, chunk: int = 512) -> torch.Tensor:
        """The vectors ranked against: the frozen table of two-stage fine-tuning, else a fresh encoding."""
        self._fitted()
        return self.table if self.table is not None else self.encode_table(chunk)

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

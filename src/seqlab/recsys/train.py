"""Next-token training on item (or item-token) sequences, shared by SASRec, GRU4Rec and GRID.

:func:`item_windows` cuts a sequence into right-padded training windows ``(inputs, targets)`` of a
fixed length, targets shifted by one, so that every position after the first is a target exactly
once; :func:`train_next_token` minimises the cross-entropy over the whole vocabulary at every
non-padding target (``-log softmax(logits)[target]``, padding id ignored) with Adam.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from seqlab.recsys.data import PAD


def item_windows(seq: torch.Tensor, length: int, pad: int = PAD) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Windows ``(x, y)`` of ``length`` with ``y[t] = seq[s + t + 1]`` after ``x[t] = seq[s + t]``.

    Windows end at the sequence's end and step back by ``length``; the first (shortest) one is
    right-padded with ``pad`` in both ``x`` and ``y``. A sequence of ``n`` items yields
    ``ceil((n - 1) / length)`` windows covering targets ``seq[1:]`` once each.
    """
    if not isinstance(length, int) or length < 1:
        raise ValueError(f"window length must be an int >= 1, got {length!r}")
    seq = torch.as_tensor(seq, dtype=torch.long)
    n = seq.numel()
    if n < 2:
        raise ValueError(f"a training sequence needs >= 2 items (an input and a target), got {n}")
    out = []
    end = n  # targets seq[start + 1 : end]
    while end > 1:
        start = max(0, end - 1 - length)
        x, y = seq[start : end - 1], seq[start + 1 : end]
        if x.numel() < length:
            fill = torch.full((length - x.numel(),), pad, dtype=torch.long)
            x, y = torch.cat([x, fill]), torch.cat([y, fill])
        out.append((x, y))
        end = start + 1
    return out


def train_next_token(
    model,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int,
    pad: int | None = PAD,
    weight_decay: float = 0.0,
    log=None,
) -> list[float]:
    """Adam on mean cross-entropy of ``model(inputs)`` against ``targets`` (``pad`` targets ignored).

    Returns the mean training loss of each epoch. Shuffling uses ``torch.Generator(seed)``.
    """
    if inputs.shape != targets.shape or inputs.dim() != 2:
        raise ValueError(
            f"inputs and targets must be equal (windows, length) tensors, got "
            f"{tuple(inputs.shape)} and {tuple(targets.shape)}"
        )
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    ignore = -100 if pad is None else pad
    losses = []
    model.train()
    for epoch in range(epochs):
        order = torch.randperm(inputs.shape[0], generator=g)
        total, count = 0.0, 0
        for lo in range(0, len(order), batch_size):
            idx = order[lo : lo + batch_size]
            logits = model(inputs[idx])
            loss = F.cross_entropy(logits.flatten(0, 1), targets[idx].flatten(), ignore_index=ignore)
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            count += len(idx)
        losses.append(total / count)
        if log is not None:
            log(f"epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    model.eval()
    return losses

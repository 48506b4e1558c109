"""Pointer decoding ("Pointer Networks", arXiv 1506.03134), registered as a decoder.

The model lives in :mod:`seqlab.models.pointer`. Two searches over its output distribution
``p(y_i = j | y_<i, x) = softmax_j(u_ij)``:

- ``greedy``: ``y_i = argmax_j u_ij`` at every step;
- ``beam``: keeps the ``K`` prefixes with the highest ``sum_i log p(y_i | y_<i, x)`` (the paper decodes
  with beam search and keeps only valid outputs). Validity comes from the model's masks: with
  ``mask_chosen`` a position is pointed at once (TSP: every output is a tour), and with ``stop_last``
  pointing at the last input (the stop row) ends a hypothesis, which then stays in the beam with its
  score frozen (it can only emit the stop again, at log-probability 0) and competes with the longer
  ones on total log-probability.

Both return input positions ``(B, n_out)``; with ``stop_last`` the positions after the first stop are
the stop index ``n - 1``.
"""

from __future__ import annotations

import torch

from seqlab.registry import Paper, register


def _check(model, num_beams: int):
    from seqlab.models.pointer import PointerNetwork

    if not isinstance(model, PointerNetwork):
        raise ValueError(f"pointer decoding needs a seqlab PointerNetwork, got {type(model).__name__}")
    if isinstance(num_beams, bool) or not isinstance(num_beams, int) or num_beams < 1:
        raise ValueError(f"pointer decoding needs num_beams >= 1, got {num_beams!r}")


def _fill_after_stop(idx: torch.Tensor, stop: int) -> torch.Tensor:
    """Positions after the first ``stop`` of every row set to ``stop``."""
    seen = (idx == stop).long().cumsum(1) > 0
    return idx.masked_fill(seen, stop)


@torch.no_grad()
def pointer_beam(
    model, inputs: torch.Tensor, num_beams: int, n_out: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search over pointer outputs: the best hypothesis ``(B, n_out)``, its log-probability ``(B,)``."""
    _check(model, num_beams)
    state = model.begin(inputs)
    b, n, _ = state.m.shape
    n_out = n if n_out is None else n_out
    if model.mask_chosen and n_out > n:
        raise ValueError(f"mask_chosen allows at most n={n} outputs, asked for {n_out}")
    k = num_beams
    stop = n - 1 if model.stop_last else None
    beams = torch.arange(b, device=state.m.device).repeat_interleave(k)
    state = state.select(beams)  # (B*K) rows, beam-major within each batch row
    score = torch.full((b, k), float("-inf"), device=state.m.device)
    score[:, 0] = 0.0
    seqs = torch.zeros(b * k, 0, dtype=torch.long, device=state.m.device)
    done = torch.zeros(b * k, dtype=torch.bool, device=state.m.device)
    for _ in range(n_out):
        u, state = model.scores(state)
        logp = torch.log_softmax(u.float(), -1)
        if model.mask_chosen:
            logp = logp.masked_fill(state.chosen, float("-inf"))
        if stop is not None:  # a finished hypothesis only repeats the stop, at no cost
            frozen = torch.full_like(logp, float("-inf"))
            frozen[:, stop] = 0.0
            logp = torch.where(done[:, None], frozen, logp)
        cand = (score.reshape(-1, 1) + logp).reshape(b, k * n)
        score, flat = cand.topk(k, dim=-1)
        parent = (flat // n + torch.arange(b, device=flat.device)[:, None] * k).reshape(-1)
        idx = (flat % n).reshape(-1)
        state = model.advance(state.select(parent), idx)
        seqs = torch.cat([seqs[parent], idx[:, None]], 1)
        done = done[parent] | (idx == stop if stop is not None else torch.zeros_like(done))
    best = score.argmax(-1) + torch.arange(b, device=score.device) * k
    out = seqs[best]
    return (_fill_after_stop(out, stop) if stop is not None else out), score.max(-1).values


@torch.no_grad()
def pointer_greedy(model, inputs: torch.Tensor, n_out: int | None = None) -> torch.Tensor:
    """``argmax_j u_ij`` at every step ``(B, n_out)``."""
    _check(model, 1)
    out = model(inputs, n_out=n_out).argmax(-1)
    return _fill_after_stop(out, inputs.shape[1] - 1) if model.stop_last else out


def sequence_logprob(model, inputs: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
    """``sum_i log p(y_i | y_<i, x)`` ``(B,)`` of given outputs, teacher-forced (up to the first stop)."""
    logp = torch.log_softmax(model(inputs, outputs).float(), -1).gather(2, outputs[..., None])[..., 0]
    if model.stop_last:
        stop = inputs.shape[1] - 1
        after = ((outputs == stop).long().cumsum(1) - (outputs == stop).long()) > 0
        logp = logp.masked_fill(after, 0.0)
    return logp.sum(1)


@register(
    "decoder",
    "pointer",
    implements=Paper("Pointer Networks", "1506.03134"),
    description="greedy or beam pointer decoding over input positions (seqlab.models.PointerNetwork); "
    "masks chosen inputs (tours) and stops on a stop row (hulls)",
)
def pointer(
    model, inputs: torch.Tensor, *, n_out: int | None = None, method: str = "greedy", num_beams: int = 4
) -> torch.Tensor:
    """Input positions ``(B, n_out)`` a :class:`~seqlab.models.pointer.PointerNetwork` points at.

    ``method`` "greedy" (default) or "beam" (``num_beams`` hypotheses, the most probable returned).
    """
    if method == "greedy":
        return pointer_greedy(model, inputs, n_out)
    if method == "beam":
        return pointer_beam(model, inputs, num_beams, n_out)[0]
    raise ValueError(f"pointer decoding method must be 'greedy' or 'beam', got {method!r}")

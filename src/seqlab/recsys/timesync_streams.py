"""The slow context streams of TIMeSynC and their alignment by timestamp.

"TIMeSynC: Temporal Intent Modelling with Synchronized Context Encodings for Financial Service
Applications" (arXiv 2410.12825) combines sequences recorded at different rates (app, web, calls,
branch visits). On MovieLens-100K the fast stream is one entry per rating; each *slow* stream here
is one entry per completed time window of a fixed length in which the user was active:

- ``"genres"`` (window ``window``, 15 minutes by default): ``z_w = [h_w / n_w, log(1 + n_w)]`` with
  ``h_w`` the summed multi-hot genres of the window's ``n_w`` ratings;
- ``"activity"`` (one UTC day): ``z_w = [log(1 + n_w), q_w / n_w, h_w / n_w]`` with ``q_w`` the
  histogram of the ratings' time of day over ``TOD_BINS`` equal bins (``floor(TOD_BINS (t mod D) / D)``,
  ``D = 86400`` s): how much and when the user rated that day, and what.

Synchronisation: event ``j`` at ``t_j`` may use window ``w`` (covering ``[w L, (w + 1) L)``) only when
it is *complete*: ``(w + 1) L <= t_j``; ``c(j)`` is the last such window (-1: none yet). A complete
window holds only ratings strictly before ``t_j``, so with non-decreasing timestamps no event after
``j`` (and not ``j``'s target) is ever visible to it.
"""

from __future__ import annotations

import torch

DAY = 86400.0
TOD_BINS = 4
STREAMS = ("genres", "activity")


def _check(items: torch.Tensor, times: torch.Tensor, window: float) -> torch.Tensor:
    if not window > 0:
        raise ValueError(f"window must be > 0 seconds, got {window!r}")
    times = torch.as_tensor(times, dtype=torch.float64)
    if times.dim() != 1 or times.shape != torch.as_tensor(items).shape:
        raise ValueError(
            f"times must be 1-D with one entry per item, got {tuple(times.shape)} for "
            f"{tuple(torch.as_tensor(items).shape)} items"
        )
    if (times[1:] < times[:-1]).any():
        raise ValueError("timestamps must be non-decreasing within a sequence")
    return times


def _windows(times: torch.Tensor, window: float):
    wid = torch.floor(times / window).long()
    return torch.unique(wid, sorted=True, return_inverse=True)


def slow_stream(items: torch.Tensor, times: torch.Tensor, genres: torch.Tensor, window: float):
    """The ``"genres"`` stream: windows of ``window`` seconds holding events, ``(ids (W,), features
    (W, G + 1))`` with ``features = [genre histogram / count, log(1 + count)]``, in time order."""
    times = _check(items, times, window)
    ids, inverse = _windows(times, window)
    hist = torch.zeros(len(ids), genres.shape[1]).index_add_(0, inverse, genres[items])
    count = torch.bincount(inverse, minlength=len(ids)).float()
    return ids, torch.cat([hist / count[:, None], torch.log1p(count)[:, None]], 1)


def activity_stream(items: torch.Tensor, times: torch.Tensor, genres: torch.Tensor, window: float = DAY):
    """The ``"activity"`` stream: ``(ids (W,), features (W, 1 + TOD_BINS + G))`` per active window,
    ``features = [log(1 + count), time-of-day histogram / count, genre histogram / count]``."""
    times = _check(items, times, window)
    ids, inverse = _windows(times, window)
    count = torch.bincount(inverse, minlength=len(ids)).float()
    tod = torch.floor(torch.remainder(times, DAY) / DAY * TOD_BINS).long().clamp(max=TOD_BINS - 1)
    q = torch.zeros(len(ids), TOD_BINS).index_put_((inverse, tod), torch.ones(len(tod)), accumulate=True)
    hist = torch.zeros(len(ids), genres.shape[1]).index_add_(0, inverse, genres[items])
    return ids, torch.cat([torch.log1p(count)[:, None], q / count[:, None], hist / count[:, None]], 1)


def stream_dim(name: str, num_genres: int) -> int:
    """Feature width of slow stream ``name``."""
    if name == "genres":
        return num_genres + 1
    if name == "activity":
        return 1 + TOD_BINS + num_genres
    raise ValueError(f"unknown slow stream {name!r}; choose from {', '.join(STREAMS)}")


def build_stream(name: str, items, times, genres: torch.Tensor, window: float):
    """``(ids, features)`` of slow stream ``name`` (``"genres"`` or ``"activity"``)."""
    stream_dim(name, genres.shape[1])  # validates the name
    fn = slow_stream if name == "genres" else activity_stream
    return fn(torch.as_tensor(items, dtype=torch.long), times, genres, window)


def synchronized_index(times: torch.Tensor, window_ids: torch.Tensor, window: float) -> torch.Tensor:
    """``c(j)``: index of the last window completed by ``t_j`` (``(w + 1) * window <= t_j``), -1 if none."""
    ends = (window_ids.double() + 1) * window
    return torch.searchsorted(ends, torch.as_tensor(times, dtype=torch.float64), right=True) - 1

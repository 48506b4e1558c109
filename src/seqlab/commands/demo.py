"""``seqlab demo``: build every registered mixer, run one random batch through all its modes.

Each mixer is built at ``--d-model`` (32) and fed ``x: (2, 37, d_model)``; its chunked mode runs the
batch in pieces of 5, 3 and 11 steps carrying the state, its step mode one token at a time. The
table shows max |parallel - chunked| and max |parallel - step|; the exit code is 1 when any of them
exceeds ``--tol`` (1e-3) or a mixer fails.
"""

from __future__ import annotations

import torch
from rich.console import Console
from rich.table import Table

from seqlab.registry import create, entries

NAME = "demo"
HELP = "run every registered mixer through its modes on a random batch; check that the modes agree"
PIECES = (5, 3, 11)


def add_arguments(p):
    p.add_argument("--d-model", type=int, default=32, help="model width each mixer is built at")
    p.add_argument("--batch", type=int, default=2, help="batch size of the random input")
    p.add_argument("--length", type=int, default=37, help="sequence length of the random input")
    p.add_argument("--tol", type=float, default=1e-3, help="max allowed disagreement between modes")
    p.add_argument("--mixers", default=None, help="comma-separated names (default: every registered mixer)")
    p.add_argument("--seed", type=int, default=0, help="seed of the input and of each mixer's weights")

def _chunked(m, x):
    state, ys, t, i = None, [], 0, 0
    while t < x.shape[1]:
        n = PIECES[i % len(PIECES)]
        y, state = m.forward_with_state(x[:, t : t + n], state)
        ys.append(y)
        t, i = t + n, i + 1
    return torch.cat(ys, 1)


def _stepped(m, x):
    state = m.init_state(x.shape[0], x.device, x.dtype)
    ys = []
    for t in range(x.shape[1]):
        y, state = m.step(x[:, t], state)
        ys.append(y)
    return torch.stack(ys, 1)


def check_mixer(name: str, d_model: int, x: torch.Tensor, seed: int) -> dict:
    """One row: the mixer's modes, mode disagreements, state size, parameter count, paper."""
    entry = next(e for e in entries("mixer") if e.name == name)
    torch.manual_seed(seed)
    m = create("mixer", name, d_model=d_model).eval()
    row = {"name": name, "modes": list(m.modes), "chunked": None, "step": None, "state_size": m.state_size,
           "params": sum(p.numel() for p in m.parameters()),
           "paper": entry.paper}
    with torch.no_grad():
        y = m(x)
        if "chunked" in m.modes:
            row["chunked"] = (y - _chunked(m, x)).abs().max().item()
        if "step" in m.modes:
            row["step"] = (y - _stepped(m, x)).abs().max().item()
    return row


def run(args) -> int:
    if args.d_model < 1 or args.batch < 1 or args.length < 1 or not args.tol > 0:
        raise ValueError("demo expects positive --d-model, --batch, --length and --tol")
    valid = [e.name for e in entries("mixer")]
    names = [n.strip() for n in args.mixers.split(",")] if args.mixers else valid
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ValueError(f"unknown mixer(s) {', '.join(unknown)}; valid names: {', '.join(valid)}")
    x = torch.randn(args.batch, args.length, args.d_model, generator=torch.Generator().manual_seed(args.seed))
    table = Table(title=f"seqlab mixers on x: {tuple(x.shape)} (tolerance {args.tol:g})")
    for col in ("name", "modes", "max |par-chunked|", "max |par-step|", "state size", "params", "paper"):
        table.add_column(col, overflow="fold")
    bad = []
    for name in names:
        try:
            r = check_mixer(name, args.d_model, x, args.seed)
        except (ValueError, RuntimeError, NotImplementedError) as err:
            bad.append(name)
            table.add_row(name, "-", "error", "error", "-", "-", f"{type(err).__name__}: {err}"[:80])
            continue
        diffs = [d for d in (r["chunked"], r["step"]) if d is not None]
        if any(not d <= args.tol for d in diffs):
            bad.append(name)
        cells = ["-" if d is None else f"{d:.1e}" + ("" if d <= args.tol else " FAIL") for d in
                 (r["chunked"], r["step"])]
        table.add_row(name, ", ".join(r["modes"]), *cells, r["state_size"], f"{r['params']:,}", r["paper"])
    Console(width=220).print(table)
    if bad:
        print(f"modes disagree beyond {args.tol:g} (or failed) for: {', '.join(bad)}")
        return 1
    print(f"all {len(names)} mixers: modes agree within {args.tol:g}")
    return 0

"""HVM: hierarchical chunking with variable abstraction, and its compression against Lempel-Ziv.

"Building, Reusing, and Generalizing Abstract Representations from Concrete Sequences" (Wu, Thalmann,
Dayan, Akata, Schulz; arXiv 2410.21332). A non-parametric memory of *chunks* is learned online from one
discrete sequence:

- **Parsing.** The sequence is read left to right; at each position the longest dictionary entry that
  matches is the next unit (atoms always match, so parsing never fails).
- **Chunking.** Counts of units ``N(a)`` and of adjacent pairs ``N(a, b)`` are kept while parsing. When a
  pair occurs at least ``min_count`` times and more often than independence predicts by a factor
  ``ratio`` -- ``N(a, b) >= ratio * N(a) N(b) / N`` -- the concatenation ``ab`` becomes a new chunk, used
  by the parse from that point on. Chunks of chunks give the hierarchy.
- **Variable abstraction.** Units seen between the same left and right neighbours ``(a, _, c)`` -- at
  least ``var_min`` distinct ones, each at least twice, the context itself ``ratio`` times more frequent
  than independence predicts -- are grouped into a *variable* ``V = {x_1, .., x_k}`` and the chunk
  ``a V c`` is added: it matches ``a x c`` for any member ``x`` (the longest matching member is taken).
- Passes over the sequence repeat (counts restart each pass) until a pass changes nothing or ``passes``
  is reached.
- **Memory decay** (option, off by default: ``decay=0``). Every chunk has a *strength* that forgets
  exponentially: with the clock ``t`` counting parsed units over all passes, a chunk created at ``t_0`` and
  parsed as a unit at times ``t_1, t_2, ..`` has, at time ``T``,

      S(T) = sum_{k >= 0, t_k <= T} exp(-decay * (T - t_k))

  (creation counts as one occurrence). After each pass, chunks with ``S < forget_below`` are deleted, except
  those that are a part of a kept chunk (deleting them would break it); variables no kept chunk uses go with
  them. Without decay ``S`` is the plain count of uses + 1 and nothing is forgotten.

Description length (bits) of a sequence under the learned dictionary, a two-part code:

    L = L(dictionary) + L(units) + L(variable fillers)

``L(dictionary)``: for each entry used by the final parse (and its parts, recursively), an Elias-gamma
code of its length, one bit for chunk/variable, and ``log2(A + D)`` bits per part (``A`` atoms, ``D``
entries). ``L(units)`` and ``L(fillers)``: adaptive Krichevsky-Trofimov codes (``p_t(u) = (N_t(u) + 1/2) /
(t + K/2)`` over the ``K`` possible symbols), so no table of probabilities is sent. The same adaptive
code over raw atoms is the no-chunk baseline (:func:`kt_bits`).

Lempel-Ziv anchors (written here): LZ78 (:func:`lz78_encode` / :func:`lz78_decode`; phrase ``i`` costs
``ceil(log2 i) + ceil(log2 A)`` bits) and zlib (deflate, level 9) on the atoms as bytes.

The generator :func:`nested_grammar` plants a hierarchy of chunks (with variable slots) whose expansions
make the sequence; its chunks are the ground truth of the positive control.
"""

from __future__ import annotations

import math
import random
import zlib
from collections import Counter, defaultdict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import torch

from seqlab.registry import Paper, register

HVM_PAPER = Paper(
    "Building, Reusing, and Generalizing Abstract Representations from Concrete Sequences", "2410.21332"
)

__all__ = [
    "HVM",
    "Grammar",
    "kt_bits",
    "lz78_bits",
    "lz78_decode",
    "lz78_encode",
    "nested_grammar",
    "zlib_bits",
]


def _check_sequence(seq, what: str = "sequence") -> list:
    seq = list(seq)
    if not seq:
        raise ValueError(f"{what} must be a non-empty sequence of hashable symbols, got an empty one")
    for s in seq:
        if not isinstance(s, Hashable):
            raise TypeError(f"{what} must hold hashable symbols, got {type(s).__name__}")
    return seq


# -- Lempel-Ziv 78 --------------------------------------------------------------------------------------
def lz78_encode(seq: Sequence) -> list[tuple[int, object]]:
    """LZ78 phrases ``(prefix index, next symbol)``; index 0 is the empty phrase, phrase ``i`` gets index
    ``i``. A final phrase that is already in the dictionary is emitted as ``(its index, None)``."""
    seq = _check_sequence(seq)
    table: dict[tuple, int] = {(): 0}
    out: list[tuple[int, object]] = []
    cur: tuple = ()
    for s in seq:
        nxt = cur + (s,)
        if nxt in table:
            cur = nxt
            continue
        out.append((table[cur], s))
        table[nxt] = len(table)
        cur = ()
    if cur:
        out.append((table[cur], None))
    return out


def lz78_decode(phrases: Sequence[tuple[int, object]]) -> list:
    """Invert :func:`lz78_encode`."""
    table: list[tuple] = [()]
    out: list = []
    for k, (idx, s) in enumerate(phrases):
        if not 0 <= idx < len(table):
            raise ValueError(f"LZ78 phrase {k} refers to index {idx}, but only {len(table)} phrases exist")
        phrase = table[idx] + (() if s is None else (s,))
        out.extend(phrase)
        table.append(phrase)
    return out


def lz78_bits(seq: Sequence, alphabet: int | None = None) -> float:
    """LZ78 code length: phrase ``i`` (1-based) costs ``ceil(log2 i)`` bits for its prefix index and
    ``ceil(log2 A)`` for its symbol (``A`` = alphabet size, default the distinct symbols of ``seq``)."""
    seq = _check_sequence(seq)
    a = alphabet if alphabet is not None else len(set(seq))
    sym = math.ceil(math.log2(a)) if a > 1 else 0
    return float(sum(math.ceil(math.log2(i)) + sym for i in range(1, len(lz78_encode(seq)) + 1)))


def zlib_bits(seq: Sequence[int]) -> float:
    """Deflate (zlib level 9) size in bits of integer symbols in [0, 256) written one byte each."""
    seq = _check_sequence(seq)
    if any(not isinstance(s, int) or not 0 <= s < 256 for s in seq):
        raise ValueError("zlib_bits needs integer symbols in [0, 256)")
    return 8.0 * len(zlib.compress(bytes(seq), 9))


def kt_bits(symbols: Sequence, k: int) -> float:
    """Adaptive Krichevsky-Trofimov code length of ``symbols`` over an alphabet of ``k`` symbols:
    ``sum_t -log2((N_t(s_t) + 1/2) / (t + k/2))`` with counts ``N_t`` of the symbols before ``t``."""
    if k < 1:
        raise ValueError(f"kt_bits needs an alphabet of >= 1 symbols, got {k}")
    counts: Counter = Counter()
    bits = 0.0
    for t, s in enumerate(symbols):
        bits -= math.log2((counts[s] + 0.5) / (t + k / 2))
        counts[s] += 1
    if len(counts) > k:
        raise ValueError(f"kt_bits: {len(counts)} distinct symbols exceed the alphabet size {k}")
    return bits


def elias_gamma_bits(n: int) -> int:
    """Length of the Elias-gamma code of a positive integer: ``2 floor(log2 n) + 1``."""
    if n < 1:
        raise ValueError(f"Elias gamma codes positive integers, got {n}")
    return 2 * (n.bit_length() - 1) + 1


# -- the generator of nested sequences ------------------------------------------------------------------
@dataclass
class Grammar:
    """A planted hierarchy: ``levels[l]`` lists level-``l`` items, each a tuple of parts; a part is an
    index into level ``l - 1`` (an atom at level 0) or a tuple of such indices (a variable slot)."""

    n_atoms: int
    levels: list[list[tuple]]

    def expand(self, level: int, item: int, rng: random.Random) -> list[int]:
        if level == 0:
            return [item]
        out: list[int] = []
        for part in self.levels[level][item]:
            choice = rng.choice(part) if isinstance(part, tuple) else part
            out.extend(self.expand(level - 1, choice, rng))
        return out

    def fixed_chunks(self) -> set[tuple[int, ...]]:
        """Atom strings of every planted item (level >= 1) without a variable slot below it."""
        out: set[tuple[int, ...]] = set()
        fixed: dict[tuple[int, int], tuple[int, ...] | None] = {}
        for lv in range(1, len(self.levels)):
            for i, parts in enumerate(self.levels[lv]):
                atoms: list[int] | None = []
                for p in parts:
                    if isinstance(p, tuple):
                        atoms = None
                        break
                    sub = (p,) if lv == 1 else fixed[(lv - 1, p)]
                    if sub is None:
                        atoms = None
                        break
                    atoms.extend(sub)
                fixed[(lv, i)] = None if atoms is None else tuple(atoms)
                if atoms is not None:
                    out.add(tuple(atoms))
        return out

    def sample(self, length: int, rng: random.Random) -> list[int]:
        """Top-level items drawn uniformly and expanded until ``length`` atoms (the last one cut)."""
        top = len(self.levels) - 1
        out: list[int] = []
        while len(out) < length:
            out.extend(self.expand(top, rng.randrange(len(self.levels[top])), rng))
        return out[:length]


def nested_grammar(
    n_atoms: int = 10,
    depth: int = 3,
    items: int = 5,
    parts: tuple[int, int] = (2, 3),
    var_prob: float = 0.0,
    var_size: int = 3,
    disjoint: bool = False,
    seed: int = 0,
) -> Grammar:
    """A random grammar of ``depth`` levels with ``items`` items per level, each the concatenation of
    ``parts`` (min, max) items of the level below; from level 2 on, each item has one variable slot (a
    choice among ``var_size`` items of the level below) with probability ``var_prob``. ``disjoint``:
    level-1 items use disjoint sets of atoms (an unambiguous, easy grammar)."""
    if n_atoms < 2 or depth < 1 or items < 1:
        raise ValueError(
            f"nested_grammar needs n_atoms >= 2, depth >= 1, items >= 1; got {n_atoms, depth, items}"
        )
    if not 1 <= parts[0] <= parts[1]:
        raise ValueError(f"parts must be (min, max) with 1 <= min <= max, got {parts}")
    if disjoint and n_atoms < items * parts[1]:
        raise ValueError(
            f"disjoint chunks need n_atoms >= items * max parts = {items * parts[1]}, got {n_atoms}"
        )
    rng = random.Random(seed)
    levels: list[list[tuple]] = [[(a,) for a in range(n_atoms)]]
    free = list(range(n_atoms))
    rng.shuffle(free)
    for lv in range(1, depth + 1):
        below = len(levels[lv - 1])
        made: set[tuple] = set()
        level: list[tuple] = []
        while len(level) < items:
            size = rng.randint(*parts)
            if disjoint and lv == 1:
                body: list = [free.pop() for _ in range(size)]
            else:
                body = [rng.randrange(below) for _ in range(size)]
            if lv >= 2 and rng.random() < var_prob:
                slot = rng.randrange(len(body))
                body[slot] = tuple(sorted(rng.sample(range(below), min(var_size, below))))
            key = tuple(body)
            if key not in made:
                made.add(key)
                level.append(key)
        levels.append(level)
    return Grammar(n_atoms, levels)


# -- the model ------------------------------------------------------------------------------------------
@register("embedder", "hvm", implements=HVM_PAPER)
class HVM:
    """Hierarchical variable learning model over a discrete sequence (see the module docstring)."""

    def __init__(
        self,
        min_count: int = 4,
        ratio: float = 2.0,
        variables: bool = True,
        var_min: int = 3,
        passes: int = 6,
        max_entries: int = 400,
        decay: float = 0.0,
        forget_below: float = 1.0,
    ):
        if min_count < 2:
            raise ValueError(f"min_count must be >= 2, got {min_count}")
        if ratio <= 1:
            raise ValueError(f"ratio must be > 1 (more frequent than independence), got {ratio}")
        if var_min < 2 or passes < 1 or max_entries < 1:
            raise ValueError("var_min must be >= 2, passes >= 1, max_entries >= 1")
        for name, v in (("decay", decay), ("forget_below", forget_below)):
            if not (v >= 0 and math.isfinite(v)):
                raise ValueError(
                    f"{name} must be a finite number >= 0 (decay: forgetting rate per parsed unit; "
                    f"forget_below: strength threshold), got {v}"
                )
        self.decay, self.forget_below = float(decay), float(forget_below)
        self.min_count, self.ratio, self.variables = min_count, float(ratio), bool(variables)
        self.var_min, self.passes, self.max_entries = var_min, passes, max_entries
        self.atoms: list = []
        self.entries: list[tuple[str, object]] = []  # ("atom", symbol) | ("chunk", ids) | ("var", ids)
        self._index: dict[tuple[str, object], int] = {}
        self._starts: dict[int, list[int]] | None = None
        self._added = 0
        self.clock = 0  # parsed units so far (all passes): the time of memory decay
        self._strength: dict[int, tuple[float, int]] = {}  # chunk -> (strength at time t, t)
        self.strength_events: list[tuple[int, int]] = []  # (time, chunk): creation or use, for checking
        self.forgotten: list[tuple | None] = []  # atom strings of deleted chunks (None: with a variable)

    # ---- dictionary ----
    def _add(self, kind: str, body) -> int:
        key = (kind, body)
        if key in self._index:
            return self._index[key]
        self.entries.append(key)
        e = len(self.entries) - 1
        self._index[key] = e
        self._starts = None
        self._added += 1
        if kind == "chunk":
            self._bump(e)
        return e

    # ---- memory decay ----
    def _bump(self, e: int) -> None:
        """One occurrence of chunk ``e`` at the current clock: ``S <- S exp(-decay dt) + 1``."""
        self._strength[e] = (self.strength(e) + 1.0, self.clock)
        self.strength_events.append((self.clock, e))

    def strength(self, e: int) -> float:
        """Decayed strength of chunk ``e`` now (at :attr:`clock`); 0 for atoms and variables."""
        s, t = self._strength.get(e, (0.0, self.clock))
        return s * math.exp(-self.decay * (self.clock - t)) if s else 0.0

    def _forget(self) -> int:
        """Delete chunks weaker than ``forget_below`` that no kept chunk is built from, and variables no
        kept chunk uses; entries are renumbered in their old order. Returns how many entries went."""
        keep = {e for e, (kind, _) in enumerate(self.entries) if kind == "atom"}
        stack = [
            e
            for e, (kind, _) in enumerate(self.entries)
            if kind == "chunk" and self.strength(e) >= self.forget_below
        ]
        while stack:  # a kept entry keeps its parts (and a variable its members)
            e = stack.pop()
            if e in keep:
                continue
            keep.add(e)
            if self.entries[e][0] != "atom":
                stack.extend(self.entries[e][1])
        gone = [e for e in range(len(self.entries)) if e not in keep]
        if not gone:
            return 0
        self.forgotten.extend(self.flatten(e) for e in gone if self.entries[e][0] == "chunk")
        new = {old: i for i, old in enumerate(sorted(keep))}
        entries = []
        for old in sorted(keep):
            kind, body = self.entries[old]
            entries.append((kind, body if kind == "atom" else tuple(new[p] for p in body)))
        self.entries = entries
        self._index = {key: i for i, key in enumerate(entries)}
        self._strength = {new[e]: v for e, v in self._strength.items() if e in new}
        self.strength_events = [(t, new[e]) for t, e in self.strength_events if e in new]
        self._starts = None
        return len(gone)

    @property
    def n_atoms(self) -> int:
        return len(self.atoms)

    def chunks(self) -> list[int]:
        return [i for i, (k, _) in enumerate(self.entries) if k == "chunk"]

    def variables_(self) -> list[int]:
        return [i for i, (k, _) in enumerate(self.entries) if k == "var"]

    def first_atoms(self, e: int) -> frozenset:
        kind, body = self.entries[e]
        if kind == "atom":
            return frozenset([e])
        if kind == "chunk":
            return self.first_atoms(body[0])
        return frozenset().union(*(self.first_atoms(m) for m in body))

    def flatten(self, e: int) -> tuple | None:
        """The atom-symbol string of entry ``e`` (None when a variable lies below it)."""
        kind, body = self.entries[e]
        if kind == "atom":
            return (body,)
        if kind == "var":
            return None
        out: tuple = ()
        for p in body:
            sub = self.flatten(p)
            if sub is None:
                return None
            out += sub
        return out

    def _match(self, e: int, seq: list[int], i: int):
        """``(end, fillers)`` when entry ``e`` matches ``seq`` at ``i``; fillers are ``(var, member)``."""
        kind, body = self.entries[e]
        if kind == "atom":
            return (i + 1, ()) if i < len(seq) and seq[i] == e else None
        if kind == "chunk":
            fills: tuple = ()
            for p in body:
                m = self._match(p, seq, i)
                if m is None:
                    return None
                i, f = m
                fills += f
            return i, fills
        best = None
        for member in body:
            m = self._match(member, seq, i)
            if m is not None and (best is None or m[0] > best[0]):
                best = (m[0], ((e, member),) + m[1])
        return best

    def _next_unit(self, seq: list[int], i: int):
        if self._starts is None:
            starts: dict[int, list[int]] = defaultdict(list)
            for e, (kind, _) in enumerate(self.entries):
                if kind != "var":
                    for a in self.first_atoms(e):
                        starts[a].append(e)
            self._starts = starts
        best = None
        for e in self._starts[seq[i]]:
            m = self._match(e, seq, i)
            if m is not None and (best is None or m[0] > best[1] or (m[0] == best[1] and e > best[0])):
                best = (e, m[0], m[1])
        return best

    def _ids(self, seq) -> list[int]:
        seq = _check_sequence(seq)
        if not self.entries:
            raise RuntimeError("HVM is not fitted: call fit(sequence) first")
        index = {s: i for i, s in enumerate(self.atoms)}
        missing = [s for s in set(seq) if s not in index]
        if missing:
            raise KeyError(f"symbols not seen in fit: {sorted(map(repr, missing))[:5]}")
        return [index[s] for s in seq]

    # ---- learning ----
    def fit(self, seq) -> HVM:
        """Learn chunks and variables from one sequence of hashable symbols (online, several passes)."""
        seq = _check_sequence(seq)
        self.atoms = sorted(set(seq), key=repr)
        self.entries, self._index, self._starts = [], {}, None
        self.clock, self._strength, self.strength_events, self.forgotten = 0, {}, [], []
        self._added = 0
        for s in self.atoms:
            self._add("atom", s)
        ids = self._ids(seq)
        self.history = []
        for _ in range(self.passes):
            self._added = 0
            self._learn_pass(ids)
            removed = self._forget() if self.decay > 0 else 0
            self.history.append(len(self.entries))
            if (self._added == 0 and removed == 0) or len(self.entries) >= self.max_entries:
                break
        return self

    def _learn_pass(self, ids: list[int]) -> None:
        count: Counter = Counter()
        pair: Counter = Counter()
        context: dict[tuple[int, int], Counter] = defaultdict(Counter)
        total, i, prev, prev2 = 0, 0, None, None
        while i < len(ids):
            e, end, _ = self._next_unit(ids, i)
            self.clock += 1
            if self.entries[e][0] == "chunk":
                self._bump(e)
            count[e] += 1
            total += 1
            if prev is not None:
                pair[(prev, e)] += 1
                c = pair[(prev, e)]
                if (
                    c >= self.min_count
                    and c >= self.ratio * count[prev] * count[e] / total
                    and len(self.entries) < self.max_entries
                ):
                    self._add("chunk", (prev, e))
                    pair[(prev, e)] = 0
            if prev2 is not None:
                context[(prev2, e)][prev] += 1
            prev2, prev, i = prev, e, end
        if self.variables:
            for (a, c), mids in context.items():
                n_ctx = sum(mids.values())
                members = tuple(sorted(m for m, k in mids.items() if k >= 2))
                if (
                    len(members) >= self.var_min
                    and n_ctx >= self.min_count
                    and n_ctx >= self.ratio * count[a] * count[c] / total
                    and len(self.entries) + 2 <= self.max_entries
                ):
                    v = self._add("var", members)
                    self._add("chunk", (a, v, c))

    # ---- parsing and coding ----
    def parse(self, seq) -> list[tuple[int, tuple]]:
        """Greedy longest-match parse: a list of ``(entry, ((variable, member), ...))`` units."""
        ids = self._ids(seq)
        out, i = [], 0
        while i < len(ids):
            e, i, fills = self._next_unit(ids, i)
            out.append((e, fills))
        return out

    def used_entries(self, units) -> set[int]:
        """Non-atom entries the parse uses, with their parts (recursively)."""
        seen: set[int] = set()
        stack = [e for e, _ in units]
        while stack:
            e = stack.pop()
            kind, body = self.entries[e]
            if kind == "atom" or e in seen:
                continue
            seen.add(e)
            stack.extend(body)
        return seen

    def description_length(self, seq) -> dict:
        """Bits of the two-part code (module docstring): dictionary, units, fillers, total; plus the
        number of parsed units (the encoded length) and the dictionary size."""
        units = self.parse(seq)
        used = self.used_entries(units)
        k = self.n_atoms + len(used)
        ref = math.log2(k) if k > 1 else 0.0
        dict_bits = sum(
            elias_gamma_bits(len(self.entries[e][1])) + 1 + ref * len(self.entries[e][1]) for e in used
        )
        unit_bits = kt_bits([e for e, _ in units], k)
        by_var: dict[int, list[int]] = defaultdict(list)
        for _, fills in units:
            for v, m in fills:
                by_var[v].append(m)
        fill_bits = sum(kt_bits(ms, len(self.entries[v][1])) for v, ms in by_var.items())
        return {
            "dictionary": dict_bits,
            "units": unit_bits,
            "fillers": fill_bits,
            "total": dict_bits + unit_bits + fill_bits,
            "n_units": len(units),
            "n_entries": len(used),
            "n_variables": sum(1 for e in used if self.entries[e][0] == "var"),
        }

    def decode(self, units) -> list:
        """The atom symbols of a parse (inverse of :meth:`parse`)."""
        out: list = []
        for e, fills in units:
            queue = list(fills)
            out.extend(self._expand(e, queue))
            if queue:
                raise ValueError(f"unit {e} was given {len(queue)} unused variable fillers")
        return out

    def _expand(self, e: int, fills: list) -> list:
        kind, body = self.entries[e]
        if kind == "atom":
            return [body]
        if kind == "chunk":
            return [s for p in body for s in self._expand(p, fills)]
        if not fills or fills[0][0] != e:
            raise ValueError(f"variable {e} needs a filler, got {fills[:1]}")
        _, member = fills.pop(0)
        return self._expand(member, fills)

    def encode(self, items) -> torch.Tensor:
        """Bag-of-chunks vectors ``(N, n_entries)``: how often each dictionary entry is a parsed unit of
        each sequence (an embedding of sequences by their learned chunks)."""
        items = list(items)
        out = torch.zeros(len(items), len(self.entries))
        for r, seq in enumerate(items):
            for e, _ in self.parse(seq):
                out[r, e] += 1
        return out

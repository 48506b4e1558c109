"""Action tokenizers: continuous action vectors as character strings, and PRISE skills.

String tokenizer ("Enhancing Generalization in Vision-Language-Action Models by Preserving Pretrained
Representations"): each action value ``a`` becomes the fixed-width string of ``q = round(a 10^p)``::

    s(a) = sign(q) . digits(|q| // 10^p, width w) . "." . digits(|q| mod 10^p, width p)
    decode(s(a)) = q / 10^p,   |decode(s(a)) - a| <= 10^-p / 2   (exact on the 10^-p grid)

over the vocabulary ``0-9 + - .`` and a space between dimensions.

PRISE ("PRISE: Learning Temporal Action Abstractions as a Sequence Compression Problem"): actions
are vector-quantized to primitive codes ``c_t = argmin_k |a_t - e_k|``; byte-pair merges learned on
the code sequences (repeatedly fuse the most frequent adjacent pair into a new token) give
variable-length skills; decoding expands a skill token back into its primitive codes.
"""

from __future__ import annotations

import re
from collections import Counter

import torch

from seqlab.registry import Paper, register
from seqlab.tokenize.base import check_features
from seqlab.tokenize.kmeans import kmeans, squared_distances

STRING_ACTIONS = (
    "Enhancing Generalization in Vision-Language-Action Models by Preserving Pretrained Representations"
)
PRISE_TITLE = "PRISE: Learning Temporal Action Abstractions as a Sequence Compression Problem"


@register(
    "tokenizer", "string-actions", implements=Paper(STRING_ACTIONS, "2509.11417"), used_by=[STRING_ACTIONS],
    family="action tokenizer",
)
class StringActionTokenizer:
    """String action tokenizer (VLA, preserving pretrained representations): actions <-> characters."""

    VOCAB = tuple("0123456789+-. ")

    def __init__(self, precision: int = 3, int_digits: int = 1):
        ok = isinstance(precision, int) and precision >= 0 and isinstance(int_digits, int) and int_digits >= 1
        if not ok:
            raise ValueError(f"need precision >= 0 and int_digits >= 1, got {precision!r}, {int_digits!r}")
        self.precision, self.int_digits = precision, int_digits
        frac = rf"\.\d{{{precision}}}" if precision else ""
        self._value = re.compile(rf"[+-]\d{{{int_digits}}}{frac}")
        self._index = {ch: i for i, ch in enumerate(self.VOCAB)}

    @property
    def value_width(self) -> int:
        return 1 + self.int_digits + (1 + self.precision if self.precision else 0)

    def quantize(self, actions: torch.Tensor) -> torch.Tensor:
        """The values the strings represent: ``round(a 10^p) / 10^p`` in float64."""
        return torch.round(actions.double() * 10**self.precision) / 10**self.precision

    def encode(self, actions: torch.Tensor) -> list[str]:
        """``(n, action_dim)`` (or ``(action_dim,)``) actions -> one string per action vector."""
        a = actions[None] if actions.dim() == 1 else actions
        if a.dim() != 2 or a.shape[0] == 0 or a.shape[1] == 0:
            raise ValueError(
                f"StringActionTokenizer expects actions (n, action_dim), got {tuple(actions.shape)}"
            )
        check_features(a, a.shape[1], "StringActionTokenizer")
        q = torch.round(a.double() * 10**self.precision).long()
        limit = 10 ** (self.int_digits + self.precision)
        if (q.abs() >= limit).any():
            raise ValueError(f"actions must satisfy |a| < {10**self.int_digits - 0.5 * 10**-self.precision} "
                             f"for int_digits={self.int_digits}, got max |a| = {float(a.abs().max())}")
        out = []
        for row in q.tolist():
            out.append(" ".join(self._format(v) for v in row))
        return out

    def _format(self, q: int) -> str:
        sign = "-" if q < 0 else "+"
        ip, fp = divmod(abs(q), 10**self.precision)
        s = f"{sign}{ip:0{self.int_digits}d}"
        return s + (f".{fp:0{self.precision}d}" if self.precision else "")

    def decode(self, strings: list[str] | str) -> torch.Tensor:
        """Strings -> ``(n, action_dim)`` float64 actions; malformed strings raise ``ValueError``."""
        rows = [strings] if isinstance(strings, str) else list(strings)
        if not rows:
            raise ValueError("StringActionTokenizer.decode expects at least one string")
        vals = []
        for s in rows:
            parts = s.split(" ")
            bad = [p for p in parts if not self._value.fullmatch(p)]
            if bad:
                raise ValueError(f"cannot decode {s!r}: expected values like "
                                 f"{self._format(-(10 ** self.precision) // 2)!r} separated by single spaces")
            vals.append([int(p.replace(".", "")) / 10**self.precision for p in parts])
        if len({len(v) for v in vals}) != 1:
            raise ValueError("cannot decode strings of different action dimensions in one batch")
        return torch.tensor(vals, dtype=torch.float64)

    def encode_ids(self, actions: torch.Tensor) -> torch.Tensor:
        """Character ids ``(n, length)`` over :attr:`VOCAB`."""
        return torch.tensor([[self._index[ch] for ch in s] for s in self.encode(actions)])

    def decode_ids(self, ids: torch.Tensor) -> torch.Tensor:
        if ids.dim() != 2 or ((ids < 0) | (ids >= len(self.VOCAB))).any():
            raise ValueError(
                f"decode_ids expects (n, length) ids in [0, {len(self.VOCAB)}), got {tuple(ids.shape)}"
            )
        return self.decode(["".join(self.VOCAB[i] for i in row) for row in ids.tolist()])


def learn_bpe(sequences: list[list[int]], vocab: int, merges: int, min_count: int = 2):
    """Byte-pair merges over integer sequences: ``[(a, b, new_token), ...]`` in the order learned."""
    seqs = [list(s) for s in sequences]
    rules = []
    for m in range(merges):
        pairs = Counter(p for s in seqs for p in zip(s, s[1:]))
        if not pairs:
            break
        (a, b), n = min(pairs.items(), key=lambda kv: (-kv[1], kv[0]))
        if n < min_count:
            break
        rules.append((a, b, vocab + m))
        seqs = [_merge(s, a, b, vocab + m) for s in seqs]
    return rules


def _merge(seq: list[int], a: int, b: int, new: int) -> list[int]:
    out, i = [], 0
    while i < len(seq):
        if i + 1 < len(seq) and seq[i] == a and seq[i + 1] == b:
            out.append(new)
            i += 2
        else:
            out.append(seq[i])
            i += 1
    return out


@register(
    "tokenizer", "prise", implements=Paper(PRISE_TITLE, "2402.10450"), used_by=[PRISE_TITLE],
    family="action tokenizer",
)
class PRISE:
    """PRISE skill tokenizer: VQ of actions into primitive codes + byte-pair merges into skills."""

    def __init__(self, codebook_size: int = 16, merges: int = 32, min_count: int = 2, seed: int = 0):
        self.codebook_size, self.merges, self.min_count, self.seed = codebook_size, merges, min_count, seed
        self.codebook: torch.Tensor | None = None
        self.rules: list[tuple[int, int, int]] = []
        self.skills: dict[int, tuple[int, ...]] = {}

    @property
    def vocab_size(self) -> int:
        return self.codebook_size + len(self.rules)

    def fit(self, trajectories: list[torch.Tensor]):
        if not trajectories:
            raise ValueError("PRISE.fit expects a non-empty list of (T, action_dim) trajectories")
        dim = trajectories[0].shape[-1]
        for t in trajectories:
            if t.dim() != 2:
                raise ValueError(f"PRISE expects trajectories of shape (T, action_dim), got {tuple(t.shape)}")
            check_features(t, dim, "PRISE")
        data = torch.cat(trajectories).float()
        self.codebook = kmeans(data, self.codebook_size, 20, torch.Generator().manual_seed(self.seed))
        seqs = [self.primitive_codes(t).tolist() for t in trajectories]
        self.rules = learn_bpe(seqs, self.codebook_size, self.merges, self.min_count)
        self.skills = {k: (k,) for k in range(self.codebook_size)}
        for a, b, new in self.rules:
            self.skills[new] = self.skills[a] + self.skills[b]
        return self

    def _need_fit(self) -> torch.Tensor:
        if self.codebook is None:
            raise ValueError("PRISE must be fitted (call .fit(trajectories)) first")
        return self.codebook

    def primitive_codes(self, actions: torch.Tensor) -> torch.Tensor:
        cb = self._need_fit()
        check_features(actions, cb.shape[1], "PRISE")
        return squared_distances(actions.reshape(-1, cb.shape[1]).float(), cb).argmin(-1)

    def encode(self, actions: torch.Tensor) -> list[int]:
        """``(T, action_dim)`` actions -> skill tokens (BPE merges applied in learned order)."""
        seq = self.primitive_codes(actions).tolist()
        for a, b, new in self.rules:
            seq = _merge(seq, a, b, new)
        return seq

    def tokens_to_codes(self, tokens: list[int]) -> list[int]:
        self._need_fit()
        bad = [t for t in tokens if t not in self.skills]
        if bad:
            raise ValueError(f"undecodable PRISE tokens {bad[:5]}: expected ids in [0, {self.vocab_size})")
        return [c for t in tokens for c in self.skills[t]]

    def decode(self, tokens: list[int]) -> torch.Tensor:
        """Skill tokens -> ``(T, action_dim)`` quantized actions."""
        return self._need_fit()[torch.tensor(self.tokens_to_codes(tokens), dtype=torch.long)]

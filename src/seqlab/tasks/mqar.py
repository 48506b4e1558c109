"""Multi-query associative recall (MQAR).

Zoology ("Zoology: Measuring and Improving Recall in Efficient Language Models", arXiv 2312.04927)
defines the task; "RNNs are not Transformers (Yet): The Key Bottleneck on In-context Retrieval"
(arXiv 2402.18510) uses it to separate recurrent models from attention.

An example of length ``L`` with ``N`` pairs is ``k_1 v_1 ... k_N v_N`` followed by a query region
of ``L - 2N`` slots. Keys are distinct draws from ``[1, V/2)``, values distinct draws from
``[V/2, V)``. Each key is queried once, at slot ``2 g`` of the query region where the gaps
``g`` are drawn without replacement from ``{0, ..., (L - 2N)//2 - 1}`` with

    p(g) ∝ a (g + 1)^(a - 1),   a = 0.01  (a power law favouring early slots),

and the target at a query position is the value paired with that key. Every other slot of the
query region is masked and holds a token drawn uniformly from ``[0, V)`` (zoology's default,
``random_non_queries=True``); ``fill="pad"`` puts the pad token 0 there instead.

Constraints (a ValueError names the violated one): ``V > L`` (zoology asserts the vocabulary
exceeds the sequence length) and ``L >= 4N``; together they leave ``V/2 - 1 >= N`` distinct keys.
The power-law placement only has an effect while there are more query slots than queries,
``(L - 2N)//2 > N``, i.e. ``L >= 4N + 2``: at ``L = 4N`` every even slot of the query region is a
query (:attr:`MQAR.placement_is_random`), e.g. 16 pairs at length 64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from seqlab.registry import Paper, register
from seqlab.tasks.base import Task, check_ints


@register(
    "task",
    "mqar",
    implements=Paper("Zoology: Measuring and Improving Recall in Efficient Language Models", "2312.04927"),
    used_by=["RNNs are not Transformers (Yet): The Key Bottleneck on In-context Retrieval"],
    description="multi-query associative recall: recall the value of each queried key",
    metric="accuracy",
)
@dataclass
class MQAR(Task):
    """Multi-query associative recall, faithful to zoology's generator."""

    vocab_size: int = 128
    seq_len: int = 64
    n_pairs: int = 8
    power_a: float = 0.01
    fill: str = "random"
    n_outputs: int = field(default=0, init=False)
    output: str = field(default="classes", init=False)
    metric: str = field(default="accuracy", init=False)

    def __post_init__(self):
        check_ints("mqar", vocab_size=self.vocab_size, seq_len=self.seq_len, n_pairs=self.n_pairs)
        if self.vocab_size <= self.seq_len:
            raise ValueError(
                f"mqar: zoology's MQAR needs vocab_size > seq_len, got vocab_size={self.vocab_size} "
                f"<= seq_len={self.seq_len}"
            )
        if self.fill not in ("random", "pad"):
            raise ValueError(f"mqar: fill must be 'random' (zoology's default) or 'pad', got {self.fill!r}")
        if self.seq_len < 4 * self.n_pairs:
            raise ValueError(
                f"mqar: n_pairs={self.n_pairs} needs seq_len >= 4*n_pairs = {4 * self.n_pairs} "
                f"(2*n_pairs key/value tokens + 2 query-region slots per query), got seq_len={self.seq_len}"
            )
        if not 0 < self.power_a <= 1:
            raise ValueError(f"mqar: power_a must lie in (0, 1], got {self.power_a}")
        self.n_outputs = self.vocab_size

    @property
    def placement_is_random(self) -> bool:
        """Whether the power law chooses among more query slots than queries (``L >= 4N + 2``)."""
        return (self.seq_len - 2 * self.n_pairs) // 2 > self.n_pairs

    def generate(self, n, length, generator):
        if length is not None:
            raise ValueError("mqar has a fixed seq_len; pass length=None")
        V, L, N = self.vocab_size, self.seq_len, self.n_pairs
        half = V // 2
        keys = torch.rand(n, half - 1, generator=generator).argsort(dim=1)[:, :N] + 1
        values = torch.rand(n, V - half, generator=generator).argsort(dim=1)[:, :N] + half
        space = (L - 2 * N) // 2
        g = torch.arange(1, space + 1, dtype=torch.float64)
        p = self.power_a * g ** (self.power_a - 1)
        gaps = torch.multinomial((p / p.sum()).expand(n, space), N, replacement=False, generator=generator)
        if self.fill == "random":
            inputs = torch.randint(0, V, (n, L), generator=generator)
        else:
            inputs = torch.zeros(n, L, dtype=torch.long)
        inputs[:, 0 : 2 * N : 2], inputs[:, 1 : 2 * N : 2] = keys, values
        qpos = 2 * N + 2 * gaps
        inputs.scatter_(1, qpos, keys)
        targets = torch.zeros(n, L, dtype=torch.long)
        targets.scatter_(1, qpos, values)
        mask = torch.zeros(n, L, dtype=torch.bool)
        mask.scatter_(1, qpos, True)
        return {"inputs": inputs, "targets": targets, "mask": mask}

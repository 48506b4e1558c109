"""Sequence-parallel communication on ``torch.distributed`` (imports only torch).

- :mod:`seqlab.parallel.comm`: differentiable all-to-all and ring shift, ``sum_grads``, byte counter;
- :mod:`seqlab.parallel.context`: context parallelism for chunked recurrences (a state relay);
- :mod:`seqlab.parallel.launch`: local gloo ranks on 127.0.0.1 for tests and benchmarks.

The DSP / Ulysses / ring-attention model built on them is :mod:`seqlab.models.spatiotemporal`.
"""

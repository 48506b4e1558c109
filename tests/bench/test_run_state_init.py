import pytest

from seqlab.bench.run import build_model, build_task, has_fixed_size_state
from seqlab.experiments.config import RunConfig


class _Declared:
    modes = ("parallel",)  # the old rule would say "not fixed"; the declaration wins
    state_growth = "constant"


class _Window:
    modes = ("parallel", "chunked")
    state_size = "d_model"  # the old rule would say "fixed"; the declaration wins
    state_growth = "window"


class _Undeclared:
    modes = ("parallel", "chunked")
    state_size = "O(L d_model)"


def test_fixed_size_state_is_read_from_state_growth():
    assert has_fixed_size_state(_Declared())
    assert not has_fixed_size_state(_Window())
    assert not has_fixed_size_state(_Undeclared())  # fallback: O(L) state


def test_state_init_refuses_a_growing_state():
    cfg = RunConfig(task="streaming_parity", mixer="attention", d_model=16, state_init="noise")
    with pytest.raises(
        ValueError, match="state_init='noise' needs a recurrent mixer with a fixed-size state"
    ):
        build_model(cfg, build_task(cfg))
    ok = cfg.replace(mixer="lru")
    build_model(ok, build_task(ok))

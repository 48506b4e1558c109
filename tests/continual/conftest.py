import pytest

from seqlab.continual import TrainConfig, split_stream


@pytest.fixture(scope="session")
def tiny_cfg():
    return TrainConfig(steps=6, batch_size=32, hidden=32)


@pytest.fixture(scope="session")
def digits_streams():
    return {s: split_stream("digits", s) for s in ("task", "domain", "class")}

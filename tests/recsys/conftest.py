import pytest
import torch

from seqlab.recsys.data import Interactions, leave_one_out


def cycle_split(num_items: int = 24, users: int = 48, length: int = 14, seed: int = 0):
    """Users walk the catalogue in a fixed cycle i -> i + 1 (mod N) from a random start: the next item
    is a deterministic function of the last one, and every item is equally popular."""
    g = torch.Generator().manual_seed(seed)
    us, its, ts = [], [], []
    for u in range(users):
        start = int(torch.randint(0, num_items, (1,), generator=g))
        for t in range(length):
            us.append(u)
            its.append((start + t) % num_items + 1)
            ts.append(t)
    return leave_one_out(Interactions.from_triples(us, its, ts, num_items))


@pytest.fixture(scope="session")
def cycles():
    return cycle_split()


@pytest.fixture(scope="session")
def make_cycles():
    return cycle_split

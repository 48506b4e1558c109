"""run_local: results by rank; a failing rank ends the run with a clear error even while peers wait."""

import pytest
import torch
import torch.distributed as dist

from seqlab.parallel.launch import LocalRunError, run_local


def _sum_of_ranks(rank, world):
    t = torch.tensor([float(rank)])
    dist.all_reduce(t)
    return rank, float(t)


def _rank1_raises(rank, world):
    if rank == 1:
        raise ValueError("bad shard on rank 1")
    dist.barrier()  # rank 0 waits for a peer that is gone


def test_results_come_back_in_rank_order():
    assert run_local(_sum_of_ranks, 3, timeout_s=60) == [(0, 3.0), (1, 3.0), (2, 3.0)]


def test_a_failing_rank_ends_the_run_without_waiting_for_the_timeout():
    with pytest.raises(LocalRunError, match="rank 1: error ValueError: bad shard on rank 1") as info:
        run_local(_rank1_raises, 2, timeout_s=600)
    assert info.value.outcomes[1][0] == "error"
    # rank 0 was stopped (killed, or its barrier saw the peer leave), not released by the 600 s timeout
    kind, detail = info.value.outcomes[0]
    assert (kind, detail) == ("exit", -9) or (kind == "error" and "Timed out" not in detail)


def test_bad_arguments():
    with pytest.raises(ValueError, match="world must be an int >= 1"):
        run_local(_sum_of_ranks, 0)
    with pytest.raises(ValueError, match="timeout_s must be > 0"):
        run_local(_sum_of_ranks, 2, timeout_s=0)

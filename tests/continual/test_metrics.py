import pytest
import torch

from seqlab.continual import metrics

R = [[0.9, 0.1, 0.2], [0.6, 0.8, 0.3], [0.5, 0.7, 0.95]]


def test_accuracy_matrix_metrics_match_hand_computation():
    assert metrics.average_accuracy(R) == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    # forgetting: exp0 best 0.9 -> 0.5 (0.4); exp1 best 0.8 -> 0.7 (0.1)
    assert metrics.forgetting(R) == pytest.approx(0.25)
    assert metrics.backward_transfer(R) == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)
    # forward transfer: R[0,1]-b1 = 0.1-0.5, R[1,2]-b2 = 0.3-0.5
    assert metrics.forward_transfer(R, [0.5, 0.5, 0.5]) == pytest.approx(-0.3)


def test_single_experience_and_bad_input():
    assert metrics.forgetting([[0.7]]) == 0.0
    with pytest.raises(ValueError, match="square"):
        metrics.average_accuracy([[0.1, 0.2]])
    with pytest.raises(ValueError, match="NaN"):
        metrics.forgetting([[float("nan")]])
    with pytest.raises(ValueError, match="baseline"):
        metrics.forward_transfer(R, [0.1])


def test_online_and_minimum_accuracy():
    assert metrics.online_accuracy([1.0, 0.5, 0.0]) == pytest.approx(0.5)
    curves = [[0.9, 0.4, 0.6], [0.0, 0.8, 0.7]]
    assert metrics.minimum_accuracy(curves, [0, 1]) == pytest.approx((0.4 + 0.7) / 2)
    with pytest.raises(ValueError):
        metrics.online_accuracy([])


def test_compatibility_metrics_hand_computed():
    M = torch.tensor([[0.5, 0.0, 0.0], [0.6, 0.7, 0.0], [0.4, 0.8, 0.75]])
    crit = metrics.compatibility_criterion(M)
    # pairs (1,0): 0.6>0.5 yes; (2,0): 0.4>0.5 no; (2,1): 0.8>0.7 yes
    assert crit.tolist() == [[False, False, False], [True, False, False], [False, True, False]]
    assert metrics.compatibility_ac(M) == pytest.approx(2 / 3)
    assert metrics.compatibility_am(M) == pytest.approx((0.5 + 0.6 + 0.7 + 0.4 + 0.8 + 0.75) / 6)

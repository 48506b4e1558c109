"""Pointer decoding: beam search against exhaustive enumeration, greedy = 1 beam, stop and masks."""

import itertools

import pytest
import torch

from seqlab.decode.pointer import pointer, pointer_beam, pointer_greedy, sequence_logprob
from seqlab.models.pointer import PointerNetwork
from seqlab.registry import get


def _hull_inputs(b, n, seed):
    x = torch.rand(b, n + 1, 3, generator=torch.Generator().manual_seed(seed))
    x[:, :, 2] = 0.0
    x[:, -1] = torch.tensor([0.0, 0.0, 1.0])
    return x


def _stop_sequences(n_points):
    """Every output of a stop model: an ordered subset of distinct points, then the stop (padded)."""
    stop, out = n_points, []
    for k in range(n_points + 1):
        for p in itertools.permutations(range(n_points), k):
            out.append(list(p) + [stop] * (n_points + 1 - k))
    return torch.tensor(out)


def _sharpen(net, scale=6.0):
    with torch.no_grad():
        net.v.weight.mul_(scale)  # peakier pointer distributions: the best sequence is not trivial
    return net


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beam_finds_the_most_probable_tour_by_enumeration(seed):
    torch.manual_seed(seed)
    net = _sharpen(PointerNetwork(d_input=2, d_model=16)).eval()
    x = torch.rand(2, 5, 2)
    perms = torch.tensor(list(itertools.permutations(range(5))))
    with torch.no_grad():
        for r in range(2):
            lp = sequence_logprob(net, x[r : r + 1].expand(len(perms), -1, -1), perms)
            out, score = pointer_beam(net, x[r : r + 1], 120)
            assert out[0].tolist() == perms[lp.argmax()].tolist()
            assert float(score[0]) == pytest.approx(float(lp.max()), abs=1e-4)
            few, few_score = pointer_beam(net, x[r : r + 1], 2)
            assert float(few_score[0]) <= float(score[0]) + 1e-5
            assert sorted(few[0].tolist()) == list(range(5)), "a valid tour"


def test_beam_with_a_stop_row_finds_the_most_probable_output_by_enumeration():
    seqs = _stop_sequences(4)  # 65 outputs
    checked = 0
    for seed in range(40):  # random nets; keep those whose most probable output has >= 2 points
        torch.manual_seed(seed)
        net = _sharpen(PointerNetwork(d_input=3, d_model=16, stop_last=True)).eval()
        x = _hull_inputs(1, 4, seed)
        with torch.no_grad():
            lp = sequence_logprob(net, x.expand(len(seqs), -1, -1), seqs)
            best = seqs[lp.argmax()]
            if int((best != 4).sum()) < 2:
                continue
            out, score = pointer_beam(net, x, len(seqs))
        assert out[0].tolist() == best.tolist()
        assert float(score[0]) == pytest.approx(float(lp.max()), abs=1e-4)
        checked += 1
    assert checked >= 3


def test_sequence_logprob_against_a_step_loop():
    torch.manual_seed(0)
    net = PointerNetwork(d_input=3, d_model=16, stop_last=True).eval()
    x = _hull_inputs(1, 4, 0)
    y = torch.tensor([[2, 0, 4, 4, 4]])
    with torch.no_grad():
        state, want = net.begin(x), 0.0
        for i in range(3):  # up to and including the stop
            u, state = net.scores(state)
            want += float(torch.log_softmax(u, -1)[0, y[0, i]])
            state = net.advance(state, y[:, i])
        assert float(sequence_logprob(net, x, y)[0]) == pytest.approx(want, abs=1e-5)


def test_one_beam_is_greedy_and_outputs_stop_after_the_first_stop():
    torch.manual_seed(0)
    net = PointerNetwork(d_input=3, d_model=16, stop_last=True).eval()
    x = _hull_inputs(6, 6, 1)
    g = pointer_greedy(net, x)
    assert torch.equal(g, pointer_beam(net, x, 1)[0])
    for row in g.tolist():
        if 6 in row:
            assert all(i == 6 for i in row[row.index(6) :])
        points = [i for i in row if i != 6]
        assert len(points) == len(set(points)), "no point twice"
    torch.manual_seed(1)
    tsp = PointerNetwork(d_input=2, d_model=16).eval()
    y = torch.rand(4, 7, 2)
    assert torch.equal(pointer_greedy(tsp, y), pointer_beam(tsp, y, 1)[0])
    assert torch.equal(pointer(tsp, y), pointer_greedy(tsp, y))
    assert torch.equal(pointer(tsp, y, method="beam", num_beams=3), pointer_beam(tsp, y, 3)[0])


def test_stop_row_is_never_masked_and_step_api_equals_forward():
    torch.manual_seed(0)
    net = PointerNetwork(d_input=3, d_model=16, stop_last=True).eval()
    x = _hull_inputs(2, 3, 0)
    t = torch.tensor([[3, 3, 0, 1], [1, 3, 3, 3]])
    logits = net(x, t)
    assert (logits[:, :, 3] > torch.finfo(logits.dtype).min).all()
    assert logits[0, 3, 0] == torch.finfo(logits.dtype).min  # point 0 was chosen
    state, steps = net.begin(x), []
    for i in range(4):
        u, state = net.scores(state)
        steps.append(u)
        state = net.advance(state, t[:, i])
    assert torch.equal(torch.stack(steps, 1), logits)


def test_registered_and_bad_input():
    assert "beam" in get("decoder", "pointer").info["description"]
    net = PointerNetwork(d_input=2, d_model=8).eval()
    x = torch.rand(2, 4, 2)
    with pytest.raises(ValueError, match="num_beams >= 1"):
        pointer_beam(net, x, 0)
    with pytest.raises(ValueError, match="'greedy' or 'beam'"):
        pointer(net, x, method="sample")
    with pytest.raises(ValueError, match="PointerNetwork"):
        pointer_beam(torch.nn.Linear(2, 2), x, 2)
    with pytest.raises(ValueError, match="at most n=4 outputs"):
        pointer_beam(net, x, 2, n_out=5)
    with pytest.raises(ValueError, match="at least one point before the stop row"):
        PointerNetwork(d_input=3, d_model=8, stop_last=True)(torch.rand(1, 1, 3))

import pytest
import torch

from seqlab.tokenize.base import PAD, codebook_stats
from seqlab.tokenize.kmeans import squared_distances, squared_distances_reference
from seqlab.tokenize.vq import VectorQuantizer, dedup_units, rotation_trick


def mixture(n, k, dim, seed=0, spread=3.0, noise=0.1):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(k, dim, generator=g) * spread
    labels = torch.randint(k, (n,), generator=g)
    return centres[labels] + noise * torch.randn(n, dim, generator=g), labels, centres


def test_fast_distances_match_direct_sum():
    g = torch.Generator().manual_seed(1)
    x, c = torch.randn(37, 11, generator=g), torch.randn(13, 11, generator=g)
    fast, ref = squared_distances(x, c), squared_distances_reference(x, c)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
@pytest.mark.parametrize("heads", [1, 3])
def test_fast_assignment_matches_reference(metric, heads):
    vq = VectorQuantizer(12, 19, heads=heads, metric=metric, kmeans_init=False)
    z = vq._prep(torch.randn(41, heads, 12 // heads, generator=torch.Generator().manual_seed(2)))
    assert torch.equal(vq.assign(z), vq.assign_reference(z))


def test_any_leading_shape_masks_and_pad_codes():
    vq = VectorQuantizer(8, 16, heads=2, kmeans_init=False)
    x = torch.randn(2, 5, 3, 8)
    mask = torch.rand(2, 5, 3, generator=torch.Generator().manual_seed(0)) > 0.3
    out = vq(x, mask)
    assert out.codes.shape == (2, 5, 3, 2) and out.quantized.shape == x.shape
    assert (out.codes[~mask] == PAD).all() and (out.codes[mask] >= 0).all()
    assert (out.quantized[~mask] == 0).all()
    vq.eval()
    codes = vq.encode(x, mask)
    assert (codes[~mask] == PAD).all()
    assert (vq.decode(codes)[~mask] == 0).all() and (vq.decode(codes)[mask] != 0).any()


def test_masked_positions_do_not_touch_the_codebook():
    x = torch.randn(64, 8)
    mask = torch.arange(64) < 40
    a = VectorQuantizer(8, 16, seed=3)
    b = VectorQuantizer(8, 16, seed=3)
    x2 = x.clone()
    x2[~mask] = 100.0  # garbage at padded positions
    a(x, mask)
    b(x2, mask)
    assert torch.equal(a.embed, b.embed)


def test_round_trip_is_exact_on_codebook_vectors():
    x, _, _ = mixture(600, 8, 6)
    vq = VectorQuantizer(6, 8)
    vq(x)
    vq.eval()
    codes = vq.encode(x)
    assert torch.equal(vq.encode(vq.decode(codes)), codes)
    assert torch.equal(vq.decode(torch.arange(8)), vq.embed[0])


def test_kmeans_init_finds_the_clusters():
    x, labels, _ = mixture(2000, 32, 16, noise=0.05)
    vq = VectorQuantizer(16, 32)
    out = vq(x)
    assert out.metrics["usage"] == 1.0
    # every code is pure: one mixture component per code
    codes = vq.encode(x)
    for k in codes.unique():
        assert labels[codes == k].unique().numel() == 1
    assert out.metrics["perplexity"] > 0.9 * 32


def test_straight_through_gradient_is_identity():
    vq = VectorQuantizer(6, 8, kmeans_init=False)
    x = torch.randn(10, 6, requires_grad=True)
    g = torch.randn(10, 6)
    (vq(x).quantized * g).sum().backward()
    torch.testing.assert_close(x.grad, g)


def test_rotation_trick_value_and_gradient():
    gen = torch.Generator().manual_seed(5)
    z = torch.randn(7, 5, generator=gen, dtype=torch.float64, requires_grad=True)
    e = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    g = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    out = rotation_trick(z, e)
    torch.testing.assert_close(out, e)
    (out * g).sum().backward()
    for i in range(7):  # explicit matrix lambda R, gradient = (lambda R)^T g
        u, v = z[i].detach() / z[i].detach().norm(), e[i] / e[i].norm()
        w = (u + v) / (u + v).norm()
        r = torch.eye(5, dtype=torch.float64) - 2 * torch.outer(w, w) + 2 * torch.outer(v, u)
        lam = e[i].norm() / z[i].detach().norm()
        torch.testing.assert_close(lam * r @ z[i].detach(), e[i])
        torch.testing.assert_close(z.grad[i], lam * r.t() @ g[i])


def test_rotation_estimator_reaches_the_input():
    vq = VectorQuantizer(6, 8, estimator="rotation", kmeans_init=False)
    x = torch.randn(10, 6, requires_grad=True)
    out = vq(x)
    (out.quantized.pow(2).sum() + out.loss).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_gradient_codebook_gets_codebook_loss_gradient():
    vq = VectorQuantizer(6, 8, ema=False, kmeans_init=False)
    out = vq(torch.randn(30, 6))
    assert set(out.losses) == {"commitment", "codebook"}
    out.loss.backward()
    assert vq.embed.grad is not None and vq.embed.grad.abs().sum() > 0


def test_ema_moves_only_the_used_codes():
    vq = VectorQuantizer(4, 10, kmeans_init=False, decay=0.5)
    vq(torch.randn(50, 4))  # first batch sets the usage statistics
    x = torch.randn(50, 4) * 0.1 + vq.embed[0, 2]  # all near code 2 (and maybe a neighbour)
    before = vq.embed.clone()
    vq.eval()
    used = vq.encode(x).unique()
    vq.train()
    vq(x)
    unused = torch.tensor([k for k in range(10) if k not in used.tolist()])
    torch.testing.assert_close(vq.embed[0, unused], before[0, unused])
    assert not torch.allclose(vq.embed[0, used], before[0, used])
    # code 2 moved toward the mean of its assigned vectors
    assert (vq.embed[0, 2] - x.mean(0)).norm() < (before[0, 2] - x.mean(0)).norm() + 1e-6


def test_dead_code_restart_replaces_only_dead_codes_with_batch_vectors():
    vq = VectorQuantizer(4, 6, kmeans_init=False, decay=0.5, dead_threshold=1.0)
    far = torch.randn(6, 4) * 100  # codes nobody will pick
    vq.embed.copy_(far)
    vq.embed_sum.copy_(far * 5)
    vq.cluster_size.fill_(5.0)
    vq.batches_seen.fill_(1)
    x = far[0] + torch.randn(40, 4) * 0.01  # everything goes to code 0
    vq(x)
    # codes 1..5 decayed to 2.5, then 1.25, ... below 1 after a few batches: restarted from x
    for _ in range(3):
        vq(x)
    assert vq.restarts >= 5
    for k in range(1, 6):
        assert (vq.embed[0, k] - x).norm(dim=-1).min() < 1.0  # now sits on a batch vector
    assert (vq.embed[0, 0] - x.mean(0)).norm() < 0.1


def test_same_seed_same_codebook():
    x, _, _ = mixture(500, 8, 6)
    a = VectorQuantizer(6, 16, seed=7, dead_threshold=0.5)
    b = VectorQuantizer(6, 16, seed=7, dead_threshold=0.5)
    for _ in range(3):
        a(x)
        b(x)
    assert torch.equal(a.embed, b.embed)
    c = VectorQuantizer(6, 16, seed=8, dead_threshold=0.5)
    c(x)
    assert not torch.equal(a.embed, c.embed)


def test_init_from_several_batches_uses_all_of_them():
    x, _, _ = mixture(800, 16, 6, noise=0.01)
    vq = VectorQuantizer(6, 16, init_batches=2)
    vq(x[:400])
    vq(x[400:])
    assert vq.batches_seen == 2 and vq._init_pool == []
    vq.eval()
    assert codebook_stats(vq.encode(x), 16)["usage"] == 1.0


def test_ssl_frames_to_unit_sequence():
    # "Beyond Orthography": continuous frame features -> quantized unit sequence (runs collapsed)
    g = torch.Generator().manual_seed(0)
    phones = torch.randn(5, 12, generator=g) * 3
    script = [[0, 3, 1, 4], [2, 2, 0], [4, 1, 3, 0, 2]]
    frames, targets = [], []
    for seq in script:
        f = torch.cat([phones[p].expand(int(torch.randint(3, 7, (1,), generator=g)), 12) for p in seq])
        frames.append(f + 0.05 * torch.randn(f.shape, generator=g))
        targets.append(seq)
    length = max(f.shape[0] for f in frames)
    batch = torch.zeros(len(frames), length, 12)
    mask = torch.zeros(len(frames), length, dtype=torch.bool)
    for i, f in enumerate(frames):
        batch[i, : f.shape[0]], mask[i, : f.shape[0]] = f, True
    vq = VectorQuantizer(12, 5)
    vq(batch, mask)
    vq.eval()
    units = dedup_units(vq.encode(batch, mask))
    mapping = {}
    for u, t in zip(units, targets):
        collapsed = [t[0]] + [b for a, b in zip(t, t[1:]) if a != b]
        assert len(u) == len(collapsed)
        for a, b in zip(u, collapsed):
            assert mapping.setdefault(a, b) == b


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda vq: vq(torch.randn(4, 7)), r"\(\.\.\., 8\)"),
        (lambda vq: vq(torch.full((4, 8), float("nan"))), "finite"),
        (lambda vq: vq(torch.randn(0, 8)), "non-empty"),
        (lambda vq: vq(torch.randn(4, 8, dtype=torch.float64).long()), r"\(\.\.\., 8\)|floating"),
        (lambda vq: vq(torch.randn(4, 8), torch.ones(3, dtype=torch.bool)), "mask"),
        (lambda vq: vq(torch.randn(5, 8)), "at least 16 vectors"),
        (lambda vq: vq.decode(torch.tensor([16])), r"\[0, 16\)"),
        (lambda vq: vq.decode(torch.tensor([0.5])), "integer"),
    ],
)
def test_bad_input_fails_clearly(call, match):
    with pytest.raises(ValueError, match=match):
        call(VectorQuantizer(8, 16))


def test_bad_config_fails_clearly():
    with pytest.raises(ValueError, match="divisible by heads"):
        VectorQuantizer(10, 16, heads=3)
    with pytest.raises(ValueError, match="metric"):
        VectorQuantizer(8, 16, metric="manhattan")
    with pytest.raises(ValueError, match="codebook_size"):
        VectorQuantizer(8, 1)


@pytest.mark.parametrize("heads", [1, 2])
def test_ema_update_matches_per_code_loop(heads):
    vq = VectorQuantizer(6, 5, heads=heads, kmeans_init=False, decay=0.7)
    vq(torch.randn(23, 6))  # sets usage statistics
    n0, m0 = vq.cluster_size.clone(), vq.embed_sum.clone()
    x = torch.randn(31, 6)
    vq.eval()
    codes = vq.encode(x).reshape(31, heads)
    vq.train()
    vq(x)
    z = x.reshape(31, heads, 6 // heads)
    for h in range(heads):
        for k in range(5):
            sel = codes[:, h] == k
            n = 0.7 * n0[h, k] + 0.3 * sel.sum()
            m = 0.7 * m0[h, k] + 0.3 * z[sel, h].sum(0)
            torch.testing.assert_close(vq.cluster_size[h, k], n)
            torch.testing.assert_close(vq.embed[h, k], m / n)


def test_cosine_codebook_outputs_unit_vectors():
    vq = VectorQuantizer(8, 16, metric="cosine")
    out = vq(torch.randn(100, 8) * 5)
    torch.testing.assert_close(out.quantized.norm(dim=-1), torch.ones(100))
    torch.testing.assert_close(vq.decode(out.codes).norm(dim=-1), torch.ones(100))

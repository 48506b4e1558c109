"""The positive controls' run settings (docs/controls_notes.md).

Randomized positions: a non-causal encoder with RoPE alone sees only relative offsets, and the
Chomsky tasks' format (string, then blanks) has no start token, so it cannot tell the first symbol
apart -- even_pairs is [s_1 != s_L]. Both arms therefore add sinusoidal positions to the embeddings
("Randomized Positional Encodings Boost Length Generalization of Transformers", arXiv 2305.16843),
sampled as the ordered subset of [0, M) in the randomized arm.
"""

import torch

from seqlab.bench.findings import RANDOMIZED_POSITIONS, SELECTIVE_COPYING, SELECTIVE_STEPS
from seqlab.bench.run import build_model, build_task
from seqlab.papers.claims import rpe_arms


def _embeddings(cfg, train: bool, seed: int = 0):
    task = build_task(cfg)
    model = build_model(cfg, task)
    model.train(train)
    inp = torch.zeros(1, 12, dtype=torch.long)  # one repeated token: only positions tell slots apart
    torch.manual_seed(seed)
    x, _ = model.embed_inputs(inp)
    return x[0]


def test_rpe_arms_give_the_encoder_absolute_positions():
    arms = rpe_arms("even_pairs", 0)
    for name, cfg in arms.items():
        assert cfg.pos_enc == "sinusoidal", name
        assert cfg.mixer_cfg == {"causal": False}, name
        x = _embeddings(cfg, train=False)
        # every slot of a constant string embeds differently: the first symbol is identifiable
        assert torch.cdist(x, x).add(torch.eye(len(x)) * 1e9).min() > 1e-3, name


def test_randomized_arm_samples_absolute_positions_at_evaluation_too():
    cfg = rpe_arms("even_pairs", 0)["even_pairs/randomized"]
    a, b = _embeddings(cfg, train=False), _embeddings(cfg, train=False)
    c = _embeddings(cfg, train=False, seed=1)
    assert torch.equal(a, b)  # same seed, same sampled subset
    assert not torch.allclose(a, c)  # another draw of the ordered subset of [0, 256)


def test_findings_use_the_control_settings():
    runs = RANDOMIZED_POSITIONS.make_runs(0)
    assert all(r.pos_enc == "sinusoidal" for r in runs.values())
    sel = SELECTIVE_COPYING.make_runs(0)
    assert sel["mamba"].steps == sel["s4d"].steps == SELECTIVE_STEPS

"""Fixes found while checking strategies against their papers (issue 9, item 3)."""

import torch

from seqlab.continual import TrainConfig, make_strategy


def test_sema_trains_only_the_current_experiences_head_rows(digits_streams):
    """SEMA masks the logits of earlier classes while a later experience trains (authors' loop)."""
    stream = digits_streams["class"]
    s = make_strategy("sema")
    s.setup(stream, TrainConfig(steps=3, batch_size=16, hidden=32))
    model = s.build_model()
    s.n_seen = 2
    s.before_experience(model, stream.experiences[1])
    old = list(stream.experiences[0].units)
    x, y = stream.experiences[1].x_train[:16], stream.experiences[1].y_train[:16]
    batch = s.make_batch(x, y, torch.full((16,), 1))
    assert batch["active"][:, old].all()  # class-IL: the old units are active at test time ...
    loss, _ = s.loss(model, batch)
    loss.backward()
    g = model.head.weight.grad
    assert g[old].abs().sum() == 0 and model.head.bias.grad[old].abs().sum() == 0  # ... not in training
    assert g[list(stream.experiences[1].units)].abs().sum() > 0

"""The shared training loop: schedule, convergence, best-epoch restore, early stopping, errors."""

import math

import pytest
import torch

from cgflow import training


def line_data(n=256, seed=0):
    """y = 2 x + 1 plus noise of standard deviation 0.1."""
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=generator)
    return x, 2 * x + 1 + 0.1 * torch.randn(n, 1, generator=generator)


def squared_error(model, x, y):
    return ((model(x) - y) ** 2).mean()


def test_learning_rate_warms_up_linearly_then_decays_by_cosine():
    config = training.TrainingConfig(epochs=10, learning_rate=1e-2, warmup_epochs=2, final_learning_rate_fraction=0.1)
    factor = training._schedule(config, steps_per_epoch=5)
    assert [factor(step) for step in range(10)] == pytest.approx([(k + 1) / 10 for k in range(10)])
    assert factor(10) == pytest.approx(1.0)  # the peak, at the end of the warm-up
    assert factor(10 + 20) == pytest.approx(0.1 + 0.9 * 0.5)  # half-way through the decay
    assert factor(50) == pytest.approx(0.1) and factor(60) == pytest.approx(0.1)  # the floor, and after it
    no_warmup = training._schedule(training.TrainingConfig(epochs=4, final_learning_rate_fraction=0.0), steps_per_epoch=1)
    assert [no_warmup(step) for step in range(5)] == pytest.approx([1.0, 0.5 + 0.5 * math.cos(math.pi / 4), 0.5, 0.5 - 0.5 * math.cos(math.pi / 4), 0.0])


def test_fit_recovers_a_line_and_records_its_history():
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    x, y = line_data()
    config = training.TrainingConfig(epochs=40, batch_size=32, learning_rate=0.05, warmup_epochs=1, patience=None, progress=False)
    history = training.fit(model, squared_error, (x, y), (x[:64], y[:64]), config)
    assert model.weight.item() == pytest.approx(2.0, abs=0.03) and model.bias.item() == pytest.approx(1.0, abs=0.03)
    assert len(history.train) == len(history.validation) == len(history.learning_rate) == 40
    assert history.train[-1] < 0.015  # the noise variance is 0.01
    # the model ends with the parameters of the best validation epoch
    assert squared_error(model, x[:64], y[:64]).item() == pytest.approx(min(history.validation), rel=1e-5)


def test_early_stopping_ends_after_patience_epochs_without_improvement():
    model = torch.nn.Linear(1, 1)
    x, y = line_data()
    # A learning rate of zero never improves on the first epoch.
    config = training.TrainingConfig(epochs=50, batch_size=64, learning_rate=0.0, patience=3, progress=False)
    history = training.fit(model, squared_error, (x, y), (x, y), config)
    assert history.best_epoch == 0 and len(history.train) == 4


def test_bad_inputs_and_a_diverging_loss_are_named():
    model = torch.nn.Linear(1, 1)
    x, y = line_data()
    with pytest.raises(ValueError, match="share their first dimension"):
        training.fit(model, squared_error, (x, y[:10]), config=training.TrainingConfig(progress=False))
    with pytest.raises(ValueError, match="streams must be at least 1"):
        training.fit(model, squared_error, (x, y), config=training.TrainingConfig(progress=False), streams=0)
    with pytest.raises(FloatingPointError, match="epoch 0, step 0"):
        training.fit(model, lambda m, x, y: squared_error(m, x, y) * float("nan"), (x, y), config=training.TrainingConfig(progress=False))


def test_streams_shuffle_independently_and_each_sees_every_frame_once_per_epoch():
    n, streams, batch_size = 50, 3, 16
    frame_ids = torch.arange(n)
    seen = []

    def recording_loss(model, x, ids):
        assert x.shape == (streams, ids.shape[-1], 1)  # every tensor gets the [streams, batch] layout
        seen.append(ids)
        return (model(x) ** 2).mean()

    config = training.TrainingConfig(epochs=2, batch_size=batch_size, learning_rate=1e-3, patience=None, progress=False)
    training.fit(torch.nn.Linear(1, 1), recording_loss, (torch.randn(n, 1), frame_ids), config=config, streams=streams)
    steps = math.ceil(n / batch_size)
    assert len(seen) == 2 * steps
    for epoch in range(2):
        orders = torch.cat(seen[epoch * steps : (epoch + 1) * steps], dim=1)
        for order in orders:
            assert torch.equal(order.sort().values, frame_ids)
        assert not torch.equal(orders[0], orders[1]) and not torch.equal(orders[1], orders[2])
    assert not torch.equal(torch.cat(seen[:steps], 1), torch.cat(seen[steps:], 1))  # a new shuffle per epoch

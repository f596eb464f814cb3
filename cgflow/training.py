"""The one training loop of teacher and student, and versioned checkpoints.

:func:`fit` minimises a loss over mini-batches with Adam and a cosine learning-rate schedule,
evaluates a validation loss after every epoch, keeps the parameters of the best validation
epoch (early stopping after ``patience`` epochs without improvement) and shows a tqdm bar
(hidden with ``CGFLOW_PROGRESS=0``, as in the static book and the unit tests). Training
frames are shuffled *within* the training set; the split into training and validation data is
contiguous (see ``CGDataset.split``). Under ``torchrun`` (see :mod:`cgflow.distributed`) every
global batch is shared out among the processes and their gradients averaged, so that a run
follows the same path on any number of processes.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import distributed
from ._version import __version__
from .runtime import progress_bars

#: Bump when the layout of checkpoints changes; older files are refused with a clear error.
CHECKPOINT_FORMAT = 4  # 2: CGNet features ordered by chain separation; 3: z-scores in a `scale` submodule; 4: CGNet network ensemble


@dataclass
class TrainingConfig:
    """Optimisation settings. ``epochs`` is the maximum; ``patience`` None disables early stopping."""

    epochs: int = 50
    batch_size: int = 256
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    final_learning_rate_fraction: float = 0.05  # cosine schedule from lr to lr * fraction
    warmup_epochs: float = 0.0  # linear ramp of the learning rate from ~0 to lr over these epochs
    patience: int | None = 10
    max_gradient_norm: float | None = None  # clip the global gradient norm (None: no clipping)
    seed: int = 0
    progress: bool | None = None  # None: a bar unless CGFLOW_PROGRESS=0


@dataclass
class History:
    """Per-epoch mean losses, the best validation epoch (0-based) and the training time in s."""

    train: list[float] = field(default_factory=list)
    validation: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)
    best_epoch: int = -1
    seconds: float = 0.0



LossFunction = Callable[..., torch.Tensor]


def as_model_tensor(values, device: torch.device | str) -> torch.Tensor:
    """``values`` (a NumPy array, a list, or a torch tensor on any device) as a tensor of the
    default float dtype on ``device``, detached; a tensor already there is not copied. The one
    door through which data enter a model's training, so a teacher sample on the GPU can be
    handed straight to a student."""
    if isinstance(values, torch.Tensor):
        return values.detach().to(device=device, dtype=torch.get_default_dtype())
    return torch.as_tensor(np.asarray(values), dtype=torch.get_default_dtype(), device=device)


def _schedule(config: TrainingConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """Learning-rate factor per optimiser step: a linear warm-up over ``warmup_epochs``, then a
    cosine decay from 1 to ``final_learning_rate_fraction`` at the last step."""
    warmup = round(config.warmup_epochs * steps_per_epoch)
    decay = max(1, config.epochs * steps_per_epoch - warmup)
    floor = config.final_learning_rate_fraction

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * min(1.0, (step - warmup) / decay)))

    return factor


def _mean_loss(model: torch.nn.Module, loss: LossFunction, data: Sequence[torch.Tensor], batch_size: int) -> float:
    """Frame-weighted mean of ``loss`` over ``data`` in batches (gradients are still enabled
    because forces need autograd; nothing is stepped); each process of a distributed run
    evaluates its share and the totals are summed."""
    total, count = 0.0, 0
    share = distributed.shard(len(data[0]))
    data = [t[share] for t in data]
    n = len(data[0])
    for start in range(0, n, batch_size):
        batch = [t[start : start + batch_size] for t in data]
        value = loss(model, *batch)
        total += float(value.detach()) * len(batch[0])
        count += len(batch[0])
    total, count = distributed.total(total, count)
    return total / count


def fit(
    model: torch.nn.Module,
    loss: LossFunction,
    train_data: Sequence[torch.Tensor],
    validation_data: Sequence[torch.Tensor] | None = None,
    config: TrainingConfig | None = None,
    after_step: Callable[[torch.nn.Module], None] | None = None,
    description: str = "training",
    streams: int = 1,
) -> History:
    """Train ``model`` in place to minimise ``loss(model, *batch)``.

    ``train_data`` and ``validation_data`` are sequences of tensors with frames along the
    first dimension (e.g. positions, forces, weights), already on the model's device.
    ``after_step(model)`` runs after every optimiser step (e.g. a Lipschitz projection).
    ``streams`` > 1 draws that many independent shuffles per epoch: every training batch
    tensor then has a leading ``[streams, batch]`` shape (one batch per ensemble member, so
    that members do not share their mini-batch noise); validation batches keep ``[batch]``.
    Returns the :class:`History`; the model ends with the parameters of the best epoch.
    """
    config = config or TrainingConfig()
    n = len(train_data[0])
    if n == 0 or any(len(t) != n for t in train_data):
        raise ValueError(f"training tensors must be non-empty and share their first dimension, got {[len(t) for t in train_data]}")
    if streams < 1:
        raise ValueError(f"streams must be at least 1, got {streams}")
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(n / config.batch_size)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(config, steps_per_epoch))
    history = History()
    best_state, best_value, stale = None, math.inf, 0
    show = (progress_bars() if config.progress is None else config.progress) and distributed.is_main()
    distributed.broadcast_state(model)
    start = time.perf_counter()
    epochs = tqdm(range(config.epochs), desc=description, disable=not show, unit="epoch")
    for epoch in epochs:
        order = torch.stack([torch.randperm(n, generator=generator) for _ in range(streams)]).to(train_data[0].device)
        if streams == 1:
            order = order[0]
        running = 0.0
        for step in range(steps_per_epoch):
            batch = order[..., step * config.batch_size : (step + 1) * config.batch_size]
            index = batch[..., distributed.shard(batch.shape[-1])]  # this process's share of the global batch
            optimizer.zero_grad(set_to_none=True)
            if index.shape[-1]:
                value = loss(model, *[t[index] for t in train_data])
                distributed.check_finite(value, f"{description}, epoch {epoch}, step {step}")
                value.backward()
                running += float(value.detach()) * index.shape[-1]
            else:
                distributed.check_finite(torch.zeros(()), f"{description}, epoch {epoch}, step {step}")
            distributed.average_gradients(model, index.shape[-1] / batch.shape[-1])
            if config.max_gradient_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_gradient_norm)
            optimizer.step()
            schedule.step()
            if after_step is not None:
                after_step(model)
        history.train.append(distributed.total(running)[0] / n)
        history.learning_rate.append(schedule.get_last_lr()[0])
        monitored = history.train[-1]
        if validation_data is not None:
            history.validation.append(_mean_loss(model, loss, validation_data, config.batch_size))
            monitored = history.validation[-1]
        if monitored < best_value:
            best_value, best_state, stale = monitored, copy.deepcopy(model.state_dict()), 0
            history.best_epoch = epoch
        else:
            stale += 1
        postfix = {"train": f"{history.train[-1]:.4g}"}
        if history.validation:
            postfix["validation"] = f"{history.validation[-1]:.4g}"
        epochs.set_postfix(postfix)
        if config.patience is not None and stale >= config.patience:
            break
    epochs.close()
    model.load_state_dict(best_state)
    history.seconds = time.perf_counter() - start
    return history


def save_checkpoint(path: Path | str, kind: str, config: dict, state: dict, extra: dict | None = None) -> None:
    """Write a checkpoint of a model of ``kind`` (e.g. ``"CGNet"``) with its configuration
    (a dict of plain values), its ``state_dict`` and any extra tensors or values; in a
    distributed run rank 0 writes it and the others wait until it is there."""
    content = {"format": CHECKPOINT_FORMAT, "kind": kind, "cgflow_version": __version__, "config": config, "state": state, "extra": extra or {}}
    distributed.on_main(lambda: torch.save(content, Path(path)))


def load_checkpoint(path: Path | str, kind: str) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint`, refusing other kinds and formats."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint at {path}")
    try:
        content = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a truncated or foreign file
        raise ValueError(f"{path} is not a readable cgflow checkpoint: {error}") from error
    if not isinstance(content, dict) or "format" not in content:
        raise ValueError(f"{path} is not a cgflow checkpoint")
    if content["format"] != CHECKPOINT_FORMAT:
        raise ValueError(
            f"{path} was written by cgflow {content.get('cgflow_version')} in checkpoint format {content['format']};"
            f" this cgflow {__version__} reads format {CHECKPOINT_FORMAT}. Retrain the model or use that version."
        )
    if content["kind"] != kind:
        raise ValueError(f"{path} holds a {content['kind']}, not a {kind}")
    return content



class Checkpointable:
    """Mixin for a ``torch.nn.Module`` built from a dataclass ``self.config`` (of type
    ``config_class``): ``save(path)`` and ``load(path)`` through versioned checkpoints."""

    config_class: type

    def save(self, path: Path | str) -> None:
        """Write config and parameters to a versioned checkpoint at ``path``."""
        save_checkpoint(path, type(self).__name__, asdict(self.config), self.state_dict())

    @classmethod
    def load(cls, path: Path | str, device: str | torch.device = "cpu"):
        content = load_checkpoint(path, cls.__name__)
        try:
            model = cls(cls.config_class(**content["config"]))
            model.load_state_dict(content["state"])
        except (TypeError, RuntimeError) as error:
            raise ValueError(f"{path}: the checkpoint does not fit this version's {cls.__name__}: {error}") from error
        return model.to(device)

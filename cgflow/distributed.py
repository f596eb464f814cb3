"""Data-parallel training and sharded sampling over ``torch.distributed`` processes.

Start a script under ``torchrun`` (``torchrun --nproc-per-node 2 script.py`` on one machine,
or one ``torchrun`` per node under a cluster scheduler) and call :func:`initialise` once:
then :func:`cgflow.training.fit` (the teacher's ``fit`` and the student's alike) splits every
global batch across the processes, averages the gradients and keeps the parameters identical
on all of them; checkpoints are written by rank 0 only; :func:`sample` shards a flow's samples
and :func:`run_tempering` a simulation's parallel-tempering walkers, and both gather them. Without an initialised process group everything runs in one process, as
before. Random draws inside a loss (the teacher's augmented channels) come from each process's
global generator: after building the model with a common seed, seed each process differently
(``seed_everything(seed + rank())``), or every process draws the same noise.

Why not ``DistributedDataParallel``: force matching differentiates the forces (themselves a
gradient, ``create_graph=True``), and DDP's reducer neither supports nor synchronises such
double-backward gradients (PyTorch issues 47562 and 63831). The gradients are averaged here
with one ``all_reduce`` per step, which is the same arithmetic as DDP's, for any loss.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable

import torch
import torch.distributed as dist

#: How long a collective waits for a missing process before the run fails (instead of hanging).
TIMEOUT = datetime.timedelta(minutes=5)


def active() -> bool:
    """True inside an initialised process group with more than one process."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    """This process's rank (0 without a process group)."""
    return dist.get_rank() if active() else 0


def world_size() -> int:
    """Number of processes (1 without a process group)."""
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Whether this process writes files and shows progress bars (rank 0)."""
    return rank() == 0


def initialise(backend: str | None = None) -> torch.device:
    """Join the process group that ``torchrun`` describes in the environment (``RANK``,
    ``WORLD_SIZE``, ``MASTER_ADDR``...) and return this process's device: ``cuda:LOCAL_RANK``
    with the ``nccl`` backend when CUDA is present, else the CPU with ``gloo``. Outside
    ``torchrun`` (no ``WORLD_SIZE``) nothing is joined and the default device is returned."""
    from .runtime import default_device

    if "WORLD_SIZE" not in os.environ:
        return default_device()
    cuda = torch.cuda.is_available() and os.environ.get("CGFLOW_DEVICE", "") != "cpu"
    backend = backend or ("nccl" if cuda else "gloo")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}") if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend, timeout=TIMEOUT)
    return device


def shutdown() -> None:
    """Leave the process group (call at the end of a ``torchrun`` script)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(n: int, part: int | None = None, parts: int | None = None) -> slice:
    """Contiguous share ``part`` of ``n`` items split into ``parts`` (default: this rank of the
    world); shares differ in size by at most one and cover ``0..n`` in rank order."""
    part = rank() if part is None else part
    parts = world_size() if parts is None else parts
    base, extra = divmod(n, parts)
    start = part * base + min(part, extra)
    return slice(start, start + base + (part < extra))


def total(*values: float) -> list[float]:
    """The sums of ``values`` over all processes (each process passes its own)."""
    if not active():
        return list(values)
    device = _collective_device()
    summed = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(summed)
    return summed.tolist()


def check_finite(value: torch.Tensor, where: str) -> None:
    """Raise ``FloatingPointError`` on every process, naming the ranks, when the loss ``value``
    is not finite on any of them (one process raising alone would leave the others waiting)."""
    bad = not bool(torch.isfinite(value))
    if active():
        flags = torch.zeros(world_size(), dtype=torch.float64, device=_collective_device())
        flags[rank()] = float(bad)
        dist.all_reduce(flags)
        ranks = [r for r, flag in enumerate(flags.tolist()) if flag]
        if ranks:
            raise FloatingPointError(f"{where}: the loss is not finite on rank(s) {ranks} (this is rank {rank()})")
    elif bad:
        raise FloatingPointError(f"{where}: loss became {float(value.detach())}")


def broadcast_state(model: torch.nn.Module) -> None:
    """Copy rank 0's parameters and buffers to every process."""
    if active():
        for tensor in model.state_dict().values():
            dist.broadcast(tensor, src=0)


def average_gradients(model: torch.nn.Module, local_fraction: float) -> None:
    """Turn each process's gradient of its local mean loss into the gradient of the global
    batch's mean: weight it by the process's share of the batch and sum over processes
    (one flat ``all_reduce``). Missing gradients count as zero."""
    if not active():
        return
    parameters = [p for p in model.parameters() if p.requires_grad]
    grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in parameters]
    flat = torch.cat([g.reshape(-1) for g in grads]) * local_fraction
    dist.all_reduce(flat)
    offset = 0
    for p in parameters:
        size = p.numel()
        p.grad = flat[offset : offset + size].view_as(p).clone()
        offset += size


def gather(values: torch.Tensor) -> torch.Tensor:
    """Concatenate every process's ``values`` along the first dimension, in rank order (the
    shares may differ in length); the result is on every process."""
    if not active():
        return values
    device = _collective_device()
    local = values.to(device)
    lengths = torch.zeros(world_size(), dtype=torch.int64, device=device)
    lengths[rank()] = len(local)
    dist.all_reduce(lengths)
    longest = int(lengths.max())
    padded = torch.zeros((longest, *local.shape[1:]), dtype=local.dtype, device=device)
    padded[: len(local)] = local
    parts = [torch.empty_like(padded) for _ in range(world_size())]
    dist.all_gather(parts, padded)
    return torch.cat([part[:length] for part, length in zip(parts, lengths.tolist())]).to(values.device)


def barrier() -> None:
    """Wait for every process (no-op in one process)."""
    if active():
        dist.barrier()


def on_main(write: Callable[[], None]) -> None:
    """Run ``write`` (e.g. saving a file) on rank 0 only; every process returns after it has."""
    if is_main():
        write()
    barrier()


def sample(flow, n: int, seed: int, chunk: int = 4096):
    """``n`` samples of an :class:`~cgflow.flows.AugmentedFlow` (positions nm, energies
    kJ/mol, forces kJ/mol/nm), drawn in chunks of ``chunk`` whose base draws come from
    generators seeded ``(seed, chunk index)``; the chunks are shared out among the processes
    and gathered, so the result is the same on every process and for any number of them."""
    from .flows import FlowSample

    chunks = range((n + chunk - 1) // chunk)
    mine = chunks[shard(len(chunks))]
    parts = []
    for index in mine:
        generator = torch.Generator().manual_seed(seed * 1_000_003 + index)
        parts.append(flow.sample(min(chunk, n - index * chunk), batch_size=chunk, generator=generator))
    fields = ("positions", "eta", "energy", "forces")
    if parts:
        local = {name: torch.cat([getattr(p, name) for p in parts]) for name in fields}
    else:  # more processes than chunks: this one contributes nothing
        empty = flow.sample(1, generator=torch.Generator().manual_seed(seed))
        local = {name: getattr(empty, name)[:0] for name in fields}
    return FlowSample(*(gather(local[name]) for name in fields))


#: Seed offset between the walkers' shares of a distributed parallel-tempering run.
SEED_STRIDE = 7919


def run_tempering(tempering, positions, n_steps: int, save_every: int = 100):
    """Run a :class:`~cgflow.simulate.ParallelTempering` with its independent walkers shared
    out among the processes and return the whole :class:`~cgflow.simulate.SimulationResult`
    on every process, laid out as one process would (replicas walker after walker; positions
    nm, energies kJ/mol). ``positions`` ``[n_walkers * n_temperatures, beads, 3]`` (nm). The
    share of process ``r`` is exactly ``tempering`` with its walkers and the seed
    ``tempering.seed + SEED_STRIDE * r``; swap acceptances are averaged over all walkers."""
    import dataclasses

    import numpy as np

    rungs = len(tempering.temperatures)
    walkers = range(tempering.n_walkers)[shard(tempering.n_walkers)]
    mine = dataclasses.replace(tempering, n_walkers=len(walkers), seed=tempering.seed + SEED_STRIDE * rank(),
                               progress=tempering.progress if is_main() else False)
    slots = slice(walkers.start * rungs, walkers.stop * rungs)
    result = mine.run(np.asarray(positions)[slots], n_steps, save_every)
    if not active():
        return result

    def joined(per_replica: np.ndarray) -> np.ndarray:  # [frames, replicas, ...]: gather the replica axis
        return gather(torch.as_tensor(np.ascontiguousarray(per_replica.swapaxes(0, 1)))).numpy().swapaxes(0, 1)

    acceptance = np.nan_to_num(result.swap_acceptance) * len(walkers) / tempering.n_walkers
    return dataclasses.replace(
        result,
        positions=joined(result.positions),
        energies=joined(result.energies),
        temperatures=np.tile(np.asarray(tempering.temperatures, dtype=np.float64), tempering.n_walkers),
        swap_acceptance=np.asarray(total(*acceptance)),
        speed_ns_per_day=total(result.speed_ns_per_day)[0] / world_size(),  # the processes' mean
    )


def _collective_device() -> torch.device:
    """Where tensors for collectives live: the current CUDA device under nccl, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")

"""Process-group helpers for DistributedDataParallel training under ``torchrun``.

``torchrun`` (``python -m torch.distributed.run``) starts one process per
worker and gives each ``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``
and ``MASTER_PORT``; :func:`init` joins them into one process group with
``torch.distributed.init_process_group(init_method="env://")``. Backends:
``gloo`` on CPU, ``nccl`` on CUDA GPUs (one GPU per process, chosen by
``LOCAL_RANK``).

Outside ``torchrun`` (``WORLD_SIZE`` unset or 1) every helper is a cheap no-op
that answers as a world of one process would, so the same training code runs
unchanged in a single process, in the studio's job worker and in tests.
"""
from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import timedelta

import torch
import torch.distributed as dist


def _active() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    """Processes in the job: the process group's size, else ``$WORLD_SIZE``, else 1."""
    return dist.get_world_size() if _active() else int(os.environ.get("WORLD_SIZE", 1))


def rank() -> int:
    """This process's global rank (0 … world_size − 1): the process group's, else ``$RANK``, else 0."""
    return dist.get_rank() if _active() else int(os.environ.get("RANK", 0))


def local_rank() -> int:
    """This process's rank on its own machine (``$LOCAL_RANK``, else 0); picks its GPU."""
    return int(os.environ.get("LOCAL_RANK", 0))


def is_main() -> bool:
    """True on rank 0, the one process that validates, logs and writes checkpoints (always in a single process)."""
    return rank() == 0


def default_backend() -> str:
    """``"nccl"`` when CUDA is available, else ``"gloo"``."""
    return "nccl" if torch.cuda.is_available() else "gloo"


def init(backend: str | None = None, timeout: timedelta | None = None) -> bool:
    """Join the ``torchrun`` process group when ``WORLD_SIZE`` > 1.

    Args:
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (CUDA); default :func:`default_backend`.
            With ``nccl`` this process's GPU is set to ``cuda:LOCAL_RANK`` first.
        timeout: how long a collective (e.g. the other ranks waiting while rank 0
            validates) may wait; default PyTorch's (30 min for gloo, 10 min for nccl).

    Returns:
        True if this call created the process group; the caller then owns it and
        calls :func:`cleanup` when done. False in a single process, or when the
        group already exists (someone else owns it).

    Raises:
        RuntimeError: the rendezvous failed (``MASTER_ADDR``/``MASTER_PORT`` missing
            or unreachable), as raised by ``torch.distributed``.
    """
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or _active():
        return False
    backend = backend or default_backend()
    if backend == "nccl":
        torch.cuda.set_device(local_rank())
    kwargs = {"timeout": timeout} if timeout is not None else {}
    dist.init_process_group(backend=backend, init_method="env://", **kwargs)
    return True


def cleanup() -> None:
    """Destroy the process group if there is one (safe to call when there is none)."""
    if _active():
        dist.destroy_process_group()


def barrier() -> None:
    """Wait until every rank gets here (no-op in a single process)."""
    if _active():
        dist.barrier()


def _device() -> torch.device:
    """Where collective tensors must live: the current GPU for nccl, else the CPU."""
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def broadcast_floats(values: Sequence[float], src: int = 0) -> list[float]:
    """``src``'s ``values`` on every rank (float64; NaN and inf pass through). Identity in a single process."""
    if not _active() or world_size() == 1:
        return [float(v) for v in values]
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_device())
    dist.broadcast(t, src=src)
    return t.tolist()


def broadcast_flag(flag: bool, src: int = 0) -> bool:
    """``src``'s ``flag`` on every rank, so all ranks take the same branch (stop, early stop).

    Every rank must call it at the same point; the other ranks' ``flag`` is ignored.
    """
    return bool(broadcast_floats([1.0 if flag else 0.0], src)[0])


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """The mean of ``tensor`` over all ranks (a new tensor, same device, shape and float dtype).

    A NaN or inf on any rank makes the mean non-finite on every rank, so a
    check of the result is the same on all of them. Identity (a detached copy)
    in a single process.
    """
    if not _active() or world_size() == 1:
        return tensor.detach().clone()
    work = tensor.detach().to(_device(), dtype=torch.float64, copy=True)  # summed in float64
    dist.all_reduce(work, op=dist.ReduceOp.SUM)
    work /= world_size()
    return work.to(tensor.device, dtype=tensor.dtype if tensor.is_floating_point() else torch.float64)

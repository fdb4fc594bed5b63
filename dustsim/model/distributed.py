"""Data-parallel training under ``torchrun``: DDP with gloo (CPU) or nccl (GPU).

When ``torchrun`` starts several processes (``WORLD_SIZE > 1`` in the environment),
:func:`init_distributed` joins the process group and every process trains a replica of
the model on its shard of each batch; DistributedDataParallel averages the gradients.

Every process draws the *same* global batch from the seeded generator (the draws are
cheap next to the network), and a :class:`~torch.utils.data.distributed.DistributedSampler`
over the batch's positions gives each rank a disjoint, equal shard. The mean of the shard
losses is the full-batch loss and DDP's averaged gradient is the full-batch gradient, so a
run on W processes takes the same optimisation steps as one process with the same global
batch size (up to floating-point summation order). Only rank 0 writes checkpoints, the
loss log and the progress bar. Without ``torchrun`` nothing changes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from ..errors import ConfigError
from .device import select_device


@dataclass
class DistributedContext:
    """Rank and world size of this process (1 process: rank 0 of 1)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def wrap(self, module: nn.Module, device: torch.device) -> nn.Module:
        """``module`` wrapped in DistributedDataParallel (or unchanged for one process)."""
        if not self.is_distributed:
            return module
        from torch.nn.parallel import DistributedDataParallel

        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, output_device=ids[0] if ids else None)

    def shard_indices(self, batch_size: int, step: int, seed: int) -> torch.Tensor | None:
        """This rank's positions in a global batch of ``batch_size`` (None: the whole batch)."""
        if not self.is_distributed:
            return None
        if batch_size % self.world_size:
            raise ConfigError(
                f"batch_size ({batch_size}) must be divisible by the number of processes ({self.world_size})"
            )
        from torch.utils.data import Dataset
        from torch.utils.data.distributed import DistributedSampler

        # the sampler only takes len() of its dataset: the range of batch positions serves
        positions = cast("Dataset[int]", range(batch_size))
        sampler: DistributedSampler[int] = DistributedSampler(
            positions, num_replicas=self.world_size, rank=self.rank, shuffle=True, seed=seed, drop_last=True
        )
        sampler.set_epoch(step)
        return torch.as_tensor(list(sampler), dtype=torch.long)

    def mean(self, value: float, device: torch.device) -> float:
        """The mean of a scalar over all processes."""
        if not self.is_distributed:
            return value
        import torch.distributed as dist

        t = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(t)
        return float(t.item()) / self.world_size

    def broadcast(self, value: int) -> int:
        """Rank 0's ``value`` on every process."""
        if not self.is_distributed:
            return value
        import torch.distributed as dist

        box = [value]
        dist.broadcast_object_list(box, src=0)
        return int(box[0])

    def barrier(self) -> None:
        if self.is_distributed:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """Leave the process group if this context joined it."""
        if self.owns_group:
            import torch.distributed as dist

            dist.destroy_process_group()
            self.owns_group = False


def init_distributed(device: str | torch.device | None = "auto") -> tuple[DistributedContext, torch.device]:
    """Join the ``torchrun`` process group if there is one; pick this rank's device.

    Returns
    -------
    (DistributedContext, torch.device)
        With ``WORLD_SIZE`` unset or 1: rank 0 of 1 and :func:`select_device` (``device``).
        Under ``torchrun``: gloo on CPU, nccl on CUDA with device ``cuda:LOCAL_RANK``.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistributedContext(), select_device(device)
    import torch.distributed as dist

    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    chosen = select_device(device)
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(chosen)
    owns = False
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if chosen.type == "cuda" else "gloo")
        owns = True
    return DistributedContext(rank, world, local_rank, owns), chosen

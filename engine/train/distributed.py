"""Process-group facts for training under torchrun (rank, world size, gloo on CPU / nccl on CUDA)."""
from __future__ import annotations

import os

import torch


class Dist:
    """Process-group facts; a single process when not launched by torchrun."""

    def __init__(self, device: torch.device) -> None:
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        self.local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.active = self.world > 1
        if self.active and not torch.distributed.is_initialized():
            torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on one (keeps ranks stopping at the same step)."""
        if not self.active:
            return flag
        t = torch.tensor([1.0 if flag else 0.0])
        torch.distributed.all_reduce(t)
        return bool(t.item() > 0)

    def barrier(self) -> None:
        """Wait for every rank (no-op in a single process)."""
        if self.active:
            torch.distributed.barrier()

    def close(self) -> None:
        if self.active and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def pick_device(name: str | None) -> torch.device:
    """The named device (default: the best present); under torchrun on CUDA, this rank's GPU."""
    from ..settings import default_device

    device = torch.device(name) if name else default_device()
    if device.type == "cuda" and device.index is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "mps":  # the splatting kernels have no MPS path worth training on
        device = torch.device("cpu")
    return device

"""train-sae on several processes (data parallel), started by PyTorch's ``torchrun``:

    torchrun --nproc-per-node 2 -m rlsae.sae.distributed --recording runs/rec --out runs/sae [train-sae options]

Every process loads the same training states and walks the same shuffled order, so each step every
process draws the same global batch of ``--batch-size`` rows and computes the loss on its own contiguous
``batch / world`` of them. The gradients are averaged over processes (one all-reduce of one flat buffer
per step, gloo on CPUs, NCCL on GPUs), so every process applies the same update and the weights stay
identical. The losses are means over rows, so this is the single-process step on the same batch, up to
float rounding, for every per-row term (reconstruction, advantage, Top-K, JumpReLU, ReLU + L1). Terms
computed over the whole batch are computed over each process's share instead: AuxK's normalisation by
the residual's energy and BatchTopK's batch threshold (tests/sae/test_distributed.py measures the
difference). Which latents fired is shared (a max all-reduce), so the dead-latent counters agree, and
under --target-l0 the whole batch's pre-activations are gathered, so thresholds aimed at it stay identical.

Process 0 alone claims ``--out`` and writes the log, the checkpoints and the SAE; resuming reads the
checkpoint in every process. When it pays: one process already uses every core of a machine through
torch's own threads, so on one CPU box this only adds communication; it pays with one process per GPU
(or per machine), where each process brings its own compute.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist

from rlsae.common.errors import UserError
from rlsae.common.outputs import claim_output
from rlsae.config import add_options, from_args, require
from rlsae.sae.train import Trainer, TrainSAEConfig, train_sae


class DistributedTrainer(Trainer):
    """A :class:`Trainer` that shares its gradients and fired latents with the other processes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.rank, self.world = dist.get_rank(), dist.get_world_size()
        self.main = self.rank == 0
        size = self.schedule.batch_size
        require(size % self.world == 0, f"--batch-size ({size}) must be a multiple of the {self.world} processes")
        self.share = size // self.world

    def next_batch(self) -> torch.Tensor:
        batch = super().next_batch()  # the same global batch in every process
        return batch[self.rank * self.share:(self.rank + 1) * self.share]

    def share_gradients(self) -> None:
        params = [p for p in self.sae.parameters() if p.requires_grad]
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        offset = 0
        for p, g in zip(params, grads, strict=True):
            p.grad = flat[offset:offset + g.numel()].view_as(g).clone()
            offset += g.numel()

    def share_fired(self, fired: torch.Tensor) -> torch.Tensor:
        mask = fired.to(torch.uint8)
        dist.all_reduce(mask, op=dist.ReduceOp.MAX)
        return mask.bool()

    def share_rows(self, rows: torch.Tensor) -> torch.Tensor:
        parts = [torch.empty_like(rows) for _ in range(self.world)]
        dist.all_gather(parts, rows.contiguous())
        return torch.cat(parts)

    def save_checkpoint(self) -> None:
        if self.main:
            super().save_checkpoint()

    def finish(self) -> dict[str, Any]:
        if self.main:
            return super().finish()
        return {"out": str(self.cfg.out), "steps": self.step}


@contextlib.contextmanager
def process_group(device: str) -> Iterator[str]:
    """Join torchrun's process group; yields this process's device (its own GPU under NCCL)."""
    if "RANK" not in os.environ:
        raise UserError("run under torchrun, e.g. `torchrun --nproc-per-node 2 -m rlsae.sae.distributed ...`")
    cuda = device.startswith("cuda")
    dist.init_process_group("nccl" if cuda else "gloo")
    try:
        if cuda:
            local = int(os.environ.get("LOCAL_RANK", 0))
            torch.cuda.set_device(local)
            device = f"cuda:{local}"
        yield device
        # Process 0 still evaluates and saves after the others are done; a process that tore gloo down
        # while its peer was still connected was seen to abort ("terminate called without an active
        # exception", SIGABRT) at exit. So all leave together; after an error, at once.
        dist.barrier()
    finally:
        dist.destroy_process_group()


@contextlib.contextmanager
def claimed_by_main(cfg: TrainSAEConfig) -> Iterator[None]:
    """Process 0 claims ``--out`` (see common/outputs.py); the others learn whether it could."""
    with contextlib.ExitStack() as stack:
        problem = [None]
        if dist.get_rank() == 0:
            try:
                stack.enter_context(claim_output(cfg.out, "sae"))
            except UserError as err:
                problem = [str(err)]
        dist.broadcast_object_list(problem, src=0)
        if problem[0] is not None:
            raise UserError(problem[0])
        yield


def train_distributed(cfg: TrainSAEConfig) -> dict[str, Any]:
    """Train as :func:`rlsae.sae.train.train_sae` does, as one process of torchrun's group."""
    with process_group(cfg.device) as device:
        cfg.device = device
        with claimed_by_main(cfg):
            return train_sae(cfg, trainer=DistributedTrainer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="torchrun ... -m rlsae.sae.distributed",
                                     description="rlsae train-sae on several processes (data parallel)")
    add_options(parser, TrainSAEConfig)
    try:
        result = train_distributed(from_args(TrainSAEConfig, parser.parse_args(argv)))
    except UserError as err:
        print(f"rlsae train-sae (rank {os.environ.get('RANK', '?')}): error: {err}", file=sys.stderr)
        return 2
    if "fvu" in result:
        print(f"saved {result['out']} ({result['steps']} steps, {result['wall_time_s']} s); held-out fvu "
              f"{result['fvu']:.4g}, l0 {result['l0']:.4g}, dead {result['dead_fraction']:.4g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

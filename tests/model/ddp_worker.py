"""Run under ``torchrun --nproc-per-node=2`` by test_ddp.py (or as one process).

Computes the gradient of one training step exactly as :func:`dustsim.model.train` does
(same setup, batch, sharding and DDP wrapper) and lets rank 0 save it.
"""

from __future__ import annotations

import sys

import torch

import dustsim
from dustsim.model.config import NetworkConfig, TrainConfig
from dustsim.model.device import make_generator
from dustsim.model.distributed import init_distributed
from dustsim.model.training import _setup, step_loss


def main(objective: str, out: str) -> None:
    torch.set_num_threads(1)
    ds = dustsim.simulate(init="gmm", n=3000, process="vp", steps=50, record_every=10, seed=4, threads=1)
    cfg = TrainConfig.from_dict(
        {"batch_size": 64, "seed": 7, "objective": objective, "n_projections": 2, "device": "cpu"}
    )
    net_cfg = NetworkConfig.from_dict({"width": 32, "depth": 2})
    dist, device = init_distributed("cpu")
    setup = _setup(ds, "test", net_cfg, cfg)
    module = setup["module"]
    forward = dist.wrap(module, device)
    for step in range(2):  # the second step checks that sharding follows the step
        batch = setup["data"].draw(cfg.batch_size, setup["data_gen"], device)
        proj_gen = make_generator(7, "projection")
        module.zero_grad(set_to_none=True)
        loss = step_loss(setup["meta"]["kind"], module, forward, batch, cfg, proj_gen, 0.0, dist, step)
        loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in module.named_parameters()}
    loss_mean = dist.mean(float(loss.detach()), device)
    shard = dist.shard_indices(cfg.batch_size, 1, 7)
    torch.save(shard, f"{out}.rank{dist.rank}")
    if dist.is_main:
        torch.save({"grads": grads, "loss": loss_mean, "world": dist.world_size}, out)
    dist.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

"""Distributed data parallel: two gloo processes give the full-batch gradient of one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")


def _run(args: list[str], tmp_path: Path) -> None:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    proc = subprocess.run(args, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.mark.skipif(
    shutil.which("torchrun") is None and not Path(sys.executable).with_name("torchrun").exists(),
    reason="torchrun not installed",
)
@pytest.mark.parametrize("objective", ["dsm", "ssm"])
def test_two_process_gradients_equal_one_process_full_batch(tmp_path, objective):
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    _run([torchrun, "--standalone", "--nproc-per-node=2", str(WORKER), objective, "ddp.pt"], tmp_path)
    _run([sys.executable, str(WORKER), objective, "single.pt"], tmp_path)
    ddp = torch.load(tmp_path / "ddp.pt")
    single = torch.load(tmp_path / "single.pt")
    assert ddp["world"] == 2 and single["world"] == 1
    assert ddp["loss"] == pytest.approx(single["loss"], rel=1e-5)
    shards = [torch.load(tmp_path / f"ddp.pt.rank{r}") for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 32, "each process works on half of the batch"
    assert sorted(torch.cat(shards).tolist()) == list(range(64)), "the shards partition the batch"
    for name, g in single["grads"].items():
        torch.testing.assert_close(ddp["grads"][name], g, rtol=1e-4, atol=1e-6, msg=name)

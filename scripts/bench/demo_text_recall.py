"""Where the demo's text:DUST recall is lost: train its text model once, then score sampler variants.

    PYTHONPATH=. python scripts/bench/demo_text_recall.py TAG '{network overrides}' '{training overrides}' \
        '[{sampler variant}, ...]'

e.g. ``base '{}' '{"steps": 3000, "patience": 1000}' '[{}, {"t_min": 1e-4}, {"use_ema": false}]'``.
The forward run, seeds and sizes are the demo's (``dustsim demo --seed 0``); the model goes
to ``$TMPDIR/demo-text-TAG.pt`` and is reused by later calls with the same tag. Each variant
prints the demo report's support precision (fraction outside the 99th-percentile radius, with
its SE) and coverage (recall proxy) against the same fresh artifact samples. One thread.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import torch

import dustsim
from dustsim.cli.demo_pipeline import ARTIFACTS, DEMO_STREAMS, DemoSettings, forward_arguments, training_tables
from dustsim.cli.demo_support import support_numbers
from dustsim.model import load_model, sample, train
from dustsim.streams import stage_seeds


def main() -> None:
    torch.set_num_threads(1)
    tag = sys.argv[1]
    net_over = json.loads(sys.argv[2]) if len(sys.argv) > 2 else {}
    tr_over = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    variants = json.loads(sys.argv[4]) if len(sys.argv) > 4 else [{}]
    s = DemoSettings.make(False)
    seeds = stage_seeds(0, DEMO_STREAMS)
    spec = ARTIFACTS["text"]
    work = Path(tempfile.gettempdir())
    fwd_path = work / "demo-text-forward.zarr"
    if not fwd_path.exists():
        dustsim.simulate(**forward_arguments("text", s, seeds), output=fwd_path)
    fwd = dustsim.open_trajectory(fwd_path).load()
    model_path = work / f"demo-text-{tag}.pt"
    if not model_path.exists():
        network, training = training_tables("text", s, seeds, "cpu")
        network.update(net_over)
        training.update({"threads": 1, **tr_over})
        began = time.process_time()
        res = train(fwd, model_path, network=network, training=training)
        print(
            f"train {tag}: {res.model.step} steps, stop {res.model.meta['stop']['reason']}, "
            f"cpu {time.process_time() - began:.0f} s",
            flush=True,
        )
    x0 = fwd.position.isel(time=0).values.astype(float)
    for variant in variants:
        use_ema = variant.pop("use_ema", True)
        model = load_model(model_path, device="cpu", use_ema=use_ema)
        ds = sample(
            model,
            s.n_generate,
            {"name": "heun", "steps": s.sample_steps, "record_every": 0, **variant},
            seed=seeds["sample"],
        )
        n = support_numbers(
            x0, ds.position.isel(time=-1).values.astype(float), spec["init"], spec["artifact"], seeds["analysis"]
        )
        print(
            f"{tag} ema={use_ema} {variant}: outside {n['support_outside']:.4f} ± {n['support_outside_se']:.4f} "
            f"(fresh {n['support_outside_fresh']:.4f})  coverage {n['coverage']:.4f} "
            f"(fresh {n['coverage_fresh']:.4f}, sd of one draw {n['coverage_fresh_sd']:.4f})",
            flush=True,
        )


if __name__ == "__main__":
    main()

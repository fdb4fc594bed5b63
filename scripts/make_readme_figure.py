"""Regenerate docs/images/dust.png (the README picture) from a `dustsim demo` output directory.

Usage: python scripts/make_readme_figure.py [DEMO_DIR]   (default: demo-output)
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import dustsim
from analysis.plotting import PALETTE, dustsim_style, pick_times


def main() -> None:
    demo = Path(sys.argv[1] if len(sys.argv) > 1 else "demo-output")
    fwd = dustsim.open_trajectory(demo / "forward_text.zarr")
    rev = dustsim.open_trajectory(demo / "reverse_text.nc")
    rng = np.random.default_rng(0)
    with dustsim_style():
        fig, axes = plt.subplots(2, 5, figsize=(11, 4.2))
        for row, (ds, label) in enumerate(((fwd, "forward: dissolving"), (rev, "reverse: re-forming"))):
            times = sorted(pick_times(ds, 5)[:5], reverse=row == 1)  # in the direction of the run
            for ax, t in zip(axes[row], times, strict=False):
                frame = ds.position.sel(time=t, method="nearest").values
                pick = rng.choice(len(frame), size=min(len(frame), 6000), replace=False)
                labels = ds["label"].values[pick] if "label" in ds.coords else np.zeros(len(pick), int)
                ax.scatter(
                    frame[pick, 0],
                    frame[pick, 1],
                    s=0.6,
                    c=np.asarray(PALETTE)[labels % len(PALETTE)],
                    linewidths=0,
                    rasterized=True,
                )
                ax.set_xlim(-2.6, 2.6)
                ax.set_ylim(-2.6, 2.6)
                ax.set_aspect("equal")
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(f"t = {float(t):.2f}", fontsize=9)
            axes[row, 0].set_ylabel(label)
        fig.tight_layout()
        out = Path(__file__).resolve().parents[1] / "docs" / "images" / "dust.png"
        fig.savefig(out, dpi=80)
    print(out, out.stat().st_size)


if __name__ == "__main__":
    main()

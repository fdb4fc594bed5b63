"""dustsim's figure style: a colour-blind-safe palette, matplotlib settings, axes and unit labels.

One place for the look of every figure (:mod:`analysis.plotting` and the figure modules
that it hands on to); matplotlib is imported only when a figure is drawn.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

#: Okabe & Ito (2008) palette, distinguishable with every common colour-vision deficiency
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
#: sequential colour map for densities (perceptually uniform, colour-blind safe)
DENSITY_CMAP = "cividis"

STYLE: dict[str, Any] = {
    "figure.dpi": 110,
    "savefig.dpi": 160,
    "savefig.bbox": "tight",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.25,
    "lines.linewidth": 1.6,
    "image.cmap": DENSITY_CMAP,
}


@contextlib.contextmanager
def dustsim_style() -> Iterator[None]:
    """Temporarily apply dustsim's matplotlib style and palette."""
    import matplotlib as mpl
    from cycler import cycler

    rc: dict[Any, Any] = {**STYLE, "axes.prop_cycle": cycler(color=list(PALETTE))}  # keys: matplotlib's rc names
    with mpl.rc_context(rc):
        yield


def new_axes(
    ax: Any = None, ncols: int = 1, nrows: int = 1, size: tuple[float, float] = (4.0, 3.2), **kwargs: Any
) -> tuple[Any, Any]:
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax.figure, ax
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False, **kwargs)
    return fig, axes if (ncols > 1 or nrows > 1) else axes[0, 0]


def unit_suffix(unit: str) -> str:
    """`` [m]`` for a unit, `` (reduced units)`` for the dimensionless ``"1"``."""
    return " (reduced units)" if unit in ("1", "", None) else f" [{unit}]"

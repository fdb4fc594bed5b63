"""Demo section: how crisp the generated text is (support precision and coverage against the artifact).

Both numbers are compared with what a fresh sample of the artifact itself scores, so a
perfect model reads "as good as fresh": about 1 % outside the 99th-percentile radius, and
the same coverage.
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Fresh artifact draws of the generated sample's size whose coverage the model's is compared with.
FRESH_COVERAGE_DRAWS = 5


def support_numbers(
    training: np.ndarray, generated: np.ndarray, init: str, artifact: dict[str, Any], seed: int
) -> dict[str, float]:
    """Support precision and coverage of ``generated`` against the artifact behind ``training``.

    Parameters
    ----------
    training : array (N, d)
        The training cloud (the forward run's ``t = 0`` frame).
    generated : array (n, d)
        Generated particles.
    init, artifact : str, dict
        The artifact spec and options of the forward run (for fresh samples of it).
    seed : int
        Seed of the fresh samples.
    """
    from ..artifacts import make_artifact
    from ..model.metrics import coverage, support_precision

    rng = np.random.default_rng(seed)
    fresh = make_artifact(init, len(training), seed=rng, options=artifact).positions
    fresh_same_size = make_artifact(init, len(generated), seed=rng, options=artifact).positions
    gen = support_precision(generated, training, fresh)
    fresh_score = support_precision(fresh_same_size, training, fresh)
    # the coverage of one draw of a perfect model's size varies (sd ~ 0.004 for 5000 DUST
    # particles): more fresh draws give its mean and the spread a model's own draw has too
    fresh_coverages = [coverage(fresh_same_size, fresh)] + [
        coverage(make_artifact(init, len(generated), seed=rng, options=artifact).positions, fresh)
        for _ in range(FRESH_COVERAGE_DRAWS - 1)
    ]
    return {
        "support_outside": gen.outside,
        "support_outside_se": gen.outside_se,
        "support_outside_fresh": fresh_score.outside,
        "support_radius": gen.radius,
        "coverage": coverage(generated, fresh),
        "coverage_fresh": float(np.mean(fresh_coverages)),
        "coverage_fresh_sd": float(np.std(fresh_coverages, ddof=1)),
    }


def support_table(n: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """The report table of :func:`support_numbers` (``n``: the demo's numbers)."""
    return (
        [
            {
                "quantity": "generated DUST outside the 99th-percentile radius",
                "model": f"{100 * n['support_outside']:.1f} % ± {100 * n['support_outside_se']:.1f}",
                "fresh artifact sample": f"{100 * n['support_outside_fresh']:.1f} %",
            },
            {
                "quantity": "coverage (recall proxy, k = 5)",
                "model": f"{n['coverage']:.3f}",
                "fresh artifact sample": f"{n['coverage_fresh']:.3f} (sd of one draw {n['coverage_fresh_sd']:.3f})",
            },
        ],
        f"crispness of the generated text (radius {n['support_radius']:.3g} length units)",
    )

"""Reduce results over an ensemble: means and confidence intervals over ``realization``."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from dustsim.errors import ConfigError


def ensemble_summary(ds: xr.Dataset, dim: str = "realization", confidence: float = 0.95) -> xr.Dataset:
    """Mean, standard error and a Student-t confidence interval of every variable over ``dim``.

    Parameters
    ----------
    ds : xr.Dataset
        E.g. an entropy trajectory of a sweep (``entropy(realization, time, estimator)``).
    dim : str
        The ensemble dimension.
    confidence : float
        Coverage of the interval, in (0, 1).

    Returns
    -------
    xr.Dataset
        For each numeric variable ``v`` with ``dim``: ``v`` (mean over the ensemble),
        ``v_sem`` (standard error of that mean, from the spread of the realizations),
        ``v_ci_low`` and ``v_ci_high``. Per-realization standard errors (``*_se``) are
        dropped: the spread between realizations already contains them. Coordinates along
        ``dim`` (swept parameters) are dropped; group by them first to summarise per
        parameter set, e.g. ``ds.groupby("member").map(ensemble_summary)``.
    """
    if dim not in ds.dims:
        raise ConfigError(f"the dataset has no {dim!r} dimension to summarise over")
    if not 0 < confidence < 1:
        raise ConfigError(f"confidence must be in (0, 1), got {confidence}")
    n = ds.sizes[dim]
    if n < 2:
        raise ConfigError(f"an ensemble summary needs at least 2 realizations, got {n}")
    quantile = float(stats.t.ppf(0.5 + confidence / 2, df=n - 1))
    out = xr.Dataset(coords={c: v for c, v in ds.coords.items() if dim not in v.dims})
    for name, var in ds.data_vars.items():
        if dim not in var.dims or str(name).endswith("_se") or not np.issubdtype(var.dtype, np.number):
            continue
        values = var.astype(float)
        mean = values.mean(dim)
        sem = values.std(dim, ddof=1) / np.sqrt(n)
        out[name] = mean.assign_attrs(var.attrs)
        out[f"{name}_sem"] = sem.assign_attrs(
            units=var.attrs.get("units", ""),
            long_name=f"standard error of the ensemble mean of {name} ({n} realizations)",
        )
        out[f"{name}_ci_low"] = (mean - quantile * sem).assign_attrs(units=var.attrs.get("units", ""))
        out[f"{name}_ci_high"] = (mean + quantile * sem).assign_attrs(units=var.attrs.get("units", ""))
    out.attrs = {**ds.attrs, "ensemble_size": n, "confidence": confidence}
    return out

"""The end-to-end demo, reduced (`dustsim demo --quick`): every stage runs and the report is complete."""

from __future__ import annotations

import math

import xarray as xr

from dustsim.cli import main


def test_quick_demo_end_to_end(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "-o", str(out), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "[8/8] writing report.html" in captured.err
    assert f"report: {out / 'report.html'}" in captured.out
    html = (out / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 8 and html.count("data:image/gif;base64,") == 1
    for name in (
        "forward_text.zarr",
        "forward_gmm.zarr",
        "reverse_text.nc",
        "reverse_gmm.nc",
        "restoration_text.nc",
        "model_text.pt",
        "model_gmm.loss.nc",
        "entropy_forward_gmm.nc",
        "entropy_restoration_text.nc",
        "forward_text.gif",
        "fig_panels_text.png",
    ):
        assert (out / name).exists(), name
    reverse = xr.open_dataset(out / "reverse_text.nc")
    assert reverse.attrs["direction"] == "reverse"
    entropy = xr.open_dataset(out / "entropy_reverse_gmm.nc")
    assert "exact_entropy" in entropy and "kl_to_equilibrium" in entropy
    restoration = xr.open_dataset(out / "restoration_text.nc")
    # even the reduced model brings the half-buried particles closer to their originals
    assert restoration.attrs["mean_displacement_restored"] < restoration.attrs["mean_displacement_noised"]
    for line in captured.out.splitlines()[1:4]:
        assert "nan" not in line, line
    assert math.isfinite(float(entropy.entropy.isel(estimator=0).values[-1]))

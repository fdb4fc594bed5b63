"""The end-to-end demo: artifact -> dust -> score model -> new structure, restoration, entropy.

Everything runs on embedded defaults (no network): a text artifact ("DUST") and a
Gaussian-mixture artifact diffuse forward under VP; a score model is trained on each;
new particles are generated from noise; the half-buried text is restored; entropy, KL to
equilibrium and mutual information are computed for the forward, reverse and restoration
trajectories; and everything lands in one directory as datasets, figures and a
self-contained ``report.html``.

This lives in the CLI layer because it uses both the simulator/model (dustsim) and the
analysis package.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict

import numpy as np

from ..errors import DustsimError
from ..run_info import config_text
from ..streams import stage_seeds
from .demo_support import support_numbers, support_table


@dataclass(frozen=True)
class DemoSettings:
    """Sizes of the demo; ``quick`` shrinks everything for tests and smoke runs."""

    n: int = 20_000
    steps: int = 1000
    record_every: int = 20
    train_steps_gmm: int = 1500
    train_steps_text: int = 8000  # a cap: the text model stops by itself (convergence + cooldown, ~4400)
    text_patience: int = 2000  # thin strokes keep improving after the validation loss flattens (docs/model.md)
    batch_size: int = 2048
    n_generate: int = 5000
    sample_steps: int = 100  # Heun (PF-ODE): sharper than 300 Euler-Maruyama steps, 2/3 of the evaluations
    #: last time of the text's reverse run, as a fraction of t_end (the sampler's default 1e-3 leaves a
    #: blur of sigma ~ 0.01 that the final Tweedie step undoes only to first order; docs/model.md)
    text_sample_t_min: float = 1e-4
    sample_record_every: int = 5
    restore_steps: int = 200
    entropy_particles: int = 20_000
    mi_particles: int = 5000
    likelihood_points: int = 300
    animation_particles: int = 4000

    @classmethod
    def make(cls, quick: bool) -> DemoSettings:
        if not quick:
            return cls()
        return cls(
            n=3000,
            steps=200,
            record_every=10,
            train_steps_gmm=150,
            train_steps_text=150,
            batch_size=512,
            n_generate=1000,
            sample_steps=40,
            sample_record_every=5,
            restore_steps=30,
            entropy_particles=3000,
            mi_particles=1000,
            likelihood_points=40,
            animation_particles=1000,
        )


@dataclass
class DemoResult:
    """What the demo produced: output paths, headline numbers and stage timings."""

    out_dir: Path
    report: Path
    files: dict[str, Path] = field(default_factory=dict)
    numbers: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


class Stages:
    """Numbered stage messages with wall times (``log`` receives each line)."""

    def __init__(self, total: int, log: Callable[[str], None]) -> None:
        self.total, self.log, self.index = total, log, 0
        self.timings: dict[str, float] = {}

    def run(self, name: str, fn: Callable[[], Any]) -> Any:
        self.index += 1
        self.log(f"[{self.index}/{self.total}] {name} ...")
        start = time.perf_counter()
        result = fn()
        self.timings[name] = time.perf_counter() - start
        self.log(f"[{self.index}/{self.total}] {name}: {self.timings[name]:.1f} s")
        return result


class DemoArtifact(TypedDict):
    """One artifact of the demo: its ``init`` spec and artifact options."""

    init: str
    artifact: dict[str, Any]


ARTIFACTS: dict[str, DemoArtifact] = {
    "text": {"init": "text:DUST", "artifact": {}},
    "gmm": {"init": "gmm", "artifact": {"k": 8, "radius": 0.8, "std": 0.08}},
}


#: the demo's random streams, one seed each (:func:`dustsim.streams.stage_seeds`)
DEMO_STREAMS = ("text", "gmm", "train_text", "train_gmm", "sample", "restore", "analysis")


def forward_arguments(name: str, settings: DemoSettings, seeds: dict[str, int]) -> dict[str, Any]:
    """Keyword arguments of :func:`dustsim.simulate` for the demo's forward run of artifact ``name``."""
    spec = ARTIFACTS[name]
    return {
        "init": spec["init"],
        "artifact": spec["artifact"],
        "n": settings.n,
        "process": "vp",
        "steps": settings.steps,
        "record_every": settings.record_every,
        "seed": seeds[name],
    }


def training_tables(
    name: str, settings: DemoSettings, seeds: dict[str, int], device: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[network]`` and ``[training]`` tables of the demo's score model of artifact ``name``."""
    steps = settings.train_steps_text if name == "text" else settings.train_steps_gmm
    training: dict[str, Any] = {
        "steps": steps,
        "batch_size": settings.batch_size,
        "lr": 2e-3,
        "warmup": max(1, min(200, steps // 5)),
        "seed": seeds[f"train_{name}"],
        "device": device,
        "checkpoint_every": 0,
        "log_every": max(1, steps // 50),
    }
    if name == "text":
        training["patience"] = settings.text_patience
    return {"kind": "resmlp", "width": 128, "depth": 3}, training  # with the default Fourier features


def _half_buried_time(ds: Any) -> float:
    """The recorded time where signal and noise are equal (alpha = sigma): the artifact half buried."""
    alpha, sigma = ds["alpha"].values, ds["sigma"].values
    return float(ds["time"].values[int(np.argmin(np.abs(alpha - sigma)))])


def run_demo(
    out_dir: str | Path = "demo-output",
    *,
    quick: bool = False,
    seed: int = 0,
    device: str = "auto",
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Run the whole demo into ``out_dir`` and return what it wrote.

    Parameters
    ----------
    out_dir : path
        Output directory (created if needed; files in it are replaced atomically).
    quick : bool
        Small sizes (seconds instead of minutes), for tests.
    seed : int
        Root seed: every stage's seed derives from it.
    device : str
        Torch device for the score models (``auto``: CUDA when present).
    progress : bool, optional
        Progress bars inside the stages (default: on a terminal).
    log : callable
        Receives the stage messages.
    """
    import matplotlib

    matplotlib.use("Agg")
    import dustsim
    from analysis import entropy_trajectory, plotting, thermo
    from analysis.model import kl_routes, snr_denoiser
    from dustsim.io import check_writable
    from dustsim.model import (
        energy_distance,
        energy_noise_floor,
        load_model,
        model_log_likelihood,
        numpy_denoiser,
        numpy_score,
        restore,
        sample,
        train,
    )
    from dustsim.model.device import select_device

    settings = DemoSettings.make(quick)
    out = Path(out_dir)
    select_device(device)  # every option checked before the first stage writes anything
    if not out.is_dir():
        check_writable(out)
    out.mkdir(parents=True, exist_ok=True)
    result = DemoResult(out, out / "report.html")
    stages = Stages(8, log)
    seeds = stage_seeds(seed, DEMO_STREAMS)

    # 1. forward dust -------------------------------------------------------------------
    def forward() -> dict[str, Any]:
        runs = {}
        for name in ARTIFACTS:
            path = out / f"forward_{name}.zarr"
            runs[name] = dustsim.simulate(
                **forward_arguments(name, settings, seeds), output=path, progress=progress, history="demo: forward"
            )
            result.files[f"forward_{name}"] = path
        return {k: v.load() for k, v in runs.items()}

    fwd = stages.run("simulating dust dissolving into noise (VP)", forward)

    # 2. score models -------------------------------------------------------------------
    def train_models() -> dict[str, Any]:
        models = {}
        for name in ("gmm", "text"):
            path = out / f"model_{name}.pt"
            network, training = training_tables(name, settings, seeds, device)
            train(fwd[name], path, network=network, training=training, progress=progress, history="demo: train")
            models[name] = load_model(path, device=device)
            result.files[f"model_{name}"] = path
        return models

    models = stages.run("training score models (denoising score matching)", train_models)

    # 3. new structure from noise -------------------------------------------------------
    def generate() -> dict[str, Any]:
        runs = {}
        for name in ("gmm", "text"):
            ds = sample(
                models[name],
                settings.n_generate,
                {
                    "name": "heun",
                    "steps": settings.sample_steps,
                    "record_every": settings.sample_record_every,
                    **({"t_min": settings.text_sample_t_min * models[name].t_max} if name == "text" else {}),
                },
                seed=seeds["sample"],
                progress=progress,
                history="demo: sample",
            )
            path = dustsim.save_dataset(ds, out / f"reverse_{name}.nc")
            result.files[f"reverse_{name}"] = path
            runs[name] = ds
        return runs

    rev = stages.run("generating new dust from noise (probability-flow ODE, Heun)", generate)

    # 4. restoration --------------------------------------------------------------------
    t_half = _half_buried_time(fwd["text"])

    def restoration() -> Any:
        ds = restore(
            models["text"],
            fwd["text"],
            t_half,
            {
                "name": "euler-maruyama",
                "steps": settings.restore_steps,
                "record_every": max(1, settings.restore_steps // 20),
            },
            seed=seeds["restore"],
            progress=progress,
            history="demo: restore",
        )
        result.files["restoration_text"] = dustsim.save_dataset(ds, out / "restoration_text.nc")
        return ds

    rest = stages.run(f"restoring the half-buried text (from t = {t_half:.3f})", restoration)

    # 5. entropy trajectories -----------------------------------------------------------
    def entropies() -> dict[str, Any]:
        options: dict[str, Any] = {
            "max_particles": settings.entropy_particles,
            "mi_max_particles": settings.mi_particles,
            "seed": seeds["analysis"],
            "progress": bool(progress),
        }
        runs = {
            "forward_gmm": entropy_trajectory(fwd["gmm"], **options),
            "reverse_gmm": entropy_trajectory(rev["gmm"], **options),
            "forward_text": entropy_trajectory(fwd["text"], **options),
            "reverse_text": entropy_trajectory(rev["text"], **options),
            "restoration_text": entropy_trajectory(rest, **options),
        }
        for name, ds in runs.items():
            result.files[f"entropy_{name}"] = dustsim.save_dataset(ds, out / f"entropy_{name}.nc")
        return runs

    ent = stages.run("entropy, KL to equilibrium and mutual information", entropies)

    # 6. numbers ------------------------------------------------------------------------
    def numbers() -> dict[str, Any]:
        from dustsim.mixture import GaussianMixture

        rng = np.random.default_rng(seeds["analysis"])
        mixture = GaussianMixture.from_trajectory(fwd["gmm"])
        if mixture is None:  # pragma: no cover - the demo's gmm artifact always records its mixture
            raise DustsimError("the demo's gmm run does not record its Gaussian mixture")
        generated = rev["gmm"]["position"].isel(time=-1).values.astype(np.float64)
        ed = energy_distance(generated, mixture.sample(len(generated), rng))
        floor, floor_sd = energy_noise_floor(mixture.sample, len(generated), len(generated), rng, repeats=5)
        held = mixture.sample(settings.likelihood_points, rng)
        ll = model_log_likelihood(models["gmm"], held, seed=seeds["analysis"])
        exact_ll = float(np.mean(mixture.logpdf(held)))
        process = models["gmm"].process
        x0 = fwd["gmm"]["position"].isel(time=0).values[: min(settings.n, 16_000)].astype(np.float64)
        routes = kl_routes(
            x0,
            process,
            score=numpy_score(models["gmm"]),
            denoiser=snr_denoiser(numpy_denoiser(models["gmm"]), process),
            n_times=100 if not quick else 20,
            seed=seeds["analysis"],
        )
        h_exact, h_exact_se = mixture.entropy(200_000 if not quick else 20_000, seed=seeds["analysis"])
        q = -0.5 * np.sum(x0**2, axis=1) - 0.5 * x0.shape[1] * math.log(2 * math.pi)
        exact_kl = -h_exact - float(np.mean(q))
        checks = {
            name: int(thermo.h_theorem(ent[name]).attrs.get("holds", 0)) for name in ("forward_gmm", "forward_text")
        }
        numbers = {
            "gmm_energy_distance": ed,
            "gmm_energy_floor": floor,
            "gmm_energy_floor_sd": floor_sd,
            "gmm_energy_multiple": ed / floor,
            "gmm_log_likelihood_model": float(ll.attrs["mean_log_likelihood"]),
            "gmm_log_likelihood_se": float(ll.attrs["standard_error"]),
            "gmm_log_likelihood_exact": exact_ll,
            "gmm_log_likelihood_gap": float(ll.attrs["mean_log_likelihood"]) - exact_ll,
            "kl_exact": exact_kl,
            "kl_exact_se": h_exact_se,
            **{f"kl_{r}": float(routes.kl.sel(route=r)) for r in routes.route.values},
            **{f"kl_{r}_se": float(routes.kl_se.sel(route=r)) for r in routes.route.values},
            "restoration_from_time": t_half,
            "restoration_noised_error": float(rest.attrs["mean_displacement_noised"]),
            "restoration_restored_error": float(rest.attrs["mean_displacement_restored"]),
            "restoration_energy_noised": float(rest.attrs["energy_distance_noised"]),
            "restoration_energy_restored": float(rest.attrs["energy_distance_restored"]),
            **{f"h_theorem_{k}": v for k, v in checks.items()},
            **support_numbers(
                fwd["text"]["position"].isel(time=0).values.astype(np.float64),
                rev["text"]["position"].isel(time=-1).values.astype(np.float64),
                ARTIFACTS["text"]["init"],
                ARTIFACTS["text"]["artifact"],
                seeds["analysis"],
            ),
        }
        result.numbers.update(numbers)
        return numbers

    nums = stages.run("model quality and KL by three routes", numbers)

    # 7. figures ------------------------------------------------------------------------
    def figures() -> dict[str, Any]:
        figs: dict[str, Any] = {}
        figs["forward_text"] = plotting.filmstrip(fwd["text"], n_frames=6, title="DUST dissolving into noise (VP)")
        figs["reverse_text"] = plotting.filmstrip(rev["text"], n_frames=6, title="new DUST re-forming from noise")
        figs["forward_gmm"] = plotting.filmstrip(fwd["gmm"], n_frames=6, title="Gaussian mixture dissolving (VP)")
        figs["reverse_gmm"] = plotting.filmstrip(rev["gmm"], n_frames=6, title="Gaussian mixture re-forming")
        figs["restoration"] = plotting.compare_clouds(
            rest["original_position"].values,
            {
                f"half-buried (t = {t_half:.2f})": rest["position"].isel(time=0).values,
                "restored": rest["position"].isel(time=-1).values,
            },
            title="restoring the half-buried artifact",
        )
        figs["entropy_gmm"] = plotting.entropy_plot(
            {"forward (t ↑)": ent["forward_gmm"], "reverse (t ↓)": ent["reverse_gmm"]},
            title="entropy of the Gaussian-mixture dust, forward and reverse",
        )
        figs["panels_text"] = plotting.information_panels(
            {
                "forward (t ↑)": ent["forward_text"],
                "reverse (t ↓)": ent["reverse_text"],
                "restoration (t ↓)": ent["restoration_text"],
            },
            sohl_dickstein=thermo.sohl_dickstein_bounds(ent["forward_text"]),
            title="DUST: entropy, KL to equilibrium, mutual information",
        )
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
        for ax, name in zip(axes, ("gmm", "text"), strict=True):
            log_ds = dustsim.open_dataset(out / f"model_{name}.loss.nc").load()
            plotting.loss_plot(log_ds, ax=ax, title=f"training ({name})")
        fig.tight_layout()
        figs["loss"] = fig
        for name, f in figs.items():
            path = out / f"fig_{name}.png"
            with dustsim.io.atomic_output(path) as tmp:
                f.savefig(tmp, format="png", dpi=130, bbox_inches="tight")
            result.files[f"fig_{name}"] = path
        gif = plotting.animate(fwd["text"], out / "forward_text.gif", max_points=settings.animation_particles)
        result.files["animation"] = gif
        return figs

    figs = stages.run("figures and animation", figures)

    # the "three levels of dust" section (issue 15): quantum, measured into classical dust, emergence;
    # its own wall time is recorded in the timings table
    from .demo_emergence import emergence_section, run_emergence_demo
    from .demo_quantum import three_levels

    started = time.perf_counter()
    levels_section, level_files, level_numbers = three_levels(
        out, seed=seeds["analysis"], n_measure=500 if quick else 2000
    )
    emergent = run_emergence_demo(out, seed=seeds["analysis"], quick=quick)
    result.files.update(level_files)
    result.files.update(emergent.files)
    result.numbers.update(level_numbers)
    result.numbers.update({f"emergence_{k}": v for k, v in emergent.numbers.items()})
    stages.timings["three levels of dust"] = time.perf_counter() - started

    # 8. report -------------------------------------------------------------------------
    def report() -> Path:
        from analysis.schedule_study import demo_section  # the schedule study section (about 10 s)

        extra = [levels_section, emergence_section(emergent), demo_section(out, quick=quick, seed=seeds["analysis"])]
        return _write_report(result, settings, fwd, figs, nums, stages.timings, quick, extra)

    stages.run("writing report.html", report)
    result.timings = dict(stages.timings)
    return result


def _write_report(
    result: DemoResult,
    settings: DemoSettings,
    fwd: dict[str, Any],
    figs: dict[str, Any],
    nums: dict[str, Any],
    timings: dict[str, float],
    quick: bool,
    extra_sections: list[Any] | None = None,
) -> Path:
    import dustsim
    from analysis.report import Section, write_report

    def png(fig: Any) -> bytes:
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
        plt.close(fig)
        return buf.getvalue()

    n = nums
    sections = [
        Section(
            "Dust dissolving into noise",
            "Two artifacts become dust: the word DUST rendered as a point cloud, and a mixture of eight "
            "Gaussian blobs. Every particle follows the variance-preserving SDE of diffusion models "
            "(linear beta from 0.1 to 20 on t in [0, 1]), integrated with its exact transition kernel by "
            "dustsim's Numba kernels. By t = 1 both are indistinguishable from N(0, I).",
            figures=[
                (png(figs["forward_text"]), "forward: DUST dissolving"),
                (png(figs["forward_gmm"]), "forward: Gaussian mixture dissolving"),
                ((result.files["animation"].read_bytes(), "gif"), "animation of the forward text run"),
            ],
        ),
        Section(
            "A score model learns to reverse it",
            "A residual MLP with EDM preconditioning learns the score of the noised dust by denoising score "
            "matching on exact-kernel pairs drawn from the simulated artifact (the text model with Fourier "
            "features of the positions, which keep thin strokes sharp). Integrating the probability-flow ODE "
            "(Heun) from pure noise produces new dust with the structure of the artifact.",
            figures=[
                (png(figs["reverse_text"]), "reverse: new DUST from noise"),
                (png(figs["reverse_gmm"]), "reverse: new Gaussian-mixture dust"),
                (png(figs["loss"]), "training loss and learning rate"),
            ],
            tables=[
                (
                    [
                        {"quantity": "energy distance, generated vs exact mixture", "value": n["gmm_energy_distance"]},
                        {
                            "quantity": "two-sample noise floor (mean ± sd)",
                            "value": f"{n['gmm_energy_floor']:.3g} ± {n['gmm_energy_floor_sd']:.2g}",
                        },
                        {"quantity": "energy distance / noise floor", "value": n["gmm_energy_multiple"]},
                        {
                            "quantity": "PF-ODE log-likelihood of held-out points (nats)",
                            "value": f"{n['gmm_log_likelihood_model']:.4f} ± {n['gmm_log_likelihood_se']:.4f}",
                        },
                        {"quantity": "exact mixture log-density (nats)", "value": n["gmm_log_likelihood_exact"]},
                        {"quantity": "log-likelihood gap (nats)", "value": n["gmm_log_likelihood_gap"]},
                    ],
                    "quality of the Gaussian-mixture model",
                ),
                support_table(n),
            ],
        ),
        Section(
            "Restoring a half-buried artifact",
            f"The forward text frame at t = {n['restoration_from_time']:.3f}, where signal and noise are equal "
            "(alpha = sigma), is run back to t = 0 with the reverse SDE (SDEdit). Each particle is compared with "
            "its own original position.",
            figures=[(png(figs["restoration"]), "original, half-buried and restored")],
            tables=[
                (
                    [
                        {
                            "quantity": "mean distance to own original",
                            "half-buried": n["restoration_noised_error"],
                            "restored": n["restoration_restored_error"],
                        },
                        {
                            "quantity": "energy distance to the original cloud",
                            "half-buried": n["restoration_energy_noised"],
                            "restored": n["restoration_energy_restored"],
                        },
                    ],
                    "restoration fidelity (length units)",
                )
            ],
        ),
        Section(
            "Entropy along the diffusion, forward and back",
            "Kozachenko-Leonenko kNN entropy of every frame with 95% bands; for the Gaussian mixture the exact "
            "entropy (Monte Carlo with the analytic marginal) is drawn dotted. KL to the stationary N(0, I) falls "
            "monotonically (H-theorem), mutual information I(X0; Xt) falls to zero, and the reverse runs retrace "
            "the forward curves. The last panel shows the Sohl-Dickstein (2015) bounds on the reverse-step "
            "conditional entropy.",
            figures=[
                (png(figs["entropy_gmm"]), "Gaussian mixture: entropy forward and reverse"),
                (png(figs["panels_text"]), "DUST: entropy, KL, mutual information, Sohl-Dickstein bounds"),
            ],
            tables=[
                (
                    [
                        {
                            "route": "exact (Monte Carlo, analytic density)",
                            "KL (nats)": n["kl_exact"],
                            "SE": n["kl_exact_se"],
                        },
                        {"route": "kNN entropy of the data", "KL (nats)": n["kl_knn"], "SE": n["kl_knn_se"]},
                        {
                            "route": "integrated entropy production (model score)",
                            "KL (nats)": n["kl_entropy_production"],
                            "SE": n["kl_entropy_production_se"],
                        },
                        {"route": "I-MMSE (model denoiser)", "KL (nats)": n["kl_i-mmse"], "SE": n["kl_i-mmse_se"]},
                    ],
                    "KL(p_0 || N(0, I)) of the Gaussian-mixture artifact by three independent routes",
                ),
                (
                    [
                        {"trajectory": k.removeprefix("h_theorem_"), "KL non-increasing": bool(v)}
                        for k, v in n.items()
                        if k.startswith("h_theorem_")
                    ],
                    "H-theorem check",
                ),
            ],
        ),
        *(extra_sections or []),
        Section(
            "Run details",
            f"{'Quick (reduced) run. ' if quick else ''}Stage wall times in seconds; all files are in "
            f"{result.out_dir}.",
            tables=[
                ([{"stage": k, "seconds": v} for k, v in timings.items()], "timings"),
                ([{"setting": k, "value": v} for k, v in asdict(settings).items()], "settings"),
                ([{"file": p.name} for p in result.files.values()], "files"),
            ],
            code=[(config_text(fwd["text"]), "resolved config of the forward text run")],
        ),
    ]
    return write_report(
        result.report, "dustsim demo: dust, structure and entropy", sections, subtitle=f"dustsim {dustsim.__version__}"
    )

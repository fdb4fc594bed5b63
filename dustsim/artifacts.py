"""Initial conditions ("artifacts"): structured point clouds that the dust starts from.

An artifact is named by a *spec* string:

``gmm``, ``gmm:k=4,std=0.2``
    Gaussian mixture (``k`` components on a circle of radius ``radius``, isotropic
    ``std``; or explicit ``means``, ``stds``, ``weights`` in a config file).
``swiss-roll``, ``moons``, ``rings``, ``checkerboard``
    The classic toy sets (2-D; ``swiss-roll`` also 3-D), with ``noise`` etc. options.
``gaussian``, ``uniform``, ``point``
    An isotropic Gaussian, a uniform cube, all particles at one point.
``text:WORD``
    The glyphs of WORD (rendered with matplotlib's TextPath), filled with dust.
``image:PATH``
    A picture whose pixel intensity is the density; ``invert`` (default ``"auto"``: dark
    ink when the border is light) makes darkness the density.
``points:PATH``
    A user's point cloud, N x d, from ``.npy``, ``.csv`` or ``.txt``.

Options follow the kind as ``key=value`` pairs separated by commas (values are TOML
literals), or come from the ``[artifact]`` table of a config file. Every artifact is
scaled to lie roughly in ``[-1, 1]^d`` and then multiplied by ``scale``.

:func:`make_artifact` returns an :class:`Artifact`: positions (float64, shape (n, d)),
optional integer labels, and ``params``, the fully resolved options (for a Gaussian
mixture the exact means, standard deviations and weights), which the simulator records
in the trajectory's config so that analyses can use the exact initial law.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .errors import ConfigError, InputFileError
from .spec import finite_number, integer, parse_options, positive_number


@dataclass
class Artifact:
    """A sampled initial condition.

    Attributes
    ----------
    positions : ndarray, shape (n, d), float64
        Particle positions (length units).
    labels : ndarray of int, shape (n,), or None
        Per-particle integer label (mixture component, letter, moon, ...).
    params : dict
        The resolved artifact options, including ``kind``.
    """

    positions: NDArray[np.float64]
    labels: NDArray[np.int32] | None
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def dim(self) -> int:
        return int(self.positions.shape[1])


# ----------------------------------------------------------------------------- parsing
#: ``ARG,key=value,...``: the argument of a text/image/points spec and the options after it
_TRAILING_OPTIONS = re.compile(r"^(.+?)((?:,\s*[A-Za-z_][A-Za-z0-9_]*\s*=[^,]*)+)$")


def parse_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """Split an artifact spec into its kind and options.

    ``"text:DUST"`` gives ``("text", {"word": "DUST"})``; ``"gmm:k=4,std=0.2"`` gives
    ``("gmm", {"k": 4, "std": 0.2})``; ``"image:cat.png,invert=true"`` gives
    ``("image", {"path": "cat.png", "invert": True})``.
    """
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError("the artifact spec is empty; try e.g. 'gmm', 'text:DUST' or 'points:cloud.npy'")
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in ARTIFACTS:
        raise ConfigError(f"unknown artifact {kind!r}; choose one of: {', '.join(ARTIFACTS)}")
    positional = _POSITIONAL.get(kind)
    if positional is not None:
        if not rest:
            raise ConfigError(f"artifact {kind!r} needs an argument: '{kind}:{positional.upper()}'")
        # options may follow the argument (text:DUST,scale=2); a file whose own name holds them wins
        found = _TRAILING_OPTIONS.match(rest)
        if found is None or (kind != "text" and Path(rest).expanduser().exists()):
            return kind, {positional: rest}
        return kind, {positional: found.group(1), **parse_options(found.group(2).lstrip(","), "artifact")}
    return kind, parse_options(rest, "artifact")


# --------------------------------------------------------------------------- the sets
def _opt(options: dict[str, Any], kind: str, key: str, default: Any, kind_of: type = float) -> Any:
    value = options.pop(key, default)
    if kind_of is float:
        return finite_number(value, key, f"artifact {kind!r}")
    if kind_of is int:
        return integer(value, key, f"artifact {kind!r}")
    if kind_of is bool and not isinstance(value, bool):
        raise ConfigError(f"artifact {kind!r}: {key} must be true or false, got {value!r}")
    return value


def _need_dim(kind: str, dim: int, allowed: tuple[int, ...]) -> None:
    if dim not in allowed:
        raise ConfigError(
            f"artifact {kind!r} exists in {' or '.join(f'{a}-D' for a in allowed)}, not {dim}-D; set dim accordingly"
        )


def _gmm(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    if "means" in o:
        means = np.asarray(o.pop("means"), dtype=np.float64)
        if means.ndim != 2 or means.shape[1] != dim or not np.all(np.isfinite(means)):
            raise ConfigError(f"artifact 'gmm': means must be a finite k x {dim} list, got shape {means.shape}")
        k = means.shape[0]
        o.pop("k", None)
        o.pop("radius", None)
    else:
        k = _opt(o, "gmm", "k", 8, int)
        radius = _opt(o, "gmm", "radius", 0.8)
        if k < 1:
            raise ConfigError(f"artifact 'gmm': k must be >= 1, got {k}")
        means = np.zeros((k, dim))
        if dim == 1:
            means[:, 0] = np.linspace(-radius, radius, k) if k > 1 else 0.0
        else:
            angle = 2 * np.pi * np.arange(k) / k
            means[:, 0], means[:, 1] = radius * np.cos(angle), radius * np.sin(angle)
    scale = o.pop("scale")
    means = means * scale
    stds = np.asarray(o.pop("stds", None) or [_opt(o, "gmm", "std", 0.08)] * k, dtype=np.float64) * scale
    o.pop("std", None)
    weights = np.asarray(o.pop("weights", None) or [1.0 / k] * k, dtype=np.float64)
    if stds.shape != (k,) or not np.all(stds > 0):
        raise ConfigError(f"artifact 'gmm': stds must be {k} positive numbers")
    if weights.shape != (k,) or not np.all(weights >= 0) or weights.sum() <= 0:
        raise ConfigError(f"artifact 'gmm': weights must be {k} non-negative numbers, not all zero")
    weights = weights / weights.sum()
    labels = rng.choice(k, size=n, p=weights).astype(np.int32)
    pos = means[labels] + stds[labels, None] * rng.standard_normal((n, dim))
    # the recorded law is the scaled one, so the record is complete with scale = 1
    params = {"means": means.tolist(), "stds": stds.tolist(), "weights": weights.tolist(), "scale": 1.0}
    return Artifact(pos, labels, params)


def _swiss_roll(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    _need_dim("swiss-roll", dim, (2, 3))
    noise = _opt(o, "swiss-roll", "noise", 0.02)
    turns = _opt(o, "swiss-roll", "turns", 1.5)
    theta = np.pi * (1.5 + 2.0 * turns * rng.random(n))
    r = theta / (np.pi * (1.5 + 2.0 * turns))  # outermost radius 1
    pos = np.zeros((n, dim))
    pos[:, 0], pos[:, 1] = r * np.cos(theta), r * np.sin(theta)
    if dim == 3:
        pos[:, 2] = 2.0 * rng.random(n) - 1.0
    pos[:, :2] += noise * rng.standard_normal((n, 2))
    return Artifact(pos, None, {"noise": noise, "turns": turns})


def _moons(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    _need_dim("moons", dim, (2,))
    noise = _opt(o, "moons", "noise", 0.05)
    labels = (rng.random(n) < 0.5).astype(np.int32)
    theta = np.pi * rng.random(n)
    x = np.where(labels == 0, np.cos(theta), 1.0 - np.cos(theta))
    y = np.where(labels == 0, np.sin(theta), 0.5 - np.sin(theta))
    pos = np.stack([(x - 0.5) / 1.5, (y - 0.25) / 1.5], axis=1) + noise * rng.standard_normal((n, 2))
    return Artifact(pos, labels, {"noise": noise})


def _rings(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    _need_dim("rings", dim, (2,))
    count = _opt(o, "rings", "count", 3, int)
    noise = _opt(o, "rings", "noise", 0.02)
    if count < 1:
        raise ConfigError(f"artifact 'rings': count must be >= 1, got {count}")
    radii = np.arange(1, count + 1) / count
    # particles per ring proportional to its circumference: uniform density along the lines
    labels = rng.choice(count, size=n, p=radii / radii.sum()).astype(np.int32)
    theta = 2 * np.pi * rng.random(n)
    pos = radii[labels, None] * np.stack([np.cos(theta), np.sin(theta)], axis=1)
    pos += noise * rng.standard_normal((n, 2))
    return Artifact(pos, labels, {"count": count, "noise": noise})


def _checkerboard(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    _need_dim("checkerboard", dim, (2,))
    size = _opt(o, "checkerboard", "size", 4, int)
    if size < 2:
        raise ConfigError(f"artifact 'checkerboard': size must be >= 2, got {size}")
    cells = [(i, j) for i in range(size) for j in range(size) if (i + j) % 2 == 0]
    labels = rng.integers(len(cells), size=n).astype(np.int32)
    ij = np.asarray(cells, dtype=np.float64)[labels]
    pos = (ij + rng.random((n, 2))) * (2.0 / size) - 1.0
    return Artifact(pos, labels, {"size": size})


def _gaussian(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    std = _opt(o, "gaussian", "std", 0.5)
    mean = _opt(o, "gaussian", "mean", 0.0)
    if std <= 0:
        raise ConfigError(f"artifact 'gaussian': std must be positive, got {std}")
    return Artifact(mean + std * rng.standard_normal((n, dim)), None, {"std": std, "mean": mean})


def _uniform(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    half = _opt(o, "uniform", "half_width", 1.0)
    if half <= 0:
        raise ConfigError(f"artifact 'uniform': half_width must be positive, got {half}")
    return Artifact(half * (2.0 * rng.random((n, dim)) - 1.0), None, {"half_width": half})


def _point(n: int, dim: int, _rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    at = o.pop("at", 0.0)
    pos = np.broadcast_to(np.asarray(at, dtype=np.float64), (n, dim)).copy()
    if not np.all(np.isfinite(pos)):
        raise ConfigError(f"artifact 'point': at must be finite, got {at!r}")
    return Artifact(pos, None, {"at": at})


def _text(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    _need_dim("text", dim, (2,))
    from matplotlib.font_manager import FontProperties
    from matplotlib.path import Path as MplPath
    from matplotlib.textpath import TextPath

    word = str(o.pop("word"))
    family = str(o.pop("font", "DejaVu Sans"))
    weight = str(o.pop("weight", "bold"))
    if not word.strip():
        raise ConfigError("artifact 'text': the word has no visible characters")
    prop = FontProperties(family=family, weight=weight)
    path = TextPath((0, 0), word, prop=prop, size=1)
    ext = path.get_extents()
    # Uniform dust over the ink, by rejection from the bounding box. A point is inside
    # when an odd number of the outlines contain it, so the holes of D, O, A stay empty
    # (Path.contains_points on the compound path would fill them).
    outlines = [MplPath(poly) for poly in path.to_polygons(closed_only=True)]
    pos = np.empty((0, 2))
    while len(pos) < n:
        box = rng.random((max(2 * (n - len(pos)), 1024), 2)) * [ext.width, ext.height] + [ext.x0, ext.y0]
        inside = sum(o.contains_points(box).astype(np.int64) for o in outlines) % 2 == 1
        pos = np.concatenate([pos, box[inside]])
    pos = pos[:n]
    # Label = index of the visible letter: letter i ends where the ink of word[:i+1] ends.
    visible = [i for i, ch in enumerate(word) if not ch.isspace()]
    right_edges = np.array([TextPath((0, 0), word[: i + 1], prop=prop, size=1).get_extents().x1 for i in visible])
    labels = np.minimum(np.searchsorted(right_edges, pos[:, 0]), len(visible) - 1).astype(np.int32)
    centre = np.array([0.5 * (ext.x0 + ext.x1), 0.5 * (ext.y0 + ext.y1)])
    pos = (pos - centre) / (0.5 * max(ext.width, ext.height))
    return Artifact(pos, labels, {"word": word, "font": family, "weight": weight})


def _image(n: int, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    _need_dim("image", dim, (2,))
    import matplotlib.image as mpimg

    path = Path(str(o.pop("path"))).expanduser()
    invert_option = o.pop("invert", "auto")
    if invert_option != "auto" and not isinstance(invert_option, bool):
        raise ConfigError(f"artifact 'image': invert must be true, false or \"auto\", got {invert_option!r}")
    if not path.is_file():
        raise InputFileError(f"image file not found: {path}")
    try:
        raw = np.asarray(mpimg.imread(path))
    except Exception as exc:  # noqa: BLE001 - any decoder failure is a bad input file
        raise InputFileError(f"cannot read image {path}: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    # integer pixels (JPEG, 8/16-bit PNG read by Pillow) to [0, 1]; float PNGs already are
    top = float(np.iinfo(raw.dtype).max) if np.issubdtype(raw.dtype, np.integer) else 1.0
    img = raw.astype(np.float64) / top
    if img.ndim == 3 and img.shape[2] in (1, 2, 3, 4):
        channels = img.shape[2]
        alpha = img[..., -1] if channels in (2, 4) else np.ones(img.shape[:2])
        gray = img[..., :3].mean(axis=2) if channels >= 3 else img[..., 0]
    elif img.ndim == 2:
        gray, alpha = img, np.ones(img.shape)
    else:
        raise InputFileError(f"image {path} has unsupported shape {img.shape}")
    invert = _image_invert(gray, alpha, path) if invert_option == "auto" else bool(invert_option)
    intensity = (1.0 - gray if invert else gray) * alpha
    weights = np.clip(intensity, 0.0, None).ravel()
    if not np.isfinite(weights).all() or weights.sum() <= 0:
        read = "dark pixels as dust (invert = true)" if invert else "bright pixels as dust (invert = false)"
        other = "false" if invert else "true"
        raise InputFileError(f"image {path} is blank when read with {read}; try invert={other}, or another image")
    h, w = intensity.shape
    flat = rng.choice(weights.size, size=n, p=weights / weights.sum())
    row, col = np.divmod(flat, w)
    x = col + rng.random(n)
    y = (h - row - 1) + rng.random(n)  # image rows run downwards
    scale = 2.0 / max(h, w)
    pos = np.stack([(x - w / 2) * scale, (y - h / 2) * scale], axis=1)
    return Artifact(pos, None, {"path": str(path), "invert": invert, "sha256": _sha256(path, o)})


#: ``invert = "auto"``: the background is light when the border's mean brightness exceeds this
LIGHT_BACKGROUND = 0.55


def _image_invert(gray: NDArray[np.float64], alpha: NDArray[np.float64], path: Path) -> bool:
    """Whether the density is the *dark* pixels: a dark shape on a light (or transparent) background.

    The background is read off the image's border (one pixel wide): light border, or a
    transparent border around dark opaque content, means dark ink. Says what it assumed.
    """

    def border(a: NDArray[np.float64]) -> NDArray[np.float64]:
        return np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])

    if border(alpha).mean() < 0.5:  # transparent background: the opaque content is the shape
        opaque = alpha > 0.5
        dark = bool(opaque.any() and gray[opaque].mean() < 0.5)
        what = "transparent background around dark content" if dark else "transparent background"
    else:
        dark = bool(border(gray).mean() > LIGHT_BACKGROUND)
        what = "light background: dark pixels are the shape" if dark else "dark background: bright pixels are the shape"
    if dark:
        _note(
            f"image: {path.name} has a {what}; density = darkness (invert = true); pass -A invert=false for brightness"
        )
    return dark


def _sha256(path: Path, o: dict[str, Any] | None = None) -> str:
    """The file's SHA-256; a recorded one (option ``sha256`` of a resolved config) must match it."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    recorded = (o or {}).pop("sha256", None)
    if recorded is not None and recorded != digest:
        raise InputFileError(f"{path} has changed since the run that recorded it (SHA-256 differs)")
    return digest


def load_points(path: str | Path) -> NDArray[np.float64]:
    """Read an N x d point cloud from ``.npy``, ``.csv`` or ``.txt`` (whitespace).

    Text files may start with a header line of column names and contain ``#``
    comments; see :func:`read_points`.

    Raises
    ------
    InputFileError
        Missing or unreadable file, not a 2-D array, fewer than one point, or
        non-finite values.
    """
    return read_points(path)[0]


def read_points(path: str | Path) -> tuple[NDArray[np.float64], list[str] | None]:
    """Read a point cloud and its column names (from a header line; None without one).

    Errors name the file's line and column (counted from 1, as an editor shows them).
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputFileError(f"points file not found: {path}")
    suffix = path.suffix.lower()
    columns = None
    if suffix == ".npy":
        try:
            data = np.load(path, allow_pickle=False)
        except Exception as exc:  # noqa: BLE001 - any parser failure is a bad input file
            raise InputFileError(f"cannot read points file {path}: {str(exc).splitlines()[0]}") from None
        data = np.asarray(data)
        if data.dtype.names:
            columns = list(data.dtype.names)
            data = np.stack([data[name] for name in columns], axis=-1)
        lines = None
    elif suffix in (".csv", ".txt", ".dat", ".xyz", ".tsv"):
        data, columns, lines = _read_text_points(path, "," if suffix == ".csv" else "\t" if suffix == ".tsv" else None)
    else:
        raise InputFileError(f"points file {path}: unknown format {suffix!r} (use .npy, .csv or .txt)")
    if data.ndim == 1 and suffix != ".npy":
        data = data[:, None]
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] < 1:
        raise InputFileError(f"points file {path}: expected an N x d array, got shape {data.shape}")
    if not np.issubdtype(data.dtype, np.number):
        raise InputFileError(f"points file {path}: values are not numbers (dtype {data.dtype})")
    data = data.astype(np.float64)
    bad = ~np.isfinite(data)
    if bad.any():
        row, col = (int(v) for v in np.argwhere(bad)[0])
        where = f"line {lines[row]}, column {col + 1}" if lines is not None else f"row {row}, column {col}"
        raise InputFileError(f"points file {path}: non-finite value (NaN or inf) at {where}")
    return data, columns


def _read_text_points(path: Path, delimiter: str | None) -> tuple[NDArray[np.float64], list[str] | None, list[int]]:
    """Parse a text table (written by hand: plain Python parsing gives every error its line and column)."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputFileError(f"cannot read points file {path}: {exc.strerror or exc}") from None
    rows: list[list[float]] = []
    lines: list[int] = []
    columns: list[str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        sep = delimiter if delimiter is not None else ("," if "," in line else None)
        fields = [f.strip().strip('"').strip("'") for f in (line.split(sep) if sep else line.split())]
        try:
            values = [float(f) for f in fields]
        except ValueError:
            if columns is None and not rows:
                columns = fields
                continue
            col = next(j for j, f in enumerate(fields) if not _is_number(f))
            raise InputFileError(
                f"cannot read points file {path}: line {number}, column {col + 1}: {fields[col]!r} is not a number"
            ) from None
        width = len(columns) if columns is not None and not rows else len(rows[0]) if rows else len(values)
        if len(values) != width:
            first = "the header" if columns is not None and not rows else f"line {lines[0]}"
            raise InputFileError(
                f"cannot read points file {path}: line {number} has {len(values)} values, but "
                f"{first} has {width} columns (a missing or extra value?)"
            )
        rows.append(values)
        lines.append(number)
    if not rows:
        raise InputFileError(f"points file {path}: no data rows")
    return np.asarray(rows, dtype=np.float64), columns, lines


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


class InputNote(UserWarning):
    """What dustsim did to a user's input (standardisation, projection, duplicates): shown as a note."""


#: column names read as longitude / latitude in degrees
_LONGITUDE = ("lon", "lng", "long", "longitude", "x_lon")
_LATITUDE = ("lat", "latitude", "y_lat")
#: ``standardize = "auto"`` rescales the axes separately when their spreads differ by more than this factor
AXIS_RATIO_LIMIT = 10.0
#: ... and the whole cloud (one factor) when its rms distance from the origin is outside this range
RMS_RANGE = (0.2, 5.0)
STANDARDIZE_MODES = ("auto", "axes", "isotropic", "none")


def _note(message: str) -> None:
    import warnings

    warnings.warn(message, InputNote, stacklevel=4)


def _lonlat_axes(columns: list[str] | None) -> tuple[int, int] | None:
    """Indices of the longitude and latitude columns, if the header names both."""
    if not columns:
        return None
    names = [c.strip().lower() for c in columns]
    lon = [i for i, c in enumerate(names) if c in _LONGITUDE]
    lat = [i for i, c in enumerate(names) if c in _LATITUDE]
    return (lon[0], lat[0]) if lon and lat else None


def _project(
    data: NDArray[np.float64], columns: list[str] | None, o: dict[str, Any], path: Path
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Longitude/latitude columns (degrees) onto a plane: x = lon cos(lat0), y = lat (equirectangular)."""
    projection = str(o.pop("projection", "auto"))
    if projection not in ("auto", "none", "equirectangular"):
        raise ConfigError(f"artifact 'points': projection must be auto, none or equirectangular, got {projection!r}")
    axes = _lonlat_axes(columns)
    if projection == "none" or (projection == "auto" and axes is None):
        return data, {"projection": "none"} if projection == "none" else {}
    if axes is not None and data.shape[1] != 2:
        raise ConfigError(
            f"artifact 'points': {path.name} has columns {columns}; longitude/latitude are projected only when "
            "they are the only two columns: drop the others, or pass -A projection=none to use every column as "
            "a plane coordinate"
        )
    if axes is None:
        if data.shape[1] != 2:
            raise ConfigError("artifact 'points': projection = equirectangular needs two columns (longitude, latitude)")
        axes = (0, 1)
    lon, lat = data[:, axes[0]], data[:, axes[1]]
    if np.abs(lat).max() > 90 or np.abs(lon).max() > 360:
        raise InputFileError(
            f"points file {path}: columns {columns} are named as longitude/latitude but hold values "
            "beyond +-360 / +-90 degrees; pass -A projection=none"
        )
    lat0 = float(o.pop("reference_latitude", float(np.mean(lat))))
    out = np.stack([lon * math.cos(math.radians(lat0)), lat], axis=1)
    if projection == "auto" and columns is not None:
        _note(
            f"points: columns {columns[axes[0]]!r}, {columns[axes[1]]!r} read as longitude/latitude in degrees and "
            f"projected onto a plane (x = lon cos({lat0:.4g} deg), y = lat); pass -A projection=none to keep them"
        )
    return out, {"projection": "equirectangular", "reference_latitude": lat0}


def _standardize(
    data: NDArray[np.float64], o: dict[str, Any], same_units: bool = False
) -> tuple[NDArray[np.float64], dict[str, Any]]:
    """Centre and rescale a user's cloud (``standardize``: auto, axes, isotropic or none).

    ``same_units``: the axes share one unit (projected longitude/latitude), so ``auto``
    never rescales them separately (that would distort the map).
    """
    mode = o.pop("standardize", "auto")
    if mode is False:
        mode = "none"
    if mode not in STANDARDIZE_MODES:
        raise ConfigError(f"artifact 'points': standardize must be one of {', '.join(STANDARDIZE_MODES)}, got {mode!r}")
    centre, spread = o.pop("centre", None), o.pop("spread", None)
    d = data.shape[1]
    if centre is not None or spread is not None:  # a resolved (recorded) transformation: apply it as it is
        centre = np.broadcast_to(np.asarray(centre if centre is not None else 0.0, dtype=np.float64), (d,))
        spread = np.broadcast_to(np.asarray(spread if spread is not None else 1.0, dtype=np.float64), (d,))
        if not (np.isfinite(centre).all() and np.isfinite(spread).all() and (spread > 0).all()):
            raise ConfigError("artifact 'points': centre must be finite and spread positive")
        return (data - centre) / spread, {"standardize": mode, "centre": centre.tolist(), "spread": spread.tolist()}
    std = data.std(axis=0) if len(data) > 1 else np.zeros(d)
    spread_axes = np.where(std > 0, std, 1.0)
    chosen, reason = mode, ""
    if mode == "auto":
        positive = std[std > 0]
        ratio = float(positive.max() / positive.min()) if positive.size else 1.0
        rms_origin = float(np.sqrt(np.mean(np.sum(data**2, axis=1))))
        rms_mean = float(np.sqrt(np.mean(np.sum((data - data.mean(axis=0)) ** 2, axis=1))))
        if d > 1 and ratio > AXIS_RATIO_LIMIT and not same_units:
            chosen, reason = "axes", f"the axes' spreads differ by a factor {ratio:.3g}"
        elif rms_origin > RMS_RANGE[1] or 0 < rms_mean < RMS_RANGE[0]:
            chosen, reason = (
                "isotropic",
                (
                    f"its rms distance from the origin is {rms_origin:.3g} and its rms spread "
                    f"{rms_mean:.3g} (noise processes expect about 1)"
                ),
            )
        else:
            return data, {"standardize": "none"}
    if chosen == "none":
        return data, {"standardize": "none"}
    centre = data.mean(axis=0)
    spread = spread_axes if chosen == "axes" else np.full(d, float(spread_axes.max()))
    if mode == "auto":
        how = "each axis to mean 0, std 1" if chosen == "axes" else "one factor to mean 0, largest axis std 1"
        _note(
            f"points: standardised ({how}) because {reason}: x' = (x - centre) / spread with centre "
            f"{_short(centre)}, spread {_short(spread)} (recorded in the config); pass -A standardize=none to keep "
            "the file's units"
        )
    return (data - centre) / spread, {"standardize": chosen, "centre": centre.tolist(), "spread": spread.tolist()}


def _short(values: NDArray[np.float64]) -> str:
    return "[" + ", ".join(f"{v:.4g}" for v in values[:4]) + (", ..." if len(values) > 4 else "") + "]"


def to_recorded_units(
    data: NDArray[np.float64], columns: list[str] | None, table: dict[str, Any]
) -> tuple[NDArray[np.float64], float, str]:
    """Apply a points artifact's recorded projection and standardisation to new points of the same file format.

    ``table`` is the resolved ``[artifact]`` table of the run a model was trained on.
    Returns the points in the units the dust (and the model) lives in, the log of the
    transformation's Jacobian determinant (nats, per point: ``log p_file(x) = log
    p_model(x') + log_jacobian``) and a description (empty when nothing was applied).
    """
    if table.get("kind") != "points":
        return data, 0.0, ""
    x, log_jacobian, done = np.asarray(data, dtype=np.float64), 0.0, []
    if table.get("projection") == "equirectangular":
        axes = _lonlat_axes(columns)
        if x.shape[1] != 2 or (columns is not None and axes is None):
            raise InputFileError(
                f"the model's data were longitude/latitude projected onto a plane, but these points have "
                f"{x.shape[1]} columns{f' {columns}' if columns else ''}; give the two columns lon, lat"
            )
        axes = axes or (0, 1)
        lat0 = float(table["reference_latitude"])
        x = np.stack([x[:, axes[0]] * math.cos(math.radians(lat0)), x[:, axes[1]]], axis=1)
        log_jacobian += math.log(math.cos(math.radians(lat0)))
        done.append(f"projected (lat0 = {lat0:.4g} deg)")
    if "centre" in table and "spread" in table:
        centre, spread = np.asarray(table["centre"], dtype=float), np.asarray(table["spread"], dtype=float)
        if centre.shape != (x.shape[1],):
            raise InputFileError(f"the points have {x.shape[1]} columns but the model's data had {centre.size}")
        x = (x - centre) / spread
        log_jacobian -= float(np.log(spread).sum())
        done.append(f"standardised (centre {_short(centre)}, spread {_short(spread)})")
    scale = float(table.get("scale", 1.0))
    if scale != 1.0:
        x = x * scale
        log_jacobian += x.shape[1] * math.log(scale)
        done.append(f"scaled by {scale:g}")
    return x, log_jacobian, ", ".join(done)


def _points(n: int | None, dim: int, rng: np.random.Generator, o: dict[str, Any]) -> Artifact:
    path = Path(str(o.pop("path"))).expanduser()
    data, columns = read_points(path)
    digest = _sha256(path, o)
    o.pop("resampled", None)  # recorded outcomes of a resolved config, recomputed here
    o.pop("columns", None)
    data, projected = _project(data, columns, o, path)
    if data.shape[1] != dim:
        raise InputFileError(f"points file {path} has {data.shape[1]} columns but dim is {dim}")
    distinct = len(np.unique(data, axis=0))
    if distinct < len(data):
        _note(
            f"points: {path.name} has {len(data) - distinct} duplicate points ({distinct} distinct of {len(data)}); "
            "they are kept (nearest-neighbour entropy estimates at t = 0 see zero distances)"
        )
    data, standardized = _standardize(data, o, same_units=projected.get("projection") == "equirectangular")
    replace = n is not None and n > len(data)
    if replace:
        _note(
            f"points: n = {n} is more than the {len(data)} points of {path.name}: drawn with replacement, so the "
            "first frame repeats points (atoms: nearest-neighbour entropy estimates at t = 0 see zero distances)"
        )
    if n is None or n == len(data):
        pos = data
    else:
        pos = data[rng.choice(len(data), size=n, replace=replace)]
    params: dict[str, Any] = {"path": str(path), "sha256": digest, "resampled": replace, **projected, **standardized}
    if columns is not None:
        params["columns"] = columns
    return Artifact(pos.copy(), None, params)


ARTIFACTS: dict[str, Callable[..., Artifact]] = {
    "gmm": _gmm,
    "swiss-roll": _swiss_roll,
    "moons": _moons,
    "rings": _rings,
    "checkerboard": _checkerboard,
    "gaussian": _gaussian,
    "uniform": _uniform,
    "point": _point,
    "text": _text,
    "image": _image,
    "points": _points,
}
_POSITIONAL = {"text": "word", "image": "path", "points": "path"}
DEFAULT_N = 10_000


def artifact_dim(spec: str, options: dict[str, Any] | None = None) -> int:
    """The natural dimension of an artifact (2, or the column count of a points file)."""
    kind, parsed = parse_spec(spec)
    opts = {**parsed, **(options or {})}
    if kind == "points":
        data, columns = read_points(opts["path"])
        projection = opts.get("projection", "auto")
        if projection == "equirectangular" or (projection == "auto" and _lonlat_axes(columns)):
            return 2
        return int(data.shape[1])
    if kind == "gmm" and "means" in opts:
        return int(np.asarray(opts["means"]).shape[1])
    return 2


def make_artifact(
    spec: str,
    n: int | None = None,
    dim: int | None = None,
    *,
    seed: int | np.random.Generator | None = None,
    options: dict[str, Any] | None = None,
) -> Artifact:
    """Sample an artifact.

    Parameters
    ----------
    spec : str
        Artifact spec (see the module docstring), e.g. ``"text:DUST"``.
    n : int, optional
        Number of particles (default 10000; for ``points`` all points of the file).
    dim : int, optional
        Number of spatial axes (default: the artifact's natural dimension).
    seed : int or numpy Generator, optional
        Source of randomness.
    options : dict, optional
        Further options, overriding those in the spec (e.g. a config's ``[artifact]``).

    Returns
    -------
    Artifact
    """
    kind, parsed = parse_spec(spec)
    opts = {**parsed, **(options or {})}
    opts.pop("kind", None)
    opts.pop("spec", None)
    scale = _opt(opts, kind, "scale", 1.0)
    scale = positive_number(scale, "scale", f"artifact {kind!r}")
    if dim is None:
        dim = artifact_dim(spec, options)
    dim = integer(dim, "dim", minimum=1, maximum=255)
    if n is not None:
        n = integer(n, "n", minimum=1, maximum=2**32 - 1)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if kind != "points" and n is None:
        n = DEFAULT_N
    if kind == "gmm":  # the mixture scales its own law (see _gmm)
        opts["scale"] = scale
    art = ARTIFACTS[kind](n, dim, rng, opts)
    if opts:
        raise ConfigError(f"artifact {kind!r} has no option {sorted(opts)[0]!r}")
    if kind != "gmm" and scale != 1.0:
        art.positions *= scale
    art.params = {"kind": kind, **art.params, "scale": art.params.get("scale", scale)}
    if kind in _POSITIONAL:
        art.params[_POSITIONAL[kind]] = parsed.get(_POSITIONAL[kind], opts.get(_POSITIONAL[kind]))
        art.params = {"kind": kind, **{k: v for k, v in art.params.items() if k != "kind"}}
    return art

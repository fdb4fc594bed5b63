"""One validation and spec layer: option specs, numbers and per-axis values, one error style.

Every user-facing option of dustsim (artifacts, processes, potentials, interactions,
schedules, boundaries, the config file and the model's ``[network]`` / ``[training]`` /
``[sampler]`` tables) is checked here, with one set of rules:

- a *number* is a real ``int`` or ``float`` (numpy scalars included) that is finite;
  ``True`` and ``False`` are **not** numbers, nor are strings;
- an *integer* is an ``int`` (numpy integers included), not a ``bool``;
- a *per-axis* value is one number (the same on every axis) or a list of one per axis.

A failed check raises :class:`~dustsim.errors.ConfigError` with one line that names the
option (and where it belongs) and says what it must be::

    potential 'harmonic': k must be a positive number, got -1
    [training] lr must be a number > 0, got 0

A *spec* is the command-line shorthand of a table: ``name:key=value,key=value``, where
each value is a TOML literal (``2``, ``0.5``, ``[1, 2]``, ``true``, ``"text"``) or else a
plain string; commas inside brackets belong to list values (:func:`parse_spec`).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Collection
from typing import Any

import numpy as np

from .errors import ConfigError

__all__ = [
    "axis_numbers",
    "choice",
    "finite_number",
    "integer",
    "is_integer",
    "is_number",
    "nonnegative_number",
    "number_in",
    "parse_options",
    "parse_spec",
    "parse_value",
    "per_axis",
    "positive_number",
    "split_options",
]


# ------------------------------------------------------------------------ the rules
def is_number(value: Any) -> bool:
    """Whether ``value`` is a finite real number (``bool`` is not a number)."""
    return (
        not isinstance(value, (bool, np.bool_))
        and isinstance(value, (int, float, np.integer, np.floating))
        and math.isfinite(value)
    )


def is_integer(value: Any) -> bool:
    """Whether ``value`` is an integer (``bool`` is not an integer)."""
    return not isinstance(value, (bool, np.bool_)) and isinstance(value, (int, np.integer))


def _fail(name: str, where: str, requirement: str, value: Any) -> ConfigError:
    """The one error style: ``<where> <name> must be <requirement>, got <value>``."""
    prefix = f"{where}: " if where and not where.startswith("[") else f"{where} " if where else ""
    return ConfigError(f"{prefix}{name} must be {requirement}, got {value!r}")


# ------------------------------------------------------------------------ numbers
def finite_number(value: Any, name: str, where: str = "") -> float:
    """``value`` as a float; ConfigError unless it is a finite number.

    Parameters
    ----------
    value : any
        The value given.
    name : str
        The option's name, as the user wrote it (e.g. ``"sigma"``, ``"--dt"``).
    where : str
        What the option belongs to, e.g. ``"interaction 'wca'"`` or ``"[training]"``.
    """
    if not is_number(value):
        raise _fail(name, where, "a finite number", value)
    return float(value)


def positive_number(value: Any, name: str, where: str = "") -> float:
    """``value`` as a float; ConfigError unless it is a finite number > 0."""
    if not is_number(value) or value <= 0:
        raise _fail(name, where, "a positive number", value)
    return float(value)


def nonnegative_number(value: Any, name: str, where: str = "") -> float:
    """``value`` as a float; ConfigError unless it is a finite number >= 0."""
    if not is_number(value) or value < 0:
        raise _fail(name, where, "a number >= 0", value)
    return float(value)


def number_in(
    value: Any,
    name: str,
    where: str = "",
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
) -> float:
    """``value`` as a float; ConfigError unless it is a finite number in range.

    ``minimum`` is excluded when ``strict`` (``> minimum``), included otherwise;
    ``maximum`` is included. The message names the lower bound (``a number > 0``).
    """
    ok = is_number(value)
    if ok and minimum is not None:
        ok = value > minimum if strict else value >= minimum
    if ok and maximum is not None:
        ok = value <= maximum
    if not ok:
        bound = "" if minimum is None else (f" > {minimum}" if strict else f" >= {minimum}")
        raise _fail(name, where, f"a number{bound}", value)
    return float(value)


def integer(value: Any, name: str, where: str = "", *, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an int; ConfigError unless it is an integer in ``[minimum, maximum]``."""
    if not is_integer(value):
        raise _fail(name, where, "an integer", value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        if minimum is not None and maximum is not None:
            bound = f"between {minimum} and {maximum}"
        else:
            bound = f">= {minimum}" if minimum is not None else f"<= {maximum}"
        raise _fail(name, where, bound, int(value))
    return int(value)


def choice(value: Any, name: str, choices: Collection[str], where: str = "") -> str:
    """``value``; ConfigError unless it is one of ``choices``."""
    if not isinstance(value, str) or value not in choices:
        raise _fail(name, where, f"one of {', '.join(choices)}", value)
    return value


def axis_numbers(value: Any, name: str, dim: int, where: str = "", *, sign: str = "any") -> list[float]:
    """One finite number per axis (:func:`per_axis`), each positive (``sign="positive"``),
    >= 0 (``"nonnegative"``) or any (``"any"``)."""
    values = per_axis(value, name, dim, where)
    requirement = {"any": "finite", "positive": "positive", "nonnegative": ">= 0"}[sign]
    for v in values:
        if not is_number(v) or (sign == "positive" and v <= 0) or (sign == "nonnegative" and v < 0):
            raise _fail(name, where, f"{requirement} (one number or one per axis)", value)
    return [float(v) for v in values]


def per_axis(value: Any, name: str, dim: int, where: str = "") -> list[Any]:
    """One value per axis: ``value`` repeated ``dim`` times, or a list of ``dim`` values.

    The entries are not checked (pass them to a number check); the count is.
    """
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value] * dim
    if len(values) != dim:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}{name} has {len(values)} values but the system is {dim}-D")
    return values


# --------------------------------------------------------------------------- specs
def parse_value(text: str) -> Any:
    """A spec or command-line value: a TOML literal (``2``, ``[1, 2]``, ``true``), else the text."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def split_options(text: str) -> list[str]:
    """``"a=1,b=[1,2]"`` -> ``["a=1", "b=[1,2]"]``: split at commas outside brackets."""
    items, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "," and depth == 0:
            items.append(cur)
            cur = ""
        else:
            cur += ch
    items.append(cur)
    return [i for i in items if i.strip()]


def parse_options(
    text: str, what: str, *, strings: Collection[str] = (), positional: str | None = None
) -> dict[str, Any]:
    """The options of a spec, ``"key=value,key=value"``, as a table.

    Parameters
    ----------
    text : str
        What follows ``name:`` in the spec.
    what : str
        The kind of spec, for messages (``"potential"``, ``"schedule"`` ...).
    strings : collection of str
        Keys whose values stay strings as written (import paths such as ``module:function``).
    positional : str, optional
        Key of a leading value given without ``key=`` (``custom:module:function``).
    """
    if positional is not None and text and "=" not in text.split(",")[0]:
        text = f"{positional}={text}"
    table: dict[str, Any] = {}
    for item in split_options(text) if text else []:
        key, eq, value = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"{what} option {item!r} is not of the form key=value")
        table[key] = value.strip() if key in strings else parse_value(value.strip())
    return table


def parse_spec(
    spec: Any,
    what: str,
    *,
    choices: Collection[str] | None = None,
    strings: Collection[str] = (),
    positional: str | None = None,
) -> dict[str, Any]:
    """``"name:key=value,..."`` -> ``{"name": name, key: value, ...}`` (the name lower-cased).

    With ``choices``, an empty spec is refused with the list of names. ``strings`` and
    ``positional`` are as in :func:`parse_options`.
    """
    if choices is not None and (not isinstance(spec, str) or not spec.strip()):
        raise ConfigError(f"empty {what} spec; choose one of: {', '.join(choices)}")
    name, _, rest = str(spec).strip().partition(":")
    table: dict[str, Any] = {"name": name.strip().lower()}
    table.update(parse_options(rest, what, strings=strings, positional=positional))
    return table

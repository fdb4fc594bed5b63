"""Option helpers shared by the CLI commands."""

from __future__ import annotations

import shlex
import sys
from collections.abc import Iterable
from typing import Any

import click

from ..config import parse_config_value


def parse_pairs(pairs: Iterable[str], option: str) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options (values as TOML literals)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise click.BadParameter(f"{pair!r} is not of the form KEY=VALUE", param_hint=option)
        out[key.strip()] = parse_config_value(value.strip())
    return out


def command_line() -> str:
    """The command line as typed, for the history attribute."""
    return "dustsim " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def output_option(required: bool = True, help_text: str = "Output file: .nc (netCDF) or .zarr (Zarr).") -> Any:
    return click.option("-o", "--output", type=click.Path(dir_okay=True), required=required, help=help_text)


def seed_option() -> Any:
    return click.option(
        "--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed of every random draw (default: fresh)."
    )


def _max_particles(_ctx: Any, _param: Any, value: int) -> int:
    if value != 0 and value < 2:
        raise click.BadParameter(f"must be 0 (all particles) or at least 2, got {value}")
    return value


def max_particles_option() -> Any:
    """``--max-particles``: the random subsample per frame of the estimating commands (0: all)."""
    return click.option(
        "--max-particles",
        type=int,
        default=200_000,
        show_default=True,
        callback=_max_particles,
        help="Random subsample of particles per frame (0: all).",
    )


def dry_run_option() -> Any:
    return click.option(
        "--dry-run",
        is_flag=True,
        help="Check every input and option, print the resolved plan (sizes, outputs) and exit.",
    )


def print_plan(command: str, items: dict[str, Any]) -> None:
    """Print a resolved plan of ``dustsim COMMAND --dry-run``: one ``key: value`` line per item."""
    click.echo(f"plan of dustsim {command} (dry run: nothing written)")
    for key, value in items.items():
        click.echo(f"  {key}: {value}")

"""Command-line options for physical dust, shared by ``simulate`` and ``fokker-planck``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ..config import SimulationConfig

PHYSICS_OPTIONS = ("potential", "boundary", "box", "interaction", "schedule", "kT", "label_diffusion", "step_guard")


def physics_options(interactions: bool = True) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Add the physics options to a command; the function receives them as one ``physics`` dict."""

    options = [
        click.option(
            "--potential",
            "potential",
            multiple=True,
            metavar="SPEC",
            help="External potential, repeatable: harmonic:k=2, double-well:barrier=3,width=1, "
            "cosine:amplitude=1,wavelength=2, constant:force=[0,-1], custom:module:function.",
        ),
        click.option("--boundary", help="free, periodic or reflecting (or one per axis: periodic,reflecting)."),
        click.option("--box", metavar="L[,L...]", help="Box length (per axis: 20,10); alone it means a periodic box."),
    ]
    if interactions:
        options.append(
            click.option(
                "--interaction",
                metavar="SPEC",
                help="Pair potential: harmonic:epsilon=10,sigma=1 (soft), wca:sigma=1, lj:epsilon=1,cutoff=2.5, "
                "morse:epsilon=5,a=5,r0=1.",
            )
        )
    options += [
        click.option(
            "--schedule",
            metavar="SPEC",
            help="Time-dependent D or kT: linear:of=kT,start=2,end=0.1; exponential:...; python:mod:fn.",
        ),
        click.option("--kT", "kT", type=float, help="Temperature (energy units, default 1)."),
        click.option(
            "--label-diffusion",
            metavar="D0,D1,...",
            help="Multiplier of the diffusion coefficient per particle label (type).",
        ),
        click.option(
            "--step-guard",
            type=float,
            help="Largest force displacement per step, in units of the force length scale (default 0.2).",
        ),
    ]

    def decorate(f: Callable[..., Any]) -> Callable[..., Any]:
        names = [n for n in PHYSICS_OPTIONS if interactions or n != "interaction"]

        @functools.wraps(f)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            physics = {name: kwargs.pop(name, None) for name in names}
            return f(*args, physics=physics, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper

    return decorate


def apply_physics(cfg: SimulationConfig, physics: dict[str, Any]) -> SimulationConfig:
    """Merge the physics options into a config (an option replaces the config's value)."""
    from ..config import parse_config_value
    from ..errors import ConfigError
    from ..physics.boundaries import parse_box
    from ..physics.interactions import parse_spec as parse_interaction
    from ..physics.potentials import parse_spec as parse_potential
    from ..physics.schedules import parse_spec as parse_schedule

    changes: dict[str, Any] = {}
    if physics.get("potential"):
        changes["potential"] = [parse_potential(spec) for spec in physics["potential"]]
    boundary = dict(cfg.boundary)
    if physics.get("boundary"):
        kinds = [k.strip() for k in physics["boundary"].split(",") if k.strip()]
        boundary["kind"] = kinds[0] if len(kinds) == 1 else kinds
    if physics.get("box"):
        boundary["box"] = parse_box(physics["box"])
        boundary.setdefault("kind", "periodic")
    if boundary != cfg.boundary:
        changes["boundary"] = boundary
    if physics.get("interaction"):
        changes["interaction"] = parse_interaction(physics["interaction"])
    if physics.get("schedule"):
        changes["schedule"] = parse_schedule(physics["schedule"])
    for name in ("kT", "step_guard"):
        if physics.get(name) is not None:
            changes[name] = physics[name]
    if physics.get("label_diffusion"):
        values = parse_config_value(f"[{physics['label_diffusion'].strip('[]')}]")
        if not isinstance(values, list) or not values:
            raise ConfigError(f"--label-diffusion must be numbers like 1,0.25; got {physics['label_diffusion']!r}")
        changes["label_diffusion"] = values
    return cfg.replace(**changes)

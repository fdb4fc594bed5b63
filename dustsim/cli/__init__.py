"""The ``dustsim`` command line: the layer on top that may use both dustsim and analysis.

Every command lives in a module of its own and is registered on :data:`cli` below;
heavy libraries (torch, matplotlib, the analysis package) are imported inside the command
functions so that ``dustsim --help`` stays fast.

Exit codes: 0 success, 1 failure at run time, 2 bad usage or input (one-line message,
no traceback unless ``--traceback``), 130 interrupted.
"""

from __future__ import annotations

import sys
import warnings

import click

from .._version import __version__
from ..errors import ConfigError, DustsimError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
_state = {"traceback": False}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "-V", "--version", prog_name="dustsim")
@click.option("--traceback", is_flag=True, help="Show the full Python traceback on errors.")
def cli(traceback: bool) -> None:
    """dustsim: particle diffusion, score models, and the entropy of both.

    \b
    Examples:
      dustsim simulate --init text:DUST --n 100000 --process vp -o dust.zarr
      dustsim simulate --config run.toml --seed 7 -o run.nc
      dustsim COMMAND --help
    """
    _state["traceback"] = traceback


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    from ..artifacts import InputNote

    kind = "note" if isinstance(category, type) and issubclass(category, InputNote) else "warning"
    click.echo(f"{kind}: {message}", err=True)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit code (used by the ``dustsim`` console script)."""
    args = sys.argv[1:] if argv is None else list(argv)
    _state["traceback"] = "--traceback" in args
    warnings.showwarning = _show_warning
    try:
        cli.main(args=args, prog_name="dustsim", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.UsageError as exc:  # one line, like every other error, with where to look
        where = exc.ctx.command_path if exc.ctx is not None else "dustsim"
        click.echo(f"error: {exc.format_message()} (see '{where} --help')", err=True)
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return int(exc.exit_code)
    except (click.Abort, KeyboardInterrupt):
        click.echo("interrupted", err=True)
        return 130
    except ConfigError as exc:
        return _fail(exc, 2)
    except (DustsimError, OSError, MemoryError) as exc:
        return _fail(exc, 1)
    except Exception as exc:  # noqa: BLE001 - last resort: still one line, exit 1
        return _fail(exc, 1, unexpected=True)


def _fail(exc: BaseException, code: int, unexpected: bool = False) -> int:
    if _state["traceback"]:
        import traceback

        traceback.print_exception(exc)
    message = str(exc) or type(exc).__name__
    if unexpected:
        message = f"{type(exc).__name__}: {message} (rerun with --traceback for details)"
    click.echo(f"error: {message.splitlines()[0]}", err=True)
    return code


def _register() -> None:
    from . import demo, emergence, entropy, fokker_planck, model, plot, quantum, schedules, simulate, sweep

    cli.add_command(simulate.simulate_command)
    cli.add_command(fokker_planck.fokker_planck_command)
    for command in model.COMMANDS:
        cli.add_command(command)
    cli.add_command(entropy.entropy_command)
    cli.add_command(emergence.emergence_command)
    cli.add_command(sweep.sweep_command)
    cli.add_command(plot.plot_command)
    cli.add_command(demo.demo_command)
    cli.add_command(quantum.quantum_command)
    cli.add_command(schedules.schedules_group)


_register()

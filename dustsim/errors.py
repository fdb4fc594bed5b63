"""Exceptions raised by dustsim, sorted by who must act.

``ConfigError`` (and its subclasses) means the caller's input is wrong: the CLI maps it
to exit code 2. Every other ``DustsimError`` is a failure at run time (exit code 1).
Messages are one line and say what to change.
"""

from __future__ import annotations


class DustsimError(Exception):
    """Base class of dustsim's own errors: a failure at run time."""


class ConfigError(DustsimError, ValueError):
    """An invalid parameter, option, configuration file or input file."""


class InputFileError(ConfigError):
    """An input file (points, image, trajectory) that cannot be used."""


class OutputError(DustsimError, OSError):
    """An output that cannot be written."""


class StepSizeError(DustsimError, FloatingPointError):
    """A numerical instability of the integrator: a smaller time step is needed."""

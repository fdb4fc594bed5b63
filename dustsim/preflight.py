"""Pre-flight checks: the size of what a run will allocate and write, before it starts.

A run that cannot fit should say so in one line that names the option to change, before
any file is created or any array allocated, instead of failing deep inside numpy with
"Unable to allocate 7.11 PiB". Memory is compared with the machine's *physical* memory
(not the momentarily available memory, so the verdict does not depend on load) and an
output with the free space of the file system it goes to.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from .errors import ConfigError

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB")


def format_bytes(nbytes: float) -> str:
    """``1536 -> "1.50 KiB"`` (binary prefixes)."""
    value = float(nbytes)
    for unit in _UNITS:
        if abs(value) < 1024 or unit == _UNITS[-1]:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.3g} {unit}"
        value /= 1024
    return f"{value:.3g} {_UNITS[-1]}"  # pragma: no cover


def physical_memory() -> int:
    """Bytes of physical memory of this machine (a very large number where unknown)."""
    try:
        return int(os.sysconf("SC_PHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 1 << 62


def check_memory(nbytes: float, what: str, advice: str) -> None:
    """ConfigError if allocating ``nbytes`` for ``what`` cannot fit in physical memory.

    Parameters
    ----------
    nbytes : float
        Bytes the run will hold in memory at once.
    what : str
        What they are for, naming the option that sets the size (``"steps = 10**15 (its time grid)"``).
    advice : str
        What to change (``"use fewer --steps"``).
    """
    total = physical_memory()
    if nbytes > total:
        raise ConfigError(
            f"{what} needs {format_bytes(nbytes)} of memory, more than this machine's {format_bytes(total)}; {advice}"
        )


def free_space(path: str | Path) -> int:
    """Free bytes on the file system that ``path`` (or its nearest existing parent) is on."""
    here = Path(path).expanduser().absolute()
    while not here.exists() and here != here.parent:
        here = here.parent
    try:
        return int(shutil.disk_usage(here).free)
    except OSError:  # pragma: no cover - unreadable mount: do not block the run
        return 1 << 62


def check_disk(nbytes: float, path: str | Path, what: str, advice: str) -> None:
    """ConfigError if an output of ``nbytes`` (uncompressed) cannot fit where ``path`` goes."""
    free = free_space(path)
    if nbytes > free:
        raise ConfigError(
            f"{what} would write {format_bytes(nbytes)} to {path}, more than the "
            f"{format_bytes(free)} free there; {advice}"
        )

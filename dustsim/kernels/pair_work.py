"""The arrays the pair stepper (:mod:`dustsim.kernels.verlet`) works in, kept by a run from call to call.

A run calls the stepper once per recorded frame. Rather than allocating (and first
touching) some 250 bytes per particle and building the neighbour lists afresh at every
call, the run keeps one :class:`PairWork`: when a call finds the positions the last call
left, the lists, the fast particles, the cell grid and the noise of the current Philox
group carry on (``memo_i`` / ``memo_f`` hold the scalars); otherwise they are built afresh.
Either way the trajectory is the same.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import get_num_threads, njit, types
from numba.extending import overload

from .cells import CHUNK, max_cells_for
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .rng import PER_CALL_F32, PER_CALL_F64

#: fast particles per parallel task of their pair search
FAST_GROUP = 64


def per_call(v):
    """Normals per Philox call (steps per group) for positions of ``v``'s precision."""


@overload(per_call)
def _per_call_overload(v):
    per = PER_CALL_F32 if v == types.float32 else PER_CALL_F64
    return lambda v: per  # noqa: ARG005


class WorkArrays(NamedTuple):
    """The arrays :func:`advance_pairs` works in, in storage order (see :func:`_new_work`).

    Kept from call to call of one run (:class:`PairWork`): the lists, the positions at the
    last build, the fast particles, the cell grid and the noise of the current Philox group
    carry over to the next call when its positions are the ones the last call left (bit for
    bit), and the rest is reused scratch (no allocation and first touch per call).
    """

    p: np.ndarray
    pn: np.ndarray
    pref: np.ndarray
    img: np.ndarray
    ids: np.ndarray
    lab: np.ndarray
    z: np.ndarray
    p2: np.ndarray
    img2: np.ndarray
    ids2: np.ndarray
    lab2: np.ndarray
    cell: np.ndarray
    dest: np.ndarray
    start: np.ndarray
    begin: np.ndarray
    end: np.ndarray
    codes: np.ndarray
    moved: np.ndarray
    bad_chunks: np.ndarray
    acc: np.ndarray
    pair_flag: np.ndarray
    fast: np.ndarray
    fast_ids: np.ndarray
    new_fast: np.ndarray
    new_count: np.ndarray
    bad_fast: np.ndarray
    plast: np.ndarray
    memo_i: np.ndarray
    memo_f: np.ndarray


#: slots of ``WorkArrays.memo_i``: lists valid, fast particles, Philox group of the noise, cells per axis (3)
MEMO_VALID, MEMO_FAST, MEMO_GROUP, MEMO_NC = 0, 1, 2, 3
#: slots of ``WorkArrays.memo_f``: cut-off, squared fast and search thresholds, grid origin (3), inverse cell widths (3)
MEMO_RC, MEMO_FAST2, MEMO_SEARCH2, MEMO_ORIGIN, MEMO_HINV = 0, 1, 2, 3, 6


@njit(**_JIT)
def _new_work(like, n, threads):
    """The arrays of :class:`WorkArrays` for ``n`` particles shaped like ``like`` (``(d, n)``), as a tuple.

    Allocated here rather than by numpy: numpy asks for huge pages, whose first touch
    measured 2.5-4x slower on the development machine (a virtual one) than plain pages.
    """
    d = like.shape[0]
    per = per_call(like[0, 0])
    n_chunks = (n + CHUNK - 1) // CHUNK
    p = np.empty((d, n), dtype=like.dtype)
    img = np.empty((d, n), dtype=np.int32)
    return (
        p,
        np.empty_like(p),
        np.empty_like(p),
        img,
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int32),
        np.empty((per, d, n), dtype=like.dtype),
        np.empty_like(p),
        np.empty_like(img),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int32),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.empty(max_cells_for(n) + 1, dtype=np.int64),  # each sort writes the cells it uses
        np.zeros(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.zeros(n_chunks, dtype=np.int64),
        np.zeros(n_chunks, dtype=np.int64),
        np.zeros(n_chunks, dtype=np.bool_),
        np.zeros((threads, d, n), dtype=np.int64),  # one slice of pair sums per thread, zero between steps
        np.zeros(n, dtype=np.bool_),
        np.zeros(n, dtype=np.bool_),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.int64),
        np.zeros(n_chunks, dtype=np.int64),
        np.zeros(n // FAST_GROUP + 1, dtype=np.bool_),
        np.empty_like(p),
        np.zeros(8, dtype=np.int64),
        np.zeros(9, dtype=np.float64),
    )


class PairWork:
    """The work arrays and list buffer of :func:`advance_pairs`, kept by one run from call to call.

    Parameters
    ----------
    like : ndarray, shape (d, n)
        Positions of the run (their shape and precision).
    threads : int
        Numba threads (one slice of pair sums each).
    """

    def __init__(self, like: np.ndarray, threads: int) -> None:
        self.shape = like.shape
        self.dtype = like.dtype
        self.threads = threads
        self.arrays = WorkArrays(*_new_work(like, like.shape[1], threads))
        self.nbr = np.empty(0, dtype=np.int32)

    def fits(self, x: np.ndarray, threads: int) -> bool:
        """Whether these arrays serve positions ``x`` with ``threads`` threads."""
        return x.shape == self.shape and x.dtype == self.dtype and threads == self.threads


def work_for(work: PairWork | None, x: np.ndarray) -> PairWork:
    """``work`` if it serves positions ``x`` with the current Numba thread count, else new arrays."""
    threads = get_num_threads()  # read here: reading it in the kernel would stop Numba caching it
    if work is None or not work.fits(x, threads):
        return PairWork(x, threads)
    return work


@njit(**_INLINE)
def same_values(a, b):
    """Whether two ``(d, n)`` arrays hold equal values (a NaN equals nothing: the lists are then rebuilt)."""
    for ax in range(a.shape[0]):
        for k in range(a.shape[1]):
            if a[ax, k] != b[ax, k]:
                return False
    return True

"""One registry of random streams and seeds: every random draw of dustsim derives from here.

A run records one seed. Each *use* of randomness draws from its own stream of that seed,
so that two uses never share random numbers and a run repeats exactly (and resumes
exactly) from its recorded seed. There are three families of streams, one per kind of
generator; ids of different families may coincide because the families never meet:

- **Philox streams** (:data:`DYNAMICS_STREAM`): the counter-based generator of the Numba
  kernels (:mod:`dustsim.kernels.rng`) is keyed by the seed and counts
  ``(particle, step group, stream << 8 | axis)``, so results do not depend on the number
  of threads or on how steps are split into kernel calls.
- **numpy streams** (:data:`ARTIFACT_STREAM`, :data:`RESTORE_REFERENCE_STREAM`,
  :data:`EXACT_POSTERIOR_STREAM`): ``numpy.random.SeedSequence(seed, spawn_key=(id,))``
  feeds a :class:`numpy.random.Generator` (:func:`numpy_stream`).
- **model streams** (:data:`MODEL_STREAMS`): the torch generators of the score model
  (``dustsim.model.device.make_generator``) are seeded from
  :func:`stream_seed`, ``SeedSequence(seed, spawn_key=(id,))`` folded into 63 bits.

The values are part of the output: changing one changes every trajectory, model or
generated sample drawn from it. Add new streams with new ids; never renumber.
"""

from __future__ import annotations

import numpy as np

#: largest seed + 1 a config can record (TOML integers are signed 64-bit)
MAX_SEED = 2**63

# ------------------------------------------------------------------ Philox (kernels)
#: Philox stream of the dynamics noise: exact-kernel and Euler-Maruyama steps alike
DYNAMICS_STREAM = 0

# ------------------------------------------------------------------- numpy generators
#: spawn key of the artifact's draws (initial positions) from the run's seed
ARTIFACT_STREAM = 1
#: spawn key of a restoration's reference draws (split halves, energy floor) from its seed
RESTORE_REFERENCE_STREAM = 7
#: spawn key of a restoration's exact posterior draw (Gaussian-mixture artifacts) from its seed
EXACT_POSTERIOR_STREAM = 8

# ------------------------------------------------------------- model (torch generators)
#: stream ids of the score model: one per kind of random draw derived from a training or
#: sampling seed (network initialisation, batches, sampler noise, prior draw, Hutchinson
#: probes, SSM projections, inpainting draws, the validation split and its fixed draws)
MODEL_STREAMS: dict[str, int] = {
    "init": 0,
    "data": 1,
    "sampler": 2,
    "prior": 3,
    "probe": 4,
    "projection": 5,
    "restore": 6,
    "validation": 7,
    "validation-draws": 8,
}


def fresh_seed() -> int:
    """A seed drawn from OS entropy, in the range a config can record (the caller records it)."""
    entropy = np.random.SeedSequence().entropy  # an int when drawn from the OS
    assert isinstance(entropy, int)
    return entropy % MAX_SEED


def numpy_stream(seed: int, stream: int) -> np.random.Generator:
    """The numpy generator of one stream of ``seed`` (``SeedSequence(seed, spawn_key=(stream,))``)."""
    return np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(int(stream),)))


def artifact_rng(seed: int) -> np.random.Generator:
    """The generator of the artifact's draws, derived from the run's seed."""
    return numpy_stream(seed, ARTIFACT_STREAM)


def stream_seed(seed: int, stream: str | int) -> int:
    """A 63-bit seed for one model stream (a name of :data:`MODEL_STREAMS`, or an id) of ``seed``."""
    key = MODEL_STREAMS[stream] if isinstance(stream, str) else int(stream)
    state = np.random.SeedSequence(int(seed), spawn_key=(key,)).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1])) & (MAX_SEED - 1)


def member_seeds(seed: int, count: int) -> list[int]:
    """Seeds of ``count`` independent members (sweep realizations) spawned from one ``seed``."""
    children = np.random.SeedSequence(seed).spawn(count)
    return [int(child.generate_state(1, np.uint64)[0] % MAX_SEED) for child in children]


def stage_seeds(seed: int, names: list[str] | tuple[str, ...]) -> dict[str, int]:
    """32-bit seeds of the stages of a pipeline (the demo), one child of ``seed`` per name in order."""
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: int(child.generate_state(1, np.uint32)[0]) for name, child in zip(names, children, strict=True)}


__all__ = [
    "ARTIFACT_STREAM",
    "DYNAMICS_STREAM",
    "EXACT_POSTERIOR_STREAM",
    "MAX_SEED",
    "MODEL_STREAMS",
    "RESTORE_REFERENCE_STREAM",
    "artifact_rng",
    "fresh_seed",
    "member_seeds",
    "numpy_stream",
    "stage_seeds",
    "stream_seed",
]

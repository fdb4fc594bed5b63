"""Quantum dust: wavefunctions and density matrices on a grid (numpy FFT only).

The third level of dust, below the particles: a state that is pure uncertainty until a
position measurement (:func:`born_sample`) makes particles of it. Reduced units with
``hbar`` and ``mass`` explicit (see :mod:`dustsim.quantum.grid`).

- :mod:`~dustsim.quantum.grid`: the periodic grid and its aliasing checks;
- :mod:`~dustsim.quantum.states`: Gaussian packets, cats, artifact states, density matrices;
- :mod:`~dustsim.quantum.evolution`: split-operator evolution with position dephasing;
- :mod:`~dustsim.quantum.phase_space`: the Wigner function and the Caldeira-Leggett equation;
- :mod:`~dustsim.quantum.measure`: Born-rule sampling into the trajectory schema;
- :mod:`~dustsim.quantum.run`: one call from a spec to the quantum-state Dataset.
"""

from .evolution import evolve_density_matrix, evolve_wavefunction, potential_on_grid, time_grid
from .grid import QuantumGrid, check_resolved
from .states import artifact_state, cat_state, check_density_matrix, gaussian_packet, normalise, pure_density_matrix

__all__ = [
    "QuantumGrid",
    "artifact_state",
    "cat_state",
    "check_density_matrix",
    "check_resolved",
    "evolve_density_matrix",
    "evolve_wavefunction",
    "gaussian_packet",
    "normalise",
    "potential_on_grid",
    "pure_density_matrix",
    "time_grid",
]

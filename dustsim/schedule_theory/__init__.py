"""The theory of noise schedules: thermodynamic cost, speed–accuracy bounds and the
prior gap of a process run to a finite end time."""

"""Physical dust: external potentials, boxes, pair interactions, time dependence,
the assembled system and the Fokker–Planck grid solver."""

"""Networks for low-dimensional particle data: plain ``torch.nn.Module`` s.

Every network maps a batch of positions ``x`` (shape ``(n, d)``) and a scalar
conditioning value per row (``c_noise``: a function of the noise level or of the time,
shape ``(n,)``, or ``(1,)`` when every row shares it — the samplers' case, where the
embedding is then computed once) to an output of shape ``(n, d)``. Any module with that signature can
replace them inside :class:`dustsim.model.preconditioning.Denoiser` or
:class:`dustsim.model.preconditioning.ScoreNet`.

- :class:`FourierEmbedding`: sines and cosines of ``c_noise`` at fixed geometric
  frequencies (deterministic: no random projection to seed).
- :class:`PositionFeatures`: ``x`` and, optionally, sines and cosines of every coordinate at
  fixed geometric frequencies (Fourier features, Tancik et al. 2020): they let a small MLP
  draw sharp edges (thin glyph strokes, rings, image contours) that it would otherwise
  smooth over (its spectral bias). With damping, each feature is scaled by the factor by
  which Gaussian noise of the current level damps its frequency in the noisy density, so
  fine frequencies are open only at the low noise levels where the data has them.
- :class:`MLP`: ``[x, embedding] -> width -> ... -> d``.
- :class:`ResidualMLP`: pre-activation residual blocks; the embedding is added in every
  block; the last layer starts at zero, so an untrained network outputs 0.

:func:`init_parameters` re-draws every weight from a seeded generator (PyTorch's default
initialisation otherwise uses the global random state).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..errors import ConfigError

ACTIVATIONS = {"silu": nn.SiLU, "gelu": nn.GELU, "relu": nn.ReLU, "tanh": nn.Tanh}


class FourierEmbedding(nn.Module):
    """Sinusoidal embedding of a scalar: ``[sin(w_k c), cos(w_k c)]``, ``w_k`` geometric.

    Parameters
    ----------
    dim : int
        Output size (even).
    min_frequency, max_frequency : float
        Range of the angular frequencies ``w_k`` (1 / units of ``c``).
    """

    frequencies: torch.Tensor  # a buffer (registered in __init__), declared for type checkers

    def __init__(self, dim: int = 64, min_frequency: float = 1.0, max_frequency: float = 200.0) -> None:
        super().__init__()
        if dim < 2 or dim % 2:
            raise ConfigError(f"the embedding size must be an even number >= 2, got {dim}")
        freqs = torch.logspace(math.log10(min_frequency), math.log10(max_frequency), dim // 2, dtype=torch.float64)
        self.register_buffer("frequencies", freqs.to(torch.float32))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        """The embedding of ``c`` (any shape, flattened to ``(n,)``), shape ``(n, dim)``."""
        arg = c.reshape(-1, 1).to(self.frequencies.dtype) * self.frequencies
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class PositionFeatures(nn.Module):
    """``[x, a_k sin(w_k x_j), a_k cos(w_k x_j)]`` for ``k < frequencies``, ``w_k`` geometric in ``[1, max_frequency]``.

    Without damping ``a_k = 1``. With damping, given the standard deviation ``s`` of the noise in
    the input (in input units), ``a_k = exp(-(w_k s)^2 / 2)``: the factor by which convolving a
    density with ``N(0, s^2)`` multiplies its Fourier component at angular frequency ``w_k``.
    The noisy density has no structure at frequencies the noise has damped away, so such a
    feature could only carry fitting noise into the score; at high noise levels the features
    close, from the finest frequency down, and the network is the plain smooth MLP there.

    Parameters
    ----------
    dim : int
        Number of coordinates.
    frequencies : int
        Frequencies per coordinate (0: the identity).
    max_frequency : float
        Largest angular frequency (1 / units of the network input, which the
        preconditioning scales to about unit variance).
    damping : bool
        Scale the features by the noise's damping factor (``forward`` needs the noise level).
    """

    frequencies: torch.Tensor  # a buffer (registered in __init__), declared for type checkers

    def __init__(self, dim: int, frequencies: int = 0, max_frequency: float = 64.0, damping: bool = False) -> None:
        super().__init__()
        self.damping = damping
        if frequencies < 0 or max_frequency <= 0:
            raise ConfigError(f"need frequencies >= 0 and max_frequency > 0, got {frequencies}, {max_frequency}")
        freqs = (
            torch.logspace(0.0, math.log10(max_frequency), frequencies, dtype=torch.float64)
            if frequencies
            else torch.zeros(0, dtype=torch.float64)
        )
        # not in the state dict: fixed by the config, and checkpoints from before this layer load unchanged
        self.register_buffer("frequencies", freqs.to(torch.float32), persistent=False)
        self.size = dim * (1 + 2 * frequencies)

    def forward(self, x: torch.Tensor, noise_std: torch.Tensor | None = None) -> torch.Tensor:
        """The features of positions ``x`` of shape ``(n, dim)``: shape ``(n, size)``.

        ``noise_std`` (shape ``(n,)`` or ``(1,)``, input units) is the noise level the damping
        uses. With damping but no noise level (a score model of a process without a closed-form
        kernel, :class:`~dustsim.model.preconditioning.ScoreNet`), the sines and cosines are 0:
        nothing says which frequencies the data still has, and undamped features carry fitting
        noise into the score, so the network is the plain MLP."""
        if not len(self.frequencies):
            return x
        if self.damping and noise_std is None:
            return torch.cat([x, x.new_zeros((*x.shape[:-1], self.size - x.shape[-1]))], dim=-1)
        freqs = self.frequencies.to(x.dtype)
        arg = x[..., :, None] * freqs  # (n, dim, frequencies)
        sin, cos = torch.sin(arg), torch.cos(arg)
        if self.damping and noise_std is not None:
            damp = torch.exp(-0.5 * (noise_std.to(x.dtype).reshape(-1, 1, 1) * freqs) ** 2)
            sin, cos = sin * damp, cos * damp
        return torch.cat([x, sin.flatten(-2), cos.flatten(-2)], dim=-1)


def _activation(name: str) -> nn.Module:
    try:
        return ACTIVATIONS[name]()
    except KeyError:
        raise ConfigError(f"unknown activation {name!r}; choose one of: {', '.join(ACTIVATIONS)}") from None


class MLP(nn.Module):
    """A multilayer perceptron on ``[x, embedding(c_noise)]``.

    Parameters
    ----------
    dim : int
        Spatial dimension ``d`` (input and output size).
    width, depth : int
        Hidden units per layer and number of hidden layers.
    embedding_dim : int
        Size of the Fourier embedding of ``c_noise``.
    activation : str
        ``silu``, ``gelu``, ``relu`` or ``tanh``.
    fourier_features, fourier_max_frequency, fourier_damping : int, float, bool
        Fourier features of the input positions (:class:`~dustsim.model.networks.PositionFeatures`; 0: none).
    """

    #: ``forward`` takes the noise level in input units (``noise_std``) for the features' damping
    takes_noise_std = True

    def __init__(
        self,
        dim: int,
        width: int = 128,
        depth: int = 3,
        embedding_dim: int = 64,
        activation: str = "silu",
        fourier_features: int = 0,
        fourier_max_frequency: float = 64.0,
        fourier_damping: bool = True,
    ) -> None:
        super().__init__()
        self.embedding = FourierEmbedding(embedding_dim)
        self.features = PositionFeatures(dim, fourier_features, fourier_max_frequency, fourier_damping)
        layers: list[nn.Module] = []
        size = self.features.size + embedding_dim
        for _ in range(depth):
            layers += [nn.Linear(size, width), _activation(activation)]
            size = width
        layers.append(nn.Linear(size, dim))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, noise_std: torch.Tensor | None = None) -> torch.Tensor:
        """The output for inputs ``x`` of shape ``(n, dim)`` at conditioning ``c_noise`` (``(n,)`` or ``(1,)``)
        and, optionally, the noise level in input units ``noise_std`` (same shape as ``c_noise``)."""
        emb = self.embedding(c_noise).to(x.dtype)
        return self.net(torch.cat([self.features(x, noise_std), emb.expand(x.shape[0], -1)], dim=-1))


class ResidualBlock(nn.Module):
    """``h + W2 act(W1 act(h) + E emb)`` (pre-activation residual block)."""

    def __init__(self, width: int, embedding_width: int, activation: str) -> None:
        super().__init__()
        self.act = _activation(activation)
        self.fc1 = nn.Linear(width, width)
        self.emb = nn.Linear(embedding_width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, h: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(self.act(self.fc1(self.act(h)) + self.emb(emb)))


class ResidualMLP(nn.Module):
    """A residual MLP: input layer, ``depth`` residual blocks, output layer (zero-initialised).

    Parameters
    ----------
    dim : int
        Spatial dimension ``d``.
    width : int
        Hidden width.
    depth : int
        Number of residual blocks (two linear layers each).
    embedding_dim : int
        Size of the Fourier embedding of ``c_noise``.
    activation : str
        ``silu``, ``gelu``, ``relu`` or ``tanh``.
    fourier_features, fourier_max_frequency, fourier_damping : int, float, bool
        Fourier features of the input positions (:class:`~dustsim.model.networks.PositionFeatures`; 0: none).
    """

    #: ``forward`` takes the noise level in input units (``noise_std``) for the features' damping
    takes_noise_std = True

    def __init__(
        self,
        dim: int,
        width: int = 128,
        depth: int = 3,
        embedding_dim: int = 64,
        activation: str = "silu",
        fourier_features: int = 0,
        fourier_max_frequency: float = 64.0,
        fourier_damping: bool = True,
    ) -> None:
        super().__init__()
        self.embedding = FourierEmbedding(embedding_dim)
        self.embed = nn.Sequential(nn.Linear(embedding_dim, width), _activation(activation), nn.Linear(width, width))
        self.features = PositionFeatures(dim, fourier_features, fourier_max_frequency, fourier_damping)
        self.inp = nn.Linear(self.features.size, width)
        self.blocks = nn.ModuleList(ResidualBlock(width, width, activation) for _ in range(depth))
        self.act = _activation(activation)
        self.out = nn.Linear(width, dim)

    def forward(self, x: torch.Tensor, c_noise: torch.Tensor, noise_std: torch.Tensor | None = None) -> torch.Tensor:
        """The output for inputs ``x`` of shape ``(n, dim)`` at conditioning ``c_noise`` (``(n,)`` or ``(1,)``)
        and, optionally, the noise level in input units ``noise_std`` (same shape as ``c_noise``)."""
        emb = self.embed(self.embedding(c_noise).to(x.dtype))  # (n, width) or (1, width): broadcasts
        h = self.inp(self.features(x, noise_std)) + emb
        for block in self.blocks:
            h = block(h, emb)
        return self.out(self.act(h))


NETWORKS: dict[str, type[nn.Module]] = {"mlp": MLP, "resmlp": ResidualMLP}


def make_network(kind: str, dim: int, generator: torch.Generator | None = None, **options: Any) -> nn.Module:
    """Build a network by name and (optionally) initialise it from a seeded generator.

    Parameters
    ----------
    kind : {"mlp", "resmlp"}
    dim : int
        Spatial dimension.
    generator : torch.Generator, optional
        Source of the initial weights (see :func:`init_parameters`).
    **options
        ``width``, ``depth``, ``embedding_dim``, ``activation``.
    """
    try:
        cls = NETWORKS[kind]
    except KeyError:
        raise ConfigError(f"unknown network {kind!r}; choose one of: {', '.join(NETWORKS)}") from None
    for key in ("width", "depth", "embedding_dim", "fourier_features"):
        value = options.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value < (0 if key == "fourier_features" else 1)
        ):
            raise ConfigError(f"network {key} must be a positive integer, got {value!r}")
    net = cls(dim, **options)
    if generator is not None:
        init_parameters(net, generator)
    return net


@torch.no_grad()
def init_parameters(module: nn.Module, generator: torch.Generator) -> None:
    """Re-draw the weights of every ``nn.Linear`` from ``generator``.

    Same law as PyTorch's default (uniform on ``±1/sqrt(fan_in)`` for weights and
    biases); the output layer of a :class:`ResidualMLP` is set to zero.
    """
    for m in module.modules():
        if isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.in_features)
            m.weight.copy_(
                torch.rand(m.weight.shape, generator=generator, device=generator.device).mul_(2 * bound).sub_(bound)
            )
            if m.bias is not None:
                m.bias.copy_(
                    torch.rand(m.bias.shape, generator=generator, device=generator.device).mul_(2 * bound).sub_(bound)
                )
    if isinstance(module, ResidualMLP):
        module.out.weight.zero_()
        module.out.bias.zero_()

"""Peer league: dustsim's score models against flow matching, DDPM and a spline flow, same CPU budget.

    /work/venvs/league/bin/python scripts/bench/league.py --quick          # smoke run (minutes)
    /work/venvs/league/bin/python scripts/bench/league.py --budgets 60 180 # the full league (hours)

Run it with an interpreter that has the peers (``pip install torchcfm flow_matching diffusers
zuko torchdiffeq``, in a venv of its own) and dustsim on ``PYTHONPATH``.

Every method trains on the same 2-D training set for the same **wall-clock budget** (same
thread count), then is scored on the same held-out points of a law with a known density:

- ``NLL gap`` (nats): mean of ``-log q(x) + log p(x)`` over held-out points — the NLL minus
  the exact entropy, estimated paired (same expectation as ``NLL - H``, far less noise),
  with its standard error. Likelihoods: dustsim's PF-ODE (exact divergence); torchcfm and
  diffusers through the PF-ODE of their velocity / epsilon model integrated by torchdiffeq
  (dopri5, exact divergence); Meta's ``flow_matching`` through its own
  ``ODESolver.compute_likelihood``; zuko's NSF exactly;
- energy distance of 2000 samples to fresh exact samples over its two-sample noise floor;
- support precision: the fraction of samples farther from the training cloud than the 99th
  percentile of a fresh sample's nearest-neighbour distances (1 % for a perfect model).

Data sets (exact log-density each): ``gmm`` (asymmetric 3-component mixture), ``8gauss``
(8 Gaussians on a circle), ``rings`` (3 concentric rings, Gaussian radial profile),
``checkerboard`` (uniform on 8 of 16 cells: H = log 8 exactly), ``corr-gauss``
(N(0, [[1, .8], [.8, 1]])).

Methods: dustsim VP / VE / FM (DSM, EDM preconditioning, ``max_time`` = budget and no step cap;
training and network defaults, the same on every data set: the ResidualMLP with noise-damped
Fourier position features, docs/model.md; ``--dustsim-network`` picks the variants of
``DUSTSIM_NETWORKS``), torchcfm OT-CFM, Meta's ``flow_matching`` (CondOT path), diffusers'
``DDPMScheduler`` (epsilon prediction) — all three with dustsim's ResidualMLP (width 128, depth 3)
as the network, on their documented inputs ``(x, t)``: without position features, whose damping
needs the noise level in the network's input units that only dustsim's preconditioning supplies —
and zuko's NSF (its own MLPs, 128 x 3). Peers use Adam at lr 1e-3, batch 2048.

Prints one table and writes ``bench-results/league.nc``. Fails (exit 1) when a method's
numbers are not finite, and on a disagreement with the exact answers (``--self-check`` shifts
the exact side by 10 SE to show it):

- before training, each law's exact log-density is checked against its sampler: the density
  integrates to 1 on a fine grid (to 1e-3), and the grid's E[x], E[y], E[x^2 + y^2] equal the
  means of 200 000 samples within 4.5 SE (``--check-laws`` runs only this, no peers needed);
- every method's NLL gap is a KL divergence, so it cannot be below 0 by more than 4.5 SE: a
  more negative gap means its likelihood is computed wrongly.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from common import add_self_check_argument, check_at_most, enable_self_check, print_table, save_results, set_threads

BATCH = 2048
#: the choices of ``--dustsim-network`` (overrides of dustsim's network defaults, docs/model.md): the
#: defaults (noise-damped Fourier position features, K = 16 up to 64 / unit of the preconditioned input),
#: the same features undamped at max 32 (the earlier configuration for sharp structure), or no features
DUSTSIM_NETWORKS: dict[str, dict] = {
    "defaults": {},
    "undamped": {"fourier_damping": False, "fourier_max_frequency": 32.0},
    "no-features": {"fourier_features": 0},
}
OT_BATCH = 256
WIDTH, DEPTH = 128, 3


# ----------------------------------------------------------------------------- data sets
class Law:
    """A 2-D law with exact sampling and log-density."""

    def __init__(
        self,
        name: str,
        sample: Callable[[int, np.random.Generator], np.ndarray],
        logpdf: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        self.name, self.sample, self.logpdf = name, sample, logpdf


def _mixture_law(name: str, means, stds, weights) -> Law:
    from dustsim.mixture import GaussianMixture

    mix = GaussianMixture(np.asarray(means, float), np.asarray(stds, float), np.asarray(weights, float))
    return Law(name, lambda n, rng: mix.sample(n, rng), mix.logpdf)


def laws() -> dict[str, Law]:
    angles = np.arange(8) * 2 * np.pi / 8
    out = {
        "gmm": _mixture_law("gmm", [[0.8, 0.0], [-0.5, 0.5], [0.0, -0.7]], [0.1, 0.2, 0.05], [0.5, 0.3, 0.2]),
        "8gauss": _mixture_law(
            "8gauss", np.stack([2 * np.cos(angles), 2 * np.sin(angles)], 1), [0.15] * 8, [1 / 8] * 8
        ),
    }
    radii, width = np.array([0.5, 1.0, 1.5]), 0.06
    w = radii / radii.sum()

    def rings_sample(n, rng):
        k = rng.choice(3, size=n, p=w)
        r = np.abs(radii[k] + width * rng.standard_normal(n))
        phi = rng.uniform(0, 2 * np.pi, n)
        return np.stack([r * np.cos(phi), r * np.sin(phi)], 1)

    def rings_logpdf(x):
        from scipy.special import logsumexp
        from scipy.stats import norm

        r = np.linalg.norm(x, axis=1)
        # density of |radius + noise| (the reflection at 0 is negligible for these radii, kept exact)
        comp = np.log(w) + np.logaddexp(norm.logpdf(r[:, None], radii, width), norm.logpdf(-r[:, None], radii, width))
        return logsumexp(comp, axis=1) - np.log(2 * np.pi * np.maximum(r, 1e-300))

    out["rings"] = Law("rings", rings_sample, rings_logpdf)

    def board_sample(n, rng):
        cells = np.array([(i, j) for i in range(4) for j in range(4) if (i + j) % 2 == 0])
        c = cells[rng.integers(len(cells), size=n)]
        return -2 + c + rng.random((n, 2))

    def board_logpdf(x):
        i, j = np.floor(x[:, 0] + 2), np.floor(x[:, 1] + 2)
        inside = (i >= 0) & (i < 4) & (j >= 0) & (j < 4) & ((i + j) % 2 == 0)
        return np.where(inside, -np.log(8.0), -np.inf)

    out["checkerboard"] = Law("checkerboard", board_sample, board_logpdf)
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    chol, inv, logdet = np.linalg.cholesky(cov), np.linalg.inv(cov), np.linalg.slogdet(cov)[1]
    out["corr-gauss"] = Law(
        "corr-gauss",
        lambda n, rng: rng.standard_normal((n, 2)) @ chol.T,
        lambda x: -0.5 * np.einsum("ni,ij,nj->n", x, inv, x) - 0.5 * logdet - np.log(2 * np.pi),
    )
    return out


def check_law(law: Law, rng: np.random.Generator, n: int = 200_000, half_width: float = 4.0, cells: int = 1600) -> None:
    """The exact density against the sampler: normalisation on a grid, and three moments within SE."""
    from common import check_equal, check_within_se

    edges = np.linspace(-half_width, half_width, cells + 1)
    mid = 0.5 * (edges[1:] + edges[:-1])
    gx, gy = np.meshgrid(mid, mid, indexing="ij")
    grid = np.stack([gx.ravel(), gy.ravel()], 1)
    weight = np.exp(law.logpdf(grid)) * (edges[1] - edges[0]) ** 2
    check_equal(
        f"law {law.name}: integral of the exact density over [-{half_width}, {half_width}]^2",
        weight.sum(),
        1.0,
        atol=1e-3,
    )
    x = law.sample(n, rng)
    for label, f in (
        ("E[x]", lambda p: p[:, 0]),
        ("E[y]", lambda p: p[:, 1]),
        ("E[x^2 + y^2]", lambda p: (p**2).sum(1)),
    ):
        values = f(x)
        check_within_se(
            f"law {law.name}: {label} of samples vs the exact density",
            float(values.mean()),
            float(values.std(ddof=1) / math.sqrt(n)),
            float((f(grid) * weight).sum() / weight.sum()),
        )


# ----------------------------------------------------------------------------- helpers
def network():
    from dustsim.model import make_network

    return make_network("resmlp", 2, width=WIDTH, depth=DEPTH, fourier_features=0)


def train_for(budget: float, step: Callable[[], float]) -> int:
    """Call ``step`` until ``budget`` seconds have passed; return the number of steps."""
    began, n = time.perf_counter(), 0
    while time.perf_counter() - began < budget:
        loss = step()
        if not math.isfinite(loss):
            raise FloatingPointError(f"loss {loss} at step {n}")
        n += 1
    return n


def ode_log_likelihood(velocity: Callable, x, t_data: float, t_noise: float, prior_logp: Callable):
    """``log p(x)`` along ``dx/dt = velocity(t, x)`` from ``t_data`` to ``t_noise`` (torchdiffeq, exact divergence).

    ``log p_data(x) = log p_prior(x(t_noise)) + int_{t_data}^{t_noise} div v dt``.
    """
    import torch
    from torchdiffeq import odeint

    def rhs(t, state):
        y = state[0].detach().requires_grad_(True)
        with torch.enable_grad():
            v = velocity(t, y)
            div = sum(
                torch.autograd.grad(v[:, i].sum(), y, create_graph=False, retain_graph=True)[0][:, i]
                for i in range(y.shape[1])
            )
        return v.detach(), div.detach()

    x = torch.as_tensor(x, dtype=torch.float32)
    ts = torch.tensor([t_data, t_noise], dtype=torch.float32)
    xs, ls = odeint(rhs, (x, torch.zeros(len(x))), ts, method="dopri5", rtol=1e-5, atol=1e-5)
    return (prior_logp(xs[-1]) + ls[-1]).double().numpy()


def std_normal_logp(z):

    return -0.5 * (z.double() ** 2).sum(1) - z.shape[1] * 0.5 * math.log(2 * math.pi)


# ----------------------------------------------------------------------------- methods
def run_dustsim(
    process: str,
    train_x: np.ndarray,
    test_x: np.ndarray,
    budget: float,
    threads: int,
    seed: int,
    workdir: Path,
    n_gen: int,
    network: dict,
):
    import dustsim
    from dustsim.model import model_log_likelihood, sample, train

    path = workdir / "train.npy"
    np.save(path, train_x)
    traj = dustsim.simulate(init=f"points:{path}", process=process, steps=10, record_every=10, seed=seed)
    set_threads(threads)
    res = train(
        traj,
        network=network,
        training={"max_time": budget, "seed": seed, "device": "cpu", "threads": threads, "checkpoint_every": 0},
    )
    ll = model_log_likelihood(res.model, test_x, seed=0).log_likelihood.values
    gen = sample(res.model, n_gen, {"name": "heun", "steps": 100, "record_every": 0}, seed=seed + 1)
    return ll, gen.position.isel(time=-1).values.astype(np.float64), res.model.step


def run_torchcfm(train_x, test_x, budget, seed, n_gen):
    import torch
    from torchcfm.conditional_flow_matching import ExactOptimalTransportConditionalFlowMatcher

    torch.manual_seed(seed)
    net = network()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    fm = ExactOptimalTransportConditionalFlowMatcher(sigma=0.0)
    data = torch.as_tensor(train_x, dtype=torch.float32)

    def step():
        # batch 256 as in torchcfm's 2-D examples: the exact OT plan per batch costs O(B^3)
        x1 = data[torch.randint(len(data), (OT_BATCH,))]
        x0 = torch.randn_like(x1)
        t, xt, ut = fm.sample_location_and_conditional_flow(x0, x1)
        loss = (net(xt, t) - ut).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    n = train_for(budget, step)
    net.eval()

    def v(t, x):
        return net(x, t.reshape(1).expand(1))

    ll = ode_log_likelihood(v, test_x, 1.0, 0.0, std_normal_logp)
    from torchdiffeq import odeint

    with torch.no_grad():
        gen = odeint(
            lambda t, x: v(t, x), torch.randn(n_gen, 2), torch.tensor([0.0, 1.0]), method="dopri5", rtol=1e-5, atol=1e-5
        )[-1]
    return ll, gen.double().numpy(), n


def run_meta_fm(train_x, test_x, budget, seed, n_gen):
    import torch
    from flow_matching.path import AffineProbPath
    from flow_matching.path.scheduler import CondOTScheduler
    from flow_matching.solver import ODESolver
    from flow_matching.utils import ModelWrapper

    torch.manual_seed(seed)
    net = network()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    path = AffineProbPath(scheduler=CondOTScheduler())
    data = torch.as_tensor(train_x, dtype=torch.float32)

    def step():
        x1 = data[torch.randint(len(data), (BATCH,))]
        x0 = torch.randn_like(x1)
        t = torch.rand(BATCH)
        ps = path.sample(x_0=x0, x_1=x1, t=t)
        loss = (net(ps.x_t, t) - ps.dx_t).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    n = train_for(budget, step)
    net.eval()

    class Wrapped(ModelWrapper):
        def forward(self, x, t, **extras):  # noqa: ARG002 - the wrapper's signature
            return self.model(x, t.reshape(-1)[:1].expand(1))

    solver = ODESolver(velocity_model=Wrapped(net))
    x = torch.as_tensor(test_x, dtype=torch.float32)
    _, ll = solver.compute_likelihood(
        x_1=x, log_p0=lambda z: std_normal_logp(z).float(), step_size=None, method="dopri5", exact_divergence=True
    )
    with torch.no_grad():
        gen = solver.sample(x_init=torch.randn(n_gen, 2), step_size=None, method="dopri5")
    return ll.double().numpy(), gen.double().numpy(), n


def run_diffusers(train_x, test_x, budget, seed, n_gen):
    import torch
    from diffusers import DDPMScheduler

    torch.manual_seed(seed)
    net = network()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = DDPMScheduler(num_train_timesteps=1000)
    data = torch.as_tensor(train_x, dtype=torch.float32)
    big_t = sched.config.num_train_timesteps

    def step():
        x0 = data[torch.randint(len(data), (BATCH,))]
        noise = torch.randn_like(x0)
        k = torch.randint(big_t, (BATCH,))
        loss = (net(sched.add_noise(x0, noise, k), k.float() / big_t) - noise).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    n = train_for(budget, step)
    net.eval()
    # The discrete chain as a continuous VP process: t = k / T, log abar interpolated linearly,
    # beta(t) = -d log abar / dt; PF-ODE dx/dt = -beta/2 (x - eps / sqrt(1 - abar)).
    log_abar = torch.log(sched.alphas_cumprod.double())
    grid = torch.arange(big_t, dtype=torch.float64) / big_t

    def coeffs(t):
        t = float(t)
        pos = min(max(t * big_t, 0.0), big_t - 1.0)
        i = min(int(pos), big_t - 2)
        frac = pos - i
        la = float(log_abar[i] * (1 - frac) + log_abar[i + 1] * frac)
        beta = -float(log_abar[i + 1] - log_abar[i]) * big_t
        return la, beta

    def v(t, x):
        la, beta = coeffs(t)
        eps = net(x, torch.full((1,), float(t)))
        return -0.5 * beta * (x - eps / math.sqrt(1 - math.exp(la)))

    t_end = float(grid[-1])
    ll = ode_log_likelihood(v, test_x, 0.0, t_end, std_normal_logp)
    # samples: the scheduler's own ancestral DDPM loop
    sched.set_timesteps(big_t)
    x = torch.randn(n_gen, 2)
    with torch.no_grad():
        for k in sched.timesteps:
            eps = net(x, torch.full((1,), float(k) / big_t))
            x = sched.step(eps, k, x).prev_sample
    return ll, x.double().numpy(), n


def run_zuko(train_x, test_x, budget, seed, n_gen):
    import torch
    import zuko

    torch.manual_seed(seed)
    flow = zuko.flows.NSF(features=2, transforms=3, hidden_features=(WIDTH,) * DEPTH)
    opt = torch.optim.Adam(flow.parameters(), lr=1e-3)
    data = torch.as_tensor(train_x, dtype=torch.float32)

    def step():
        x = data[torch.randint(len(data), (BATCH,))]
        loss = -flow().log_prob(x).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.detach())

    n = train_for(budget, step)
    with torch.no_grad():
        ll = flow().log_prob(torch.as_tensor(test_x, dtype=torch.float32)).double().numpy()
        gen = flow().sample((n_gen,)).double().numpy()
    return ll, gen, n


# ----------------------------------------------------------------------------- league
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny budgets and sizes (checks that it runs)")
    parser.add_argument("--budgets", type=float, nargs="+", help="seconds per method (default 60 180; quick 5)")
    parser.add_argument("--datasets", nargs="+", help="subset of: gmm 8gauss rings checkerboard corr-gauss")
    parser.add_argument("--methods", nargs="+", help="subset of the method names")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--dustsim-network",
        choices=sorted(DUSTSIM_NETWORKS),
        default="defaults",
        help="dustsim's network: its defaults, the undamped Fourier features, or no features",
    )
    parser.add_argument("--check-laws", action="store_true", help="only check the exact laws (no peers needed)")
    add_self_check_argument(parser)
    args = parser.parse_args()
    network = DUSTSIM_NETWORKS[args.dustsim_network]
    enable_self_check(args.self_check)
    all_laws = laws()
    names = args.datasets or list(all_laws)
    for name in names:
        check_law(all_laws[name], np.random.default_rng(args.seed + 11))
    if args.check_laws:
        return 0

    import torch

    from dustsim.model import energy_distance, energy_noise_floor, support_precision

    budgets = args.budgets or ([5.0] if args.quick else [60.0, 180.0])
    n_train, n_test, n_gen = (4000, 300, 1000) if args.quick else (20000, 2000, 2000)
    methods: dict[str, Callable] = {
        "dustsim-vp": lambda *a: run_dustsim("vp", *a[:3], args.threads, a[3], workdir, a[4], network),
        "dustsim-ve": lambda *a: run_dustsim("ve", *a[:3], args.threads, a[3], workdir, a[4], network),
        "dustsim-fm": lambda *a: run_dustsim("fm", *a[:3], args.threads, a[3], workdir, a[4], network),
        "torchcfm-otcfm": run_torchcfm,
        "meta-flow_matching": run_meta_fm,
        "diffusers-ddpm": run_diffusers,
        "zuko-nsf": run_zuko,
    }
    chosen = args.methods or list(methods)
    rows, failures = [], []
    print(
        f"# league: budgets {budgets} s, {args.threads} thread(s), torch {torch.__version__}, "
        f"{n_train} training / {n_test} test points{' (quick)' if args.quick else ''}",
        flush=True,
    )
    print(
        f"# dustsim rows: training defaults under max_time = budget (no step cap), network defaults + {network}"
        " (docs/model.md; the same on every data set)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in names:
            law = all_laws[name]
            rng = np.random.default_rng(args.seed)
            train_x, test_x = law.sample(n_train, rng), law.sample(n_test, rng)
            fresh = law.sample(n_train, rng)
            exact = law.logpdf(test_x)
            floor, _ = energy_noise_floor(law.sample, n_gen, n_gen, rng, repeats=5)
            for budget in budgets:
                for method in chosen:
                    set_threads(args.threads)
                    began = time.perf_counter()
                    ll, gen, steps = methods[method](train_x, test_x, budget, args.seed, n_gen)
                    elapsed = time.perf_counter() - began
                    gap = -(np.asarray(ll) - exact)
                    finite = np.isfinite(gap)
                    ed = energy_distance(gen, law.sample(n_gen, rng)) if np.all(np.isfinite(gen)) else math.nan
                    sp = support_precision(gen, train_x, fresh) if np.all(np.isfinite(gen)) else None
                    row = {
                        "dataset": name,
                        "budget_s": budget,
                        "method": method,
                        "steps": steps,
                        "NLL_gap": float(gap[finite].mean()) if finite.any() else math.nan,
                        "NLL_gap_se": float(gap[finite].std(ddof=1) / math.sqrt(finite.sum()))
                        if finite.sum() > 1
                        else math.nan,
                        "ED_over_floor": ed / floor,
                        "outside": sp.outside if sp else math.nan,
                        "wall_s": elapsed,
                    }
                    rows.append(row)
                    if not (finite.all() and math.isfinite(row["ED_over_floor"])):
                        failures.append(f"{name}/{budget:g}s/{method}")
                    print(
                        f"  {name:12s} {budget:5.0f} s {method:20s} steps {steps:6d}  NLL gap "
                        f"{row['NLL_gap']:+.4f} ± {row['NLL_gap_se']:.4f}  ED/floor {row['ED_over_floor']:.2f}  "
                        f"outside {row['outside']:.3f}",
                        flush=True,
                    )
    print_table(
        "league: NLL gap (nats, NLL - exact entropy, paired), energy distance / noise floor, "
        "support precision (fraction outside; perfect 0.01); dustsim rows: training defaults, "
        f"max_time = budget, network defaults + {network} (docs/model.md)",
        rows,
        ["dataset", "budget_s", "method", "steps", "NLL_gap", "NLL_gap_se", "ED_over_floor", "outside", "wall_s"],
    )
    for budget in budgets:
        for name in names:
            sub = [r for r in rows if r["dataset"] == name and r["budget_s"] == budget and math.isfinite(r["NLL_gap"])]
            if sub:
                best = min(sub, key=lambda r: r["NLL_gap"])
                print(f"best NLL gap {name} @ {budget:g} s: {best['method']} ({best['NLL_gap']:+.4f})")
    path = save_results("league", rows, budgets=budgets, threads=args.threads, quick=args.quick)
    print(f"\nwrote {path}")
    for r in rows:  # the NLL gap is KL(p || q) >= 0: a gap below -4.5 SE is a wrong likelihood
        if math.isfinite(r["NLL_gap"]):
            check_at_most(
                f"{r['dataset']}/{r['budget_s']:g}s/{r['method']}: -NLL gap (a KL, so <= 0)",
                -r["NLL_gap"],
                0.0,
                r["NLL_gap_se"],
            )
    if failures:
        print("FAILED (non-finite numbers): " + ", ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    from common import run_benchmark

    run_benchmark(main)

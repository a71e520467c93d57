"""A small explicit finite-difference solver for the 2-D heat equation.

The kernels are decorated with @intercept, so running this program records
every call (arrays included) into ./call-monitor; `step` also records the
calls it makes (inner=True: `callmonitor profile call-monitor step`). Run it through
`bash tools/run-example.sh`, or directly:

    .venv/bin/python examples/heat_diffusion.py --steps 20
"""
import argparse

import numpy as np

from callmonitor import intercept


@intercept
def initial_condition(n, hot_spot=0.25, temperature=100.0):
    """A cold plate with a hot square in the middle."""
    u = np.zeros((n, n))
    lo, hi = int(n * (0.5 - hot_spot / 2)), int(n * (0.5 + hot_spot / 2))
    u[lo:hi, lo:hi] = temperature
    return u


@intercept
def laplacian(u, dx):
    """Five-point Laplacian of the interior points."""
    return (u[:-2, 1:-1] + u[2:, 1:-1] + u[1:-1, :-2] + u[1:-1, 2:] - 4 * u[1:-1, 1:-1]) / dx**2


@intercept(inner=True)
def step(u, alpha, dt, dx, *, boundary=0.0):
    """One explicit Euler step; returns the new field."""
    new = u.copy()
    new[1:-1, 1:-1] += alpha * dt * laplacian(u, dx)
    new[0, :] = new[-1, :] = new[:, 0] = new[:, -1] = boundary
    return new


@intercept
def total_heat(u, dx):
    return float(u.sum() * dx * dx)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=50)
    args = parser.parse_args()

    dx, alpha = 1.0 / args.size, 1.0
    dt = 0.2 * dx * dx / alpha  # stable for the explicit scheme
    u = initial_condition(args.size)
    for i in range(args.steps):
        u = step(u, alpha, dt, dx)
        if i % 10 == 0:
            print(f"step {i:4d}  total heat {total_heat(u, dx):.6f}")
    print(f"final peak temperature {u.max():.3f}")


if __name__ == "__main__":
    main()

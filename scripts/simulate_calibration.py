"""Regression calibration by simulation: the mean naive, calibrated and true-exposure slopes
over 12 simulated samples of 4,000 (the simulation of tests/test_usual_intake_calibrate.py),
and the attenuation factor λ, for a linear and a logistic outcome.

    .venv/bin/python scripts/simulate_calibration.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from test_usual_intake_calibrate import _attenuation, _simulate, _slopes


def main() -> None:
    for family, slope, kind in (("gaussian", 2.0, "linear"), ("quasibinomial", -0.6, "logistic")):
        rng = np.random.default_rng(20261207)
        rows = []
        for _ in range(12):
            frame = _simulate(rng, 4000, kind, slope)
            rows.append((*_slopes(frame, family), _attenuation(frame)))
        naive, calibrated, true, lam = np.array(rows).mean(axis=0)
        print(
            f"{kind:8s} true slope {slope:+.3f}: naive {naive:+.3f} ({naive / slope:.3f} of it), "
            f"calibrated {calibrated:+.3f} ({calibrated / slope:.3f}), true exposure "
            f"{true:+.3f}; λ = {lam:.3f}"
        )


if __name__ == "__main__":
    main()

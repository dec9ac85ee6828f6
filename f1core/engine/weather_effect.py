"""How much rain changes a race, learned from the wet races in the store.

Two numbers, fitted on the training races whose weather is known (FastF1 rainfall share, else
Open-Meteo precipitation; see `features._load_weather`):

- `gamma`: how much flatter the finishing order is in the wet. Race strengths are multiplied by
  (1 - gamma * w), w = `models.wetness(rain)` between 0 (dry) and 1 (wet); gamma is the maximum of
  the Plackett-Luce likelihood of the finishing orders under the grid prior's strengths
  tau * log P(win | slot) * (1 - gamma * w), tau free, so it says how much less the grid decides
  when it rains.
- `delta`: how much likelier a car is not to be classified, as a shift of the DNF log-odds by
  delta * w, fitted with the DNF classifier's own log-odds as the offset.

A few dozen wet races cannot pin these down, so both have a normal prior centred on no effect
(`PRIOR_SD`) and their standard errors come from the curvature of the penalised likelihood. Both
are kept in the ranges that keep the model sensible (gamma in [0, 0.9]: rain never reverses the
order; delta >= 0 is not imposed).
"""
from __future__ import annotations

import numpy as np

from f1core.engine.calibration import weighted_pl_loglik
from f1core.engine.models import WeatherEffect, wetness

PRIOR_SD = {"gamma": 0.5, "delta": 1.0}
WET = 0.1  # a race counts as wet in the summary when w reaches this


def _curvature(f, x: float, h: float = 1e-3) -> float:
    return (f(x + h) - 2 * f(x) + f(x - h)) / h ** 2


def fit_weather_effect(ref_strength: np.ndarray, rain: np.ndarray, finish: np.ndarray, groups: np.ndarray,
                       dnf: np.ndarray, dnf_logit: np.ndarray, decay: float = 0.75) -> WeatherEffect:
    """Rows of training races (any order). `ref_strength`: the grid prior's log-strengths;
    `rain`: the race's rain share (NaN = unknown, left out); `finish`: classified position (NaN
    otherwise); `dnf`: 1/0 (NaN = did not start); `dnf_logit`: the DNF classifier's log-odds."""
    from scipy.optimize import minimize, minimize_scalar

    rain = np.asarray(rain, dtype=float)
    groups = np.asarray(groups)
    known = ~np.isnan(rain)
    w_all = wetness(np.where(known, rain, 0.0))
    wet_races = int(len(np.unique(groups[known & (w_all >= WET)])))
    races = int(len(np.unique(groups[known])))
    if races < 20 or wet_races < 3:
        return WeatherEffect(0.0, PRIOR_SD["gamma"], 0.0, PRIOR_SD["delta"], wet_races, races)

    # order flattening
    finish = np.asarray(finish, dtype=float)
    ok = known & ~np.isnan(finish)
    order = np.lexsort((finish[ok], groups[ok]))
    s = np.asarray(ref_strength, dtype=float)[ok][order]
    w = w_all[ok][order]
    g = groups[ok][order]

    def nll(theta):
        tau, gamma = theta
        return -weighted_pl_loglik(tau * s * (1 - gamma * w), g, decay) + 0.5 * (gamma / PRIOR_SD["gamma"]) ** 2

    fit = minimize(nll, x0=np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.05, 5.0), (0.0, 0.9)])
    tau, gamma = (float(v) for v in fit.x)
    gamma_sd = float(1 / np.sqrt(max(_curvature(lambda x: nll((tau, x)), max(gamma, 1e-3)), 1e-9)))

    # retirements
    dnf = np.asarray(dnf, dtype=float)
    ok = known & ~np.isnan(dnf)
    y, off, wd = dnf[ok], np.asarray(dnf_logit, dtype=float)[ok], w_all[ok]

    def dnf_nll(delta):
        z = off + delta * wd
        return float(np.sum(np.logaddexp(0, z) - y * z) + 0.5 * (delta / PRIOR_SD["delta"]) ** 2)

    d = minimize_scalar(dnf_nll, bounds=(-3, 3), method="bounded")
    delta = float(d.x)
    delta_sd = float(1 / np.sqrt(max(_curvature(dnf_nll, delta), 1e-9)))
    return WeatherEffect(gamma, gamma_sd, delta, delta_sd, wet_races, races)

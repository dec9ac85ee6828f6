"""Calibrating the race model against the grid, on races it has not seen.

The booster's Plackett-Luce scores are sharper on the races it was fitted on than on new ones,
and after qualifying too flat at the front of new ones (fitted to the whole finishing order). The
race model therefore serves a blend, in log-strength:

    strength = alpha * booster score + beta * log P(win | grid slot) [+ rho * rating]

where P(win | grid slot) is how often each slot has won in the training races (made
non-increasing in the slot, so a better slot never weakens a car). Alpha and beta are fitted by
maximum likelihood of the finishing orders of the most recent training races, scored by a booster
trained only on the races before them (a walk-forward step inside the training window), so they
measure how much the booster deserves on races it has not seen. Both are kept non-negative, which
keeps the blend monotone in the grid slot. After qualifying beta is held at 0 (the real grid is
already the booster's input), so alpha alone is fitted: the booster's sharpness on unseen races,
which changes with the era. Before qualifying a third term can join: the rating
filter's expected race score (`models.rating_term`), which the booster does not see; on 2016-2021
it told the blend who is quick this season better than the booster's form features did.

The reliability diagrams of these probabilities, per season, are `views.reports.reliability`.
"""
from __future__ import annotations

import numpy as np

from f1core.engine.models import Blend

MAX_SLOT = 26


def grid_win_logp(grid: np.ndarray, finish_order: np.ndarray, groups: np.ndarray, max_slot: int = MAX_SLOT,
                  prior: float = 0.5) -> tuple[float, ...]:
    """log P(win | grid slot) from training rows (`finish_order` 1 = winner), smoothed with
    `prior` pseudo-races per slot spread over the field, then made non-increasing in the slot."""
    grid = np.asarray(grid, dtype=float)
    ok = ~np.isnan(grid)
    slot = np.clip(grid[ok], 1, max_slot).astype(int)
    won = (np.asarray(finish_order, dtype=float)[ok] == 1)
    starts = np.bincount(slot - 1, minlength=max_slot).astype(float)
    wins = np.bincount(slot - 1, weights=won.astype(float), minlength=max_slot)
    p = (wins + prior / 20) / (starts + prior)
    p = np.minimum.accumulate(np.clip(p, 1e-5, 1))  # non-increasing: a better slot is never worse
    return tuple(float(v) for v in np.log(p))


def grid_strengths(grid: np.ndarray, finish: np.ndarray, groups: np.ndarray, decay: float = 0.75,
                   max_slot: int = MAX_SLOT) -> tuple[float, ...]:
    """Plackett-Luce log-strength of each grid slot (slot 1 = 0), fitted on the classified order of
    training races with the booster's choice weights and made non-increasing in the slot: the
    grid baseline as a race model, which the booster starts from and corrects."""
    from scipy.optimize import minimize

    from f1core.engine.models import plackett_luce_objective

    grid = np.asarray(grid, dtype=float)
    finish = np.asarray(finish, dtype=float)
    groups = np.asarray(groups)
    ok = ~np.isnan(grid) & ~np.isnan(finish)
    order = np.lexsort((finish[ok], groups[ok]))
    slot = np.clip(grid[ok][order], 1, max_slot).astype(int) - 1
    g = groups[ok][order]
    if len(g) == 0:
        return tuple(0.0 for _ in range(max_slot))
    objective = plackett_luce_objective(g, decay=decay)
    n_races = len(np.unique(g))

    def loss(theta):
        s = theta[slot]
        grad, _ = objective(s, None)
        return -weighted_pl_loglik(s, g, decay) / n_races, np.bincount(slot, weights=grad, minlength=max_slot) / n_races

    theta0 = -np.log(np.arange(1, max_slot + 1))
    fit = minimize(loss, theta0, jac=True, method="L-BFGS-B")
    theta = np.minimum.accumulate(fit.x - fit.x[0])
    return tuple(float(v) for v in theta)


def _padded(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    sizes = np.diff(np.r_[starts, len(groups)])
    race_of = np.repeat(np.arange(len(starts)), sizes)
    col_of = np.arange(len(groups)) - np.repeat(starts, sizes)
    out = np.full((len(starts), sizes.max()), np.nan)
    out[race_of, col_of] = values
    return out, ~np.isnan(out)


def weighted_pl_loglik(scores: np.ndarray, groups: np.ndarray, decay: float = 0.75,
                       top_k: int | None = None) -> float:
    """Sum over races of the Plackett-Luce log-likelihood of the observed order, the k-th choice
    weighted k^-decay (rows grouped by race, in finishing order; only classified cars)."""
    s, mask = _padded(np.asarray(scores, dtype=float), np.asarray(groups))
    s = np.where(mask, s, -np.inf)
    top = np.max(s, axis=1, keepdims=True)
    e = np.where(mask, np.exp(s - top), 0.0)
    tail = np.cumsum(e[:, ::-1], axis=1)[:, ::-1]
    log_choice = np.where(mask, (s - top) - np.log(np.where(tail > 0, tail, 1.0)), 0.0)
    w = (1.0 + np.arange(s.shape[1])) ** -decay
    if top_k is not None:
        w[top_k:] = 0.0
    return float((log_choice * w[None, :]).sum())


def fit_blend(raw: np.ndarray, grid: np.ndarray, finish: np.ndarray, groups: np.ndarray,
              grid_logp: tuple[float, ...], decay: float = 0.75, top_k: int | None = None,
              rating: np.ndarray | None = None, grid_prior: bool = True) -> Blend:
    """Alpha and beta (and rho, given the rating filter's expected race scores `rating`)
    maximising the weighted Plackett-Luce likelihood of the classified order of each race, from
    out-of-sample booster scores `raw`. Rows: any order; `finish` NaN = not classified (left
    out, as in the booster's fit)."""
    from scipy.optimize import minimize

    from f1core.engine.models import rating_term

    finish = np.asarray(finish, dtype=float)
    groups = np.asarray(groups)
    ok = ~np.isnan(finish) & ~np.isnan(np.asarray(raw, dtype=float))
    order = np.lexsort((finish[ok], groups[ok]))
    r = np.asarray(raw, dtype=float)[ok][order]
    g_rows = groups[ok][order]
    blend0 = Blend(1.0, 0.0, grid_logp, 0, -1, -1, 0.0)
    gterm = blend0.grid_term(np.asarray(grid, dtype=float)[ok][order])
    # centred within each race, as a driver's rating is compared with the field he races
    rterm = np.zeros(len(r))
    if rating is not None:
        scores = np.asarray(rating, dtype=float)[ok][order]
        for race in np.unique(g_rows):
            at = g_rows == race
            rterm[at] = rating_term(scores[at])
    n_races = len(np.unique(g_rows))

    def loss(theta):
        a, b, c = theta
        return -weighted_pl_loglik(a * r + b * gterm + c * rterm, g_rows, decay, top_k) / max(n_races, 1)

    bounds = [(0.0, 3.0), (0.0, 3.0) if grid_prior else (0.0, 0.0), (0.0, 3.0) if rating is not None else (0.0, 0.0)]
    best = minimize(loss, x0=np.array([1.0, 0.0, 0.0]), method="L-BFGS-B", bounds=bounds)
    a, b, c = (float(v) for v in best.x)
    gain = float(loss((1.0, 0.0, 0.0)) - best.fun)
    return Blend(a, b, grid_logp, n_races, int(groups[ok].min()) if ok.any() else -1,
                 int(groups[ok].max()) if ok.any() else -1, gain, rating=c)

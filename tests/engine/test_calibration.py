import numpy as np
import pandas as pd
import pytest

from f1core.engine.calibration import fit_blend, grid_win_logp, weighted_pl_loglik
from f1core.engine.models import Blend


def _races(n_races=60, n=20, sharp=1.0, seed=0):
    """Synthetic races: true strength = sharp * -log(slot); the 'booster' score is twice as sharp
    as the truth, so a good calibration halves it."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_races):
        grid = np.arange(1, n + 1)
        true = -sharp * np.log(grid)
        order = np.argsort(-(true + rng.gumbel(size=n)))
        finish = np.empty(n)
        finish[order] = np.arange(1, n + 1)
        rows.append(pd.DataFrame({"race": r, "grid": grid.astype(float), "finish": finish, "raw": 2 * true}))
    return pd.concat(rows, ignore_index=True)


def test_blend_undoes_an_over_confident_score():
    df = _races()
    logp = grid_win_logp(df["grid"], df["finish"], df["race"])
    blend = fit_blend(df["raw"], df["grid"], df["finish"], df["race"], logp, decay=0.0)
    combined = blend.alpha * 2 + blend.beta * 1.0  # both terms are multiples of log(slot) here, roughly
    assert 0.3 < blend.alpha < 0.8 or blend.beta > 0
    assert 0.6 < combined < 1.6
    assert blend.loglik_gain > 0 and blend.races == 60
    assert blend.first_race_idx == 0 and blend.last_race_idx == 59


def _races_with_pace(n_races=80, n=20, seed=1):
    """Races decided half by the grid and half by a pace the grid does not show; the rating
    filter's score (lower is better) sees that pace with some noise, the booster only the grid."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_races):
        grid = np.arange(1, n + 1)
        pace = rng.normal(size=n)
        order = np.argsort(-(-np.log(grid) + pace + rng.gumbel(size=n)))
        finish = np.empty(n)
        finish[order] = np.arange(1, n + 1)
        rows.append(pd.DataFrame({"race": r, "grid": grid.astype(float), "finish": finish, "raw": -np.log(grid),
                                  "rating": -pace + rng.normal(scale=0.3, size=n), "noise": rng.normal(size=n)}))
    return pd.concat(rows, ignore_index=True)


def test_the_rating_term_earns_weight_only_when_it_knows_something():
    df = _races_with_pace()
    logp = grid_win_logp(df["grid"], df["finish"], df["race"])
    informed = fit_blend(df["raw"], df["grid"], df["finish"], df["race"], logp, decay=0.0, rating=df["rating"])
    without = fit_blend(df["raw"], df["grid"], df["finish"], df["race"], logp, decay=0.0)
    noise = fit_blend(df["raw"], df["grid"], df["finish"], df["race"], logp, decay=0.0, rating=df["noise"])
    assert informed.rating > 0.5 and informed.loglik_gain > without.loglik_gain + 0.1
    assert without.rating == 0.0 and noise.rating < 0.2
    # served: the better-rated of two cars on the same slot is the stronger; a missing score is average
    X = pd.DataFrame({"exp_race_score": [-1.0, 1.0, np.nan]})
    part = informed.rating_part(X)
    assert part[0] > part[2] > part[1] and part[2] == pytest.approx(0.0)
    old = Blend(1.0, 0.0, logp, 0, 0, 0, 0.0)
    del old.__dict__["rating"]  # as a blend pickled before the term existed comes back
    assert (old.rating_part(X) == 0).all()


def test_grid_prior_is_non_increasing_in_the_slot():
    df = _races(n_races=30)
    logp = np.asarray(grid_win_logp(df["grid"], df["finish"], df["race"]))
    assert (np.diff(logp) <= 1e-12).all()
    b = Blend(1.0, 1.0, tuple(logp), 0, 0, 0, 0.0)
    assert (np.diff(b.grid_term(np.arange(1, 27))) <= 1e-12).all()
    assert b.grid_term(np.array([np.nan]))[0] == pytest.approx(logp[-1])  # unknown slot = the back


def test_weighted_likelihood_prefers_the_truth():
    df = _races(n_races=40).sort_values(["race", "finish"])
    truth = weighted_pl_loglik(df["raw"] / 2, df["race"].to_numpy())
    flat = weighted_pl_loglik(np.zeros(len(df)), df["race"].to_numpy())
    assert truth > flat

"""The two stages as scikit-learn-shaped estimators.

Stage 1, `QualifyingModel`: LightGBM regression of the qualifying gap to pole (% of the pole lap),
with quantile models for a P10-P90 interval.

Stage 2, `RaceModel`: a LightGBM booster trained with a Plackett-Luce listwise objective on the
finishing order of classified cars, so its scores are log-strengths; a LightGBM classifier for the
chance of not being classified; and a simulation that draws DNFs and then a Plackett-Luce order
(Gumbel-max trick). Every probability comes from the same simulated orders, so within a race the
win probabilities sum to 1, podium to 3 and points to 10, and a stronger score (e.g. a better grid
slot, which the booster is constrained to reward) can only raise a driver's chances.

One module, past 400 lines on purpose: the two estimators, the Plackett-Luce objective they
are fitted with and the simulation that turns their scores into chances are one model of a race
weekend and change together.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from f1core.engine.features import FEATURE_BY_NAME

if TYPE_CHECKING:
    import lightgbm

SEED = 20260501

warnings.filterwarnings("ignore", message="X does not have valid feature names")


def _lightgbm():
    """LightGBM, imported when a model is fitted: it brings scikit-learn and SciPy (over a second
    at start-up), which a server showing predictions it has on disk never needs. Unpickling a
    trained model imports it by itself."""
    import lightgbm

    return lightgbm


def _lgb_params(**overrides) -> dict:
    base = dict(learning_rate=0.05, num_leaves=15, min_data_in_leaf=40, feature_fraction=0.8,
                bagging_fraction=0.8, bagging_freq=1, lambda_l2=1.0, seed=SEED, deterministic=True,
                force_row_wise=True, num_threads=1, verbose=-1)
    base.update(overrides)
    return base


def _monotone(features: list[str]) -> list[int]:
    return [FEATURE_BY_NAME[f].monotone if f in FEATURE_BY_NAME else 0 for f in features]


# -- stage 1 --------------------------------------------------------------------------------------

@dataclass
class QualifyingModel:
    """`base`: a feature the boosters start from (their init score), so the trees learn corrections
    to it; None starts from the mean."""

    features: list[str]
    n_estimators: int = 250
    params: dict = field(default_factory=dict)
    interval: tuple[float, float] = (0.1, 0.9)
    with_interval: bool = True
    base: str | None = None

    def _base(self, X: pd.DataFrame) -> np.ndarray:
        if getattr(self, "base", None) is None:
            return np.zeros(len(X))
        return X[self.base].fillna(X[self.base].median() if X[self.base].notna().any() else 0.0).to_numpy(dtype=float)

    def fit(self, X: pd.DataFrame, y: pd.Series) -> "QualifyingModel":
        data = X[self.features].to_numpy(dtype=float)
        target = np.asarray(y, dtype=float)
        ok = ~np.isnan(target)
        data, target, init = data[ok], target[ok], self._base(X)[ok]
        lgb = _lightgbm()

        def dataset():
            return lgb.Dataset(data, target, feature_name=self.features, init_score=init if self.base else None)

        self.booster_ = lgb.train(_lgb_params(objective="huber", alpha=1.0, **self.params), dataset(),
                                  self.n_estimators)
        self.quantile_boosters_ = [
            lgb.train(_lgb_params(objective="quantile", alpha=a, **self.params), dataset(), self.n_estimators // 2)
            for a in (self.interval if self.with_interval else ())
        ]
        return self

    def _raw(self, booster, X: pd.DataFrame) -> np.ndarray:
        return booster.predict(X[self.features].to_numpy(dtype=float)) + self._base(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.clip(self._raw(self.booster_, X), 0, None)

    def predict_interval(self, X: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        centre = self.predict(X)
        if not self.quantile_boosters_:
            return centre, centre
        lo, hi = (np.clip(self._raw(b, X), 0, None) for b in self.quantile_boosters_)
        return np.minimum(lo, centre), np.maximum(hi, centre)

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        raw = self.booster_.predict(X[self.features].to_numpy(dtype=float), pred_contrib=True)
        out = pd.DataFrame(raw[:, :-1], columns=self.features, index=X.index)
        if getattr(self, "base", None) is not None:  # the starting point counts as its feature's contribution
            base = self._base(X)
            out[self.base] = out[self.base] + base - base.mean()
        return out


def grid_from_gaps(gaps: np.ndarray) -> np.ndarray:
    """Predicted grid slots (1 = pole) from predicted gaps; ties keep the given order."""
    order = np.argsort(np.asarray(gaps, dtype=float), kind="stable")
    grid = np.empty(len(order))
    grid[order] = np.arange(1, len(order) + 1)
    return grid


# -- stage 2 --------------------------------------------------------------------------------------

def _padded(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row -> (race row, column) in a padded [races x max_field] matrix; rows arrive grouped and
    ordered by finishing position within each race."""
    starts = np.r_[0, np.flatnonzero(np.diff(groups)) + 1]
    sizes = np.diff(np.r_[starts, len(groups)])
    race_of = np.repeat(np.arange(len(starts)), sizes)
    col_of = np.arange(len(groups)) - np.repeat(starts, sizes)
    return race_of, col_of


def plackett_luce_objective(groups: np.ndarray, top_k: int | None = None, tail_weight: float = 0.0,
                            decay: float = 0.0, race_weight: np.ndarray | None = None):
    """Gradient and Hessian of the Plackett-Luce negative log-likelihood of each race's order.

    With scores s in finishing order, S_k the sum of exp(s) over positions k..n and w_k the weight
    of choice k, item m has grad = -w_m + e_m * sum_{k<=m} w_k/S_k and
    hess = e_m * sum_{k<=m} w_k/S_k - e_m^2 * sum_{k<=m} w_k/S_k^2. With `top_k`, choices after the
    k-th count with `tail_weight`, so the fit concentrates on who finishes at the front.
    """
    race_of, col_of = _padded(groups)
    shape = (race_of.max() + 1, col_of.max() + 1)
    mask = np.zeros(shape, dtype=bool)
    mask[race_of, col_of] = True
    w = (1.0 + np.arange(shape[1])) ** -decay
    if top_k is not None:
        w[top_k:] = tail_weight
    w = np.where(mask, w[None, :], 0.0)
    if race_weight is not None:
        w = w * np.asarray(race_weight, dtype=float)[:, None]

    def objective(preds: np.ndarray, _data: lightgbm.Dataset):
        s = np.full(shape, -np.inf)
        s[race_of, col_of] = preds
        s = s - np.nanmax(np.where(mask, s, -np.inf), axis=1, keepdims=True)
        e = np.where(mask, np.exp(s), 0.0)
        tail = np.cumsum(e[:, ::-1], axis=1)[:, ::-1]
        inv = np.where(mask, 1.0 / np.where(tail > 0, tail, 1.0), 0.0)
        c1, c2 = np.cumsum(w * inv, axis=1), np.cumsum(w * inv ** 2, axis=1)
        grad = -w + e * c1
        hess = e * c1 - e ** 2 * c2
        return grad[race_of, col_of], np.maximum(hess[race_of, col_of], 1e-6)

    return objective


def plackett_luce_loglik(scores: np.ndarray, groups: np.ndarray) -> float:
    """Mean per-race log-likelihood of the observed orders (rows grouped, in finishing order)."""
    race_of, col_of = _padded(groups)
    s = np.full((race_of.max() + 1, col_of.max() + 1), -np.inf)
    s[race_of, col_of] = scores
    total = 0.0
    for row in s:
        row = row[np.isfinite(row)]
        tail = np.logaddexp.accumulate(row[::-1])[::-1]
        total += float((row - tail).sum())
    return total / s.shape[0]


# `rain` is left out: its effect on retirements is the weather effect's shift (see WeatherEffect)
DNF_FEATURES = ["team_dnf_rate", "drv_dnf_rate", "circuit_dnf_rate", "grid", "drv_starts",
                "team_elo", "air_temp", "round_frac"]

WET_FULL = 0.5  # a race with rain over half its distance counts as fully wet


def wetness(rain) -> np.ndarray:
    """0 (dry) to 1 (wet) from the rain share of the race; unknown counts as dry."""
    r = np.nan_to_num(np.asarray(rain, dtype=float), nan=0.0)
    return np.clip(r / WET_FULL, 0.0, 1.0)


@dataclass(frozen=True)
class WeatherEffect:
    """Rain's effect, learned from the store's wet races (see `weather_effect.fit_weather_effect`):
    strengths times (1 - gamma * w) (a flatter order) and DNF log-odds plus delta * w."""
    gamma: float
    gamma_sd: float
    delta: float
    delta_sd: float
    wet_races: int  # training races with w >= 0.1
    races: int  # training races with known weather

    def strength_factor(self, rain) -> np.ndarray:
        return 1.0 - self.gamma * wetness(rain)

    def dnf_logit_shift(self, rain) -> np.ndarray:
        return self.delta * wetness(rain)


@dataclass(frozen=True)
class Blend:
    """The race model's blend of booster and grid prior (fitted by `calibration.fit_blend`)."""

    alpha: float  # weight of the booster's score
    beta: float  # weight of the grid prior, log P(win | slot)
    grid_logp: tuple[float, ...]  # log P(win | slot), slot 1 first
    races: int  # races the weights were fitted on
    first_race_idx: int  # the fitting races: [first_race_idx, last_race_idx], all before the model's cut-off
    last_race_idx: int
    loglik_gain: float  # mean per-race log-likelihood gain of the blend over the plain booster there
    rating: float = 0.0  # weight of the rating filter's expected race score (`rating_term`); 0 = not used

    def grid_term(self, grid: np.ndarray) -> np.ndarray:
        return _grid_term(self.grid_logp, grid)

    def rating_part(self, X: pd.DataFrame) -> np.ndarray:
        """The rating filter's share of the served log-strength (zeros when the blend has none)."""
        weight = getattr(self, "rating", 0.0)  # blends pickled before the term existed have none
        if not weight or RATING_SCORE not in X.columns:
            return np.zeros(len(X))
        return weight * rating_term(X[RATING_SCORE].to_numpy(dtype=float))


RATING_SCORE = "exp_race_score"  # the rating filter's expected finishing score (normal scores, lower is better)


def rating_term(score: np.ndarray) -> np.ndarray:
    """Higher is stronger; a driver the filter has no score for counts as the field's average."""
    score = np.asarray(score, dtype=float)
    centre = float(np.nanmean(score)) if np.isfinite(score).any() else 0.0
    return -(np.where(np.isfinite(score), score, centre) - centre)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


@dataclass
class RaceModel:
    """Stage 2. `fit(X, finish, dnf, groups)`: X holds `features` (and `grid`, `rain`); `finish`
    the classified position (NaN when not classified); `dnf` 1/0; `groups` a race id per row,
    increasing with time, rows grouped by race.

    Given `calibration` scores, the served strength is a blend of the booster's score and the grid
    prior fitted on those races (see `calibration`); with `weather`, rain flattens strengths
    and raises DNF chances by amounts learned from the training races' weather (see
    `weather_effect`)."""

    features: list[str]
    n_estimators: int = 300
    params: dict = field(default_factory=dict)
    temperature: float = 1.0
    top_k: int | None = None
    tail_weight: float = 0.0
    decay: float = 0.0
    n_sims: int = 10_000
    mask_features: tuple[str, ...] = ()  # features missing in a copy of every `mask_every`-th training race
    mask_every: int = 0
    calibration_decay: float | None = None  # choice weights of the blend fit; None = `decay`
    calibration_top_k: int | None = None
    calibration_grid: bool = True  # False: the blend fits the booster's weight (its sharpness) alone
    weather: bool = False

    def _fit_booster(self, X: pd.DataFrame, finish: np.ndarray, groups: np.ndarray, weight: np.ndarray | None):
        """A Plackett-Luce booster on these rows; returns (booster, in-sample log-likelihood).
        Score new rows with `_score`."""
        data = X[self.features].to_numpy(dtype=float)
        groups = np.asarray(groups, dtype=float)
        masked = [self.features.index(f) for f in getattr(self, "mask_features", ()) if f in self.features]
        if getattr(self, "mask_every", 0) and masked:
            # races whose qualifying order is known but not its times: a copy of every k-th race
            # with those features missing teaches the trees what to do without them
            pick = (groups.astype(int) % self.mask_every) == 0
            copy = data[pick].copy()
            copy[:, masked] = np.nan
            data = np.vstack([data, copy])
            finish = np.r_[finish, finish[pick]]
            groups = np.r_[groups, groups[pick] + 0.5]
            weight = None if weight is None else np.r_[weight, weight[pick]]
        ranked = ~np.isnan(finish)
        order = np.lexsort((finish[ranked], groups[ranked]))
        Xr = data[ranked][order]
        gr = groups[ranked][order]
        race_weight = None
        if weight is not None:
            wr = np.asarray(weight, dtype=float)[ranked][order]
            race_weight = wr[np.r_[0, np.flatnonzero(np.diff(gr)) + 1]]
        lgb = _lightgbm()
        params = _lgb_params(objective=plackett_luce_objective(gr, self.top_k, self.tail_weight, self.decay,
                                                               race_weight), monotone_constraints=_monotone(self.features),
                             **self.params)
        booster = lgb.train(params, lgb.Dataset(Xr, np.zeros(len(Xr)), feature_name=self.features), self.n_estimators)
        return booster, plackett_luce_loglik(booster.predict(Xr), gr)

    def _score(self, booster, X: pd.DataFrame) -> np.ndarray:
        return booster.predict(X[self.features].to_numpy(dtype=float)) / self.temperature

    def fit(self, X: pd.DataFrame, finish: np.ndarray, dnf: np.ndarray, groups: np.ndarray,
            weight: np.ndarray | None = None, calibration: tuple | None = None) -> "RaceModel":
        """`weight`: optional per-row weight, constant within a race (e.g. favouring recent seasons).
        `calibration`: (booster scores, grid, finish, race id[, rating filter score]) of races the
        scores were made without seeing (walk-forward), on which the blend with the grid prior
        (and, when given, the rating filter's expected race score) is fitted."""
        from f1core.engine.calibration import fit_blend, grid_win_logp

        finish = np.asarray(finish, dtype=float)
        groups = np.asarray(groups)
        weight = None if weight is None else np.asarray(weight, dtype=float)
        self.booster_, self.train_loglik_ = self._fit_booster(X, finish, groups, weight)
        dnf = np.asarray(dnf, dtype=float)
        known = ~np.isnan(dnf)
        self.dnf_features_ = [f for f in DNF_FEATURES if f in X.columns]
        lgb = _lightgbm()
        self.dnf_model_ = lgb.LGBMClassifier(
            n_estimators=150, learning_rate=0.03, num_leaves=7, min_child_samples=100, subsample=0.8,
            subsample_freq=1, colsample_bytree=0.8, reg_lambda=5.0, random_state=SEED, n_jobs=1, verbose=-1,
            # a car further back is never safer: keeps "better grid slot, never lower chances" true
            monotone_constraints=[1 if f == "grid" else 0 for f in self.dnf_features_],
        ).fit(X.loc[known, self.dnf_features_].to_numpy(dtype=float), dnf[known].astype(int),
              sample_weight=None if weight is None else weight[known])

        self.blend_ = None
        self.weather_ = None
        grid = X["grid"].to_numpy(dtype=float)
        grid_logp = grid_win_logp(grid, finish, groups)
        if calibration is not None:
            raw, cal_grid, cal_finish, cal_groups, *cal_rating = (np.asarray(v) for v in calibration)
            decay = self.decay if self.calibration_decay is None else self.calibration_decay
            self.blend_ = fit_blend(raw, cal_grid, cal_finish, cal_groups, grid_logp, decay, self.calibration_top_k,
                                    rating=cal_rating[0] if cal_rating else None,
                                    grid_prior=getattr(self, "calibration_grid", True))
        if self.weather and "rain" in X.columns:
            from f1core.engine.weather_effect import fit_weather_effect

            ref = _grid_term(grid_logp, grid)
            dnf_logit = np.full(len(X), np.nan)
            dnf_logit[known] = _logit(self.dnf_model_.predict_proba(
                X.loc[known, self.dnf_features_].to_numpy(dtype=float))[:, 1])
            self.weather_ = fit_weather_effect(ref, X["rain"].to_numpy(dtype=float), finish, groups, dnf, dnf_logit,
                                               self.decay)
        return self

    def _calibrated(self, raw: np.ndarray, X: pd.DataFrame) -> np.ndarray:
        blend = getattr(self, "blend_", None)
        if blend is None:
            return raw
        return (blend.alpha * raw + blend.beta * blend.grid_term(X["grid"].to_numpy(dtype=float))
                + blend.rating_part(X))

    def _rain_factor(self, X: pd.DataFrame) -> np.ndarray:
        weather = getattr(self, "weather_", None)
        if weather is None or "rain" not in X.columns:
            return np.ones(len(X))
        return weather.strength_factor(X["rain"].to_numpy(dtype=float))

    def raw_strengths(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's log-strengths alone (before the blend and the weather)."""
        return self._score(self.booster_, X)

    def strengths(self, X: pd.DataFrame) -> np.ndarray:
        """Plackett-Luce log-strengths (only differences within a race matter)."""
        return self._calibrated(self.raw_strengths(X), X) * self._rain_factor(X)

    def dnf_proba(self, X: pd.DataFrame) -> np.ndarray:
        p = self.dnf_model_.predict_proba(X[self.dnf_features_].to_numpy(dtype=float))[:, 1]
        weather = getattr(self, "weather_", None)
        if weather is None or "rain" not in X.columns:
            return p
        return 1 / (1 + np.exp(-(_logit(p) + weather.dnf_logit_shift(X["rain"].to_numpy(dtype=float)))))

    def contributions(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each feature's part of the log-strength (the blend's grid prior counts as `grid`'s, the
        weather effect as `rain`'s); rows sum to the strength less a constant."""
        raw = self.booster_.predict(X[self.features].to_numpy(dtype=float), pred_contrib=True)
        blend = getattr(self, "blend_", None)
        scale = (blend.alpha if blend is not None else 1.0) / self.temperature
        out = pd.DataFrame(raw[:, :-1] * scale, columns=self.features, index=X.index)
        if blend is not None and "grid" in out:
            out["grid"] = out["grid"] + blend.beta * blend.grid_term(X["grid"].to_numpy(dtype=float))
        if blend is not None and getattr(blend, "rating", 0.0):
            part = blend.rating_part(X)
            out[RATING_SCORE] = out[RATING_SCORE] + part if RATING_SCORE in out else part
        if getattr(self, "weather_", None) is not None and "rain" in X.columns:
            calibrated = self._calibrated(self.raw_strengths(X), X)
            rain_part = (self._rain_factor(X) - 1.0) * calibrated
            out["rain"] = out["rain"] + rain_part if "rain" in out else rain_part
        return out

    def predict_proba(self, X: pd.DataFrame, seed: int = SEED) -> "RaceDistribution":
        """Distribution over finishing positions for one race (the rows of X are its field)."""
        return simulate(self.strengths(X), self.dnf_proba(X), self.n_sims, seed)

    def predict(self, X: pd.DataFrame, seed: int = SEED) -> np.ndarray:
        return self.predict_proba(X, seed).expected_position


def _grid_term(grid_logp: tuple[float, ...], grid: np.ndarray) -> np.ndarray:
    table = np.asarray(grid_logp, dtype=float)
    slot = np.clip(np.nan_to_num(np.asarray(grid, dtype=float), nan=len(table)), 1, len(table)).astype(int)
    return table[slot - 1]


@dataclass
class RaceDistribution:
    position_probs: np.ndarray  # [driver, position-1]
    p_dnf: np.ndarray
    p10: np.ndarray
    p90: np.ndarray

    @property
    def p_win(self) -> np.ndarray:
        return self.position_probs[:, 0]

    @property
    def p_podium(self) -> np.ndarray:
        return self.position_probs[:, :3].sum(axis=1)

    @property
    def p_points(self) -> np.ndarray:
        return self.position_probs[:, :10].sum(axis=1)

    @property
    def expected_position(self) -> np.ndarray:
        return self.position_probs @ np.arange(1, self.position_probs.shape[1] + 1)


def simulate(strength: np.ndarray, p_dnf: np.ndarray, n_sims: int, seed: int) -> RaceDistribution:
    """Draw `n_sims` races: each car fails to finish with its own probability; the others finish
    in a Plackett-Luce order (the sort of strength + Gumbel noise); failures fill the back.
    The seed fixes the noise per row, so callers keep rows in a stable order to compare scenarios."""
    n = len(strength)
    rng = np.random.default_rng(seed)
    key = strength[None, :] + rng.gumbel(size=(n_sims, n))
    out = rng.random((n_sims, n)) < p_dnf[None, :]
    key = np.where(out, key - 1e6, key)
    positions = np.argsort(np.argsort(-key, axis=1), axis=1)  # 0 = winner
    counts = np.bincount((np.arange(n)[None, :] * n + positions).ravel(), minlength=n * n).reshape(n, n)
    probs = counts / n_sims
    cdf = np.cumsum(probs, axis=1)
    p10 = (cdf < 0.1).sum(axis=1) + 1
    p90 = (cdf < 0.9).sum(axis=1) + 1
    return RaceDistribution(probs, np.asarray(p_dnf, dtype=float), p10.astype(float), p90.astype(float))

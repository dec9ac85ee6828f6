"""The rating filter behind the season-aware ratings: a Kalman filter over every car and every
driver, fed by qualifying gaps or finishing orders, that separates the car from the driver through
teammate comparisons and pulls each car towards the field over the winter (hard at rule changes).
`features.build_frame` runs it twice (qualifying, race) and turns its states into features;
`ratings` reads them for the pages."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Seasons whose technical rules changed enough that last year's order says little about this year's.
REGULATION_CHANGES = frozenset({2009, 2014, 2017, 2022, 2026})


@dataclass(frozen=True)
class PaceFilter:
    """Parameters of a car + driver rating filter (a Kalman filter over all teams and drivers).

    Each race observes, for every car, an outcome y (lower is better) centred on the field:
    y_i - mean(y) = (car_t + driver_i) - mean(car + driver) + noise. Car and driver are separate
    states, so teammates (same car) inform only their difference and the car is what their
    common level says; drivers who change teams carry their own skill into the new car.
    Between races the car drifts (`race_sd`), the driver a little (`driver_race_sd`). Over a
    winter the car shrinks towards the field (`season_keep`) and becomes less certain
    (`season_sd`); more so across a regulation change (`regulation_keep`, `regulation_sd`), and
    for a team that changes hands or name (`rename_keep`, `rename_sd`). Newcomers start from the
    field's average plus an offset (`rookie_mean`, `new_team_mean`). Outliers (a crash, a wet
    session) count less: residuals beyond `huber` standard deviations are down-weighted.
    Chosen on one-step-ahead predictions of 2010-2021 only."""
    obs_sd: float
    race_sd: float = 0.07
    driver_race_sd: float = 0.02
    season_keep: float = 0.7
    season_sd: float = 0.25
    regulation_keep: float = 0.35
    regulation_sd: float = 0.5
    rename_keep: float = 0.7
    rename_sd: float = 0.3
    new_team_mean: float = 1.0
    new_team_sd: float = 1.0
    rookie_mean: float = 0.1
    rookie_sd: float = 0.3
    driver_season_sd: float = 0.05
    huber: float = 2.5


QUALI_FILTER = PaceFilter(obs_sd=0.35)  # units: % of the pole lap
RACE_FILTER = PaceFilter(obs_sd=0.6, race_sd=0.07, driver_race_sd=0.03, season_sd=0.3, new_team_mean=0.8,
                         new_team_sd=0.8)  # units: normal scores of the finishing order


def pace_filter(df: pd.DataFrame, y: np.ndarray, p: PaceFilter) -> tuple[np.ndarray, np.ndarray]:
    """Car and driver ratings before and after each race. `df` is ordered by race; `y` is the
    outcome per row (lower is better; NaN = not observed: only rated). Returns two arrays of
    shape [rows, 5]: car, car sd, driver, driver sd, car + driver (relative to the field) as
    known before the race, and the same after it."""
    drivers = df["driver_ref"].to_numpy()
    teams = df["team"].to_numpy()
    constructors = df["constructor_ref"].to_numpy()
    seasons = df["season"].to_numpy()
    race = df["race_idx"].to_numpy()
    index: dict[tuple[str, str], int] = {}
    for d in pd.unique(drivers):
        index[("d", d)] = len(index)
    for t in pd.unique(teams):
        index[("t", t)] = len(index)
    n = len(index)
    is_team = np.array([k[0] == "t" for k in index])
    d_idx = np.array([index[("d", d)] for d in drivers])
    t_idx = np.array([index[("t", t)] for t in teams])
    m = np.zeros(n)
    cov = np.zeros((n, n))
    born = np.zeros(n, dtype=bool)
    owner: dict[int, str] = {}
    pre = np.full((len(df), 5), np.nan)
    post = np.full((len(df), 5), np.nan)
    bounds = np.flatnonzero(np.diff(race)) + 1
    last_season = None

    def snapshot(ti, di):
        total = m[ti] + m[di]
        var = cov[ti, ti] + cov[di, di] + 2 * cov[ti, di]
        return np.c_[m[ti], np.sqrt(cov[ti, ti]), m[di], np.sqrt(cov[di, di]), total - total.mean()], var

    for a, b in zip(np.r_[0, bounds], np.r_[bounds, len(df)]):
        season = seasons[a]
        if last_season is not None and season != last_season:
            keep, sd = ((p.regulation_keep, p.regulation_sd) if season in REGULATION_CHANGES
                        else (p.season_keep, p.season_sd))
            f = np.where(is_team, keep, 1.0)
            cov *= f[:, None] * f[None, :]
            m *= f
            cov[np.diag_indices(n)] += np.where(born & is_team, sd ** 2, 0.0) + np.where(
                born & ~is_team, p.driver_season_sd ** 2, 0.0)
        last_season = season
        ti, di = t_idx[a:b], d_idx[a:b]
        for k, con in zip(ti, constructors[a:b]):
            if not born[k]:
                rivals = np.unique(ti[born[ti]])
                m[k] = (m[rivals].mean() if len(rivals) else 0.0) + p.new_team_mean
                cov[k, k] = p.new_team_sd ** 2
                born[k] = True
            elif owner.get(k, con) != con:  # same factory, new owner or name
                m[k] *= p.rename_keep
                cov[k, :] *= p.rename_keep
                cov[:, k] *= p.rename_keep
                cov[k, k] += p.rename_sd ** 2
            owner[k] = con
        new_drivers = [k for k in np.unique(di) if not born[k]]
        if new_drivers:
            veterans = np.unique(di[born[di]])
            base = m[veterans].mean() if len(veterans) else 0.0
            for k in new_drivers:
                m[k] = base + p.rookie_mean
                cov[k, k] = p.rookie_sd ** 2
                born[k] = True
        uniq_t = np.unique(ti)
        cov[uniq_t, uniq_t] += p.race_sd ** 2
        cov[di, di] += p.driver_race_sd ** 2
        pre[a:b] = snapshot(ti, di)[0]
        yy = y[a:b]
        ok = ~np.isnan(yy)
        if ok.sum() >= 4:
            k_obs = int(ok.sum())
            cols, inv = np.unique(np.r_[ti[ok], di[ok]], return_inverse=True)
            h = np.zeros((k_obs, len(cols)))
            h[np.arange(k_obs), inv[:k_obs]] += 1
            h[np.arange(k_obs), inv[k_obs:]] += 1
            h -= h.mean(axis=0, keepdims=True)
            z = yy[ok] - yy[ok].mean()
            ph = cov[:, cols] @ h.T
            s = h @ ph[cols] + np.eye(k_obs) * p.obs_sd ** 2
            v = z - h @ m[cols]
            if p.huber:
                r = np.abs(v) / np.sqrt(np.diag(s))
                s += np.diag(p.obs_sd ** 2 * (np.maximum(1.0, r / p.huber) ** 2 - 1))
            gain = np.linalg.solve(s, ph.T).T
            m += gain @ v
            cov -= gain @ ph.T
            cov = (cov + cov.T) / 2
        post[a:b] = snapshot(ti, di)[0]
    return pre, post


def teammate_gap(df: pd.DataFrame, col: str) -> pd.Series:
    """Each driver's `col` minus his teammate's in the same race (NaN unless both have one)."""
    by_car = df.groupby(["race_idx", "team"])[col]
    mate = by_car.transform("sum") - df[col]
    return pd.Series(np.where(by_car.transform("count") == 2, df[col] - mate, np.nan), index=df.index)


def normal_scores(df: pd.DataFrame, col: str) -> np.ndarray:
    """Normal scores of an order within each race (lower is better, NaN stays NaN)."""
    from statistics import NormalDist

    rank = df.groupby("race_idx")[col].rank(method="average")
    count = rank.groupby(df["race_idx"]).transform("count")
    q = ((rank - 0.5) / count).to_numpy(dtype=float)
    inv = np.vectorize(NormalDist().inv_cdf, otypes=[float])
    out = np.full(len(q), np.nan)
    ok = ~np.isnan(q)
    out[ok] = inv(q[ok])
    return out

"""Stage 1's reference pole time: what a pole lap at this circuit should take this season, as of
before the race. A predicted gap to pole becomes a lap time through it."""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.ingest.csvfiles import lap_seconds

REFERENCE_SEASONS = 5  # seasons of poles the reference time is fitted on (chosen on 2010-2021)
# A season's level after n of its races is trusted as n / (n + SEASON_PRIOR_RACES), the rest left
# at last season's: one circuit says little about a new car (2026 ran 4.6% slower than 2025 in
# Melbourne, 1.6% in Shanghai). Chosen on 2012-2021: stage 1's median lap-time error 0.851 s taking
# the season's races at face value, 0.840 / 0.829 / 0.833 / 0.844 s with 0.5 / 1 / 1.5 / 2 races
# (1: 2012-16 1.046 -> 1.011 s, 2017-21 0.697 -> 0.671 s).
SEASON_PRIOR_RACES = 1.0


def _group_medians(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """The median of `values` in each group 0..n_groups-1 (every group non-empty), in one sort: the
    reference is refitted for every race, and a median per group and pass was most of its time."""
    order = np.lexsort((values, groups))
    sorted_values = values[order]
    counts = np.bincount(groups, minlength=n_groups)
    starts = np.r_[0, np.cumsum(counts)[:-1]]
    return 0.5 * (sorted_values[starts + (counts - 1) // 2] + sorted_values[starts + counts // 2])


def _median_polish(y: np.ndarray, season: np.ndarray, circuit: np.ndarray, iterations: int = 6):
    """log pole = circuit level + season level, fitted by medians (a one-off session counts little).
    Returns the circuits (sorted), their levels, the seasons' levels (oldest first) and each row's
    season index."""
    us, si = np.unique(season, return_inverse=True)
    uc, ci = np.unique(circuit, return_inverse=True)
    s_level = np.zeros(len(us))
    for _ in range(iterations):
        c_level = _group_medians(y - s_level[si], ci, len(uc))
        s_level = _group_medians(y - c_level[ci], si, len(us))
    return uc, c_level, s_level, si


def _season_now(s_level: np.ndarray, races_this_season: int) -> float:
    """The level of the season being predicted: its races so far, shrunk towards last season's."""
    if races_this_season == 0 or len(s_level) < 2:
        return s_level[-1]
    trust = races_this_season / (races_this_season + SEASON_PRIOR_RACES)
    return s_level[-2] + trust * (s_level[-1] - s_level[-2])


def wet_qualifying(races: pd.DataFrame) -> np.ndarray:
    """True where the pole lap was not faster than the race's fastest lap: on a dry day the low-fuel
    qualifying lap always is, so the session was wet (or the race had no lap times: False)."""
    return (races["pole_s"] >= races["race_best_lap_s"]).to_numpy()


def reference_times(frame: pd.DataFrame, seasons: int = REFERENCE_SEASONS) -> pd.Series:
    """Reference pole time per row, as of before the race, from the pole times of the last `seasons`
    seasons: the mean, in log terms, of two estimates.

    - The circuit's typical level: log pole times fitted as circuit + season (`_median_polish`), plus
      this season's level so far, shrunk towards last season's (`_season_now`).
    - The circuit's latest dry visit, moved by the season levels of the same fit on dry sessions only
      (`wet_qualifying`): it sees a new layout or surface the median is slow to follow, and a wet
      session never stands in for the circuit.

    Chosen on 2012-2021: stage 1's median lap-time error 0.908 -> 0.847 s (2012-16 1.160 -> 1.050,
    2017-21 0.702 -> 0.692), against either estimate alone (the typical level 0.908, the latest dry
    visit 0.912). A circuit not visited in the window has none (NaN)."""
    with_laps = frame.assign(race_best_lap_s=lap_seconds(frame["fastest_lap_time"])
                             if "fastest_lap_time" in frame else np.nan)
    races = (with_laps.groupby("race_idx", sort=True)
             .agg(season=("season", "first"), circuit_ref=("circuit_ref", "first"), pole_s=("pole_s", "first"),
                  race_best_lap_s=("race_best_lap_s", "min")))
    log_pole = np.log(races["pole_s"].to_numpy(dtype=float))
    dry_log_pole = np.where(wet_qualifying(races), np.nan, log_pole)
    season = races["season"].to_numpy()
    circuit = races["circuit_ref"].to_numpy()

    def estimate(y: np.ndarray, i: int, latest: bool) -> float:
        past = np.flatnonzero(~np.isnan(y[:i]) & (season[:i] >= season[i] - seasons))
        if not np.any(circuit[past] == circuit[i]):
            return np.nan
        uc, c_level, s_level, si = _median_polish(y[past], season[past], circuit[past])
        now = _season_now(s_level, int(np.sum(season[past] == season[i])))
        if not latest:
            return c_level[np.searchsorted(uc, circuit[i])] + now
        last = past[circuit[past] == circuit[i]][-1]
        return y[last] - s_level[si[past == last][0]] + now

    ref = np.full(len(races), np.nan)
    for i in range(len(races)):
        typical = estimate(log_pole, i, latest=False)
        latest = estimate(dry_log_pole, i, latest=True)
        ref[i] = np.exp(typical if np.isnan(latest) else 0.5 * (typical + latest))
    return frame["race_idx"].map(pd.Series(ref, index=races.index))

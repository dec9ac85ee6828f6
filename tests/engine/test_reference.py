"""Stage 1's reference pole time (engine.reference) on the real snapshot."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from f1core.engine.reference import reference_times, wet_qualifying
from f1core.ingest.csvfiles import lap_seconds


def per_race(frame, ref):
    return (frame.assign(ref=ref, race_best_lap_s=lap_seconds(frame["fastest_lap_time"]))
            .groupby(["season", "circuit_ref"])
            .agg(pole_s=("pole_s", "first"), race_best_lap_s=("race_best_lap_s", "min"), ref=("ref", "first")))


def test_wet_qualifying_sessions_do_not_stand_in_for_the_circuit(trained_engine):
    frame = trained_engine.frame()
    races = per_race(frame, reference_times(frame))
    wet = races.assign(wet=wet_qualifying(races))["wet"]
    # Montreal's qualifying was wet in 2022 and 2023 (poles 1:21.3 and 1:18.7 against race laps of 1:15-1:14)
    assert wet[(2022, "villeneuve")] and wet[(2023, "villeneuve")] and not wet[(2024, "villeneuve")]
    assert 0.02 < wet[wet.index.get_level_values("season") >= 2006].mean() < 0.1
    canada = races.loc[(2024, "villeneuve")]
    assert abs(canada["ref"] / canada["pole_s"] - 1) < 0.05

    # without the race's lap times the wet sessions cannot be told apart and pull the reference off
    blind = per_race(frame, reference_times(frame.drop(columns="fastest_lap_time"))).loc[(2024, "villeneuve")]
    assert abs(blind["ref"] / canada["pole_s"] - 1) > 0.07


def test_the_reference_uses_only_earlier_races(trained_engine):
    frame = trained_engine.frame()
    ref = reference_times(frame)
    cut = frame["race_idx"] <= frame.loc[(frame["season"] == 2024) & (frame["round"] == 10), "race_idx"].iloc[0]
    again = reference_times(frame[cut])
    assert (again - ref[cut]).abs().max() < 1e-9
    assert ref[frame["season"] >= 2006].notna().mean() > 0.9


def _poles(rows):
    """A frame of one car per race: (season, circuit, pole seconds), in calendar order, all dry."""
    return pd.DataFrame([dict(race_idx=i, season=s, circuit_ref=c, pole_s=p, fastest_lap_time="2:00.000")
                         for i, (s, c, p) in enumerate(rows)])


def test_one_race_says_little_about_a_new_seasons_pace():
    # two settled seasons, then a new car 4% slower at its first circuit
    settled = [(season, c, p) for season in (2024, 2025) for c, p in (("a", 80.0), ("b", 90.0), ("c", 100.0))]
    frame = _poles(settled + [(2026, "a", 83.2), (2026, "b", 93.6), (2026, "c", 104.0)])
    ref = frame.assign(ref=reference_times(frame)).set_index(["season", "circuit_ref"])["ref"]
    assert ref[(2026, "a")] == pytest.approx(80.0)  # before its first race: last season's pace
    # after one race the season is believed halfway (4% -> 2%), after two races two thirds of the way
    assert ref[(2026, "b")] == pytest.approx(90.0 * np.exp(np.log(1.04) / 2))
    assert ref[(2026, "c")] == pytest.approx(100.0 * np.exp(np.log(1.04) * 2 / 3))

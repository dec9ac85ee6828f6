"""Stage 1's reference pole time (engine.reference) on the real snapshot."""
from __future__ import annotations

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

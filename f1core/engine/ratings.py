"""Season-aware ratings: the car and the driver, separated.

The feature frame carries two rating filters (see `rating_filter.PaceFilter`), one over qualifying
gaps (% of the pole lap) and one over finishing orders (normal scores). Each race, every car's
result is split into its car's part (shared with the teammate) and the driver's part (what
teammate comparisons say), across every team a driver has raced for. Over a winter a car's
rating shrinks towards the field, strongly across a regulation change (2009, 2014, 2017, 2022,
2026) and when a team changes hands, so what a team's car did under old rules says little about
the new one, while the driver's skill is carried over.

`ratings_as_of(frame, season, round)` is what the Drivers & teams page shows: every driver of
that race with his ratings after it (and through the season so far, for the chart).
"""
from __future__ import annotations

import pandas as pd

# How much a qualifying % is worth against a race normal score when both are summed into one
# strength: the spread of car ratings across a field is about 1 % in qualifying and about 0.8 in
# race normal scores, and each half of the combined strength gets the same weight.
QUALI_TO_RACE = 0.8
STRENGTH_SCALE = 100.0  # points per unit of combined strength (a readable, Elo-like spread)


def _after(rows: pd.DataFrame) -> pd.DataFrame:
    """Ratings of one race's field after the race, relative to that field."""
    q_car, r_car = rows["rt_q_car_after"], rows["rt_r_car_after"]
    q_drv, r_drv = rows["rt_q_drv_after"], rows["rt_r_drv_after"]
    car_pace = q_car - q_car.min()  # % of a lap behind the fastest car
    car_race = r_car - r_car.min()
    driver_q = q_drv - q_drv.mean()  # % of a lap against an average driver in the same car
    driver_r = r_drv - r_drv.mean()
    # lower is better in both filters; the combined strength is higher-is-better
    car_strength = -(QUALI_TO_RACE * (q_car - q_car.mean()) + (r_car - r_car.mean())) / 2
    driver_strength = -(QUALI_TO_RACE * driver_q + driver_r) / 2
    return pd.DataFrame({
        "season": rows["season"].to_numpy(), "round": rows["round"].to_numpy(),
        "date": rows["date"].to_numpy(),
        "driver_ref": rows["driver_ref"].to_numpy(), "constructor_ref": rows["constructor_ref"].to_numpy(),
        "team": rows["team"].to_numpy(),
        "car_pace_pct": car_pace.to_numpy(), "car_race": car_race.to_numpy(),
        "driver_quali_pct": driver_q.to_numpy(), "driver_race": driver_r.to_numpy(),
        "car_sd_pct": rows["rt_q_car_sd_after"].to_numpy(), "driver_sd_pct": rows["rt_q_drv_sd_after"].to_numpy(),
        "car_rating": (STRENGTH_SCALE * car_strength).to_numpy(),
        "driver_rating": (STRENGTH_SCALE * driver_strength).to_numpy(),
        "strength": (STRENGTH_SCALE * (car_strength + driver_strength)).to_numpy(),
    })


def ratings_as_of(frame: pd.DataFrame, season: int, round_: int, history: bool = True) -> pd.DataFrame:
    """Driver and car ratings after race (`season`, `round_`), for every driver of that race.

    One row per driver (and, with `history`, per race of `season` up to `round_`, oldest first,
    so the page can chart ratings over time), with columns:

    - `season`, `round`, `date`, `driver_ref`, `constructor_ref`, `team` (the team's lineage);
    - `car_pace_pct`: the car's qualifying pace, % of a lap behind the fastest car (0 = fastest);
    - `car_race`: the car's race strength behind the strongest car (normal scores; 0 = strongest);
    - `driver_quali_pct`: the driver's qualifying pace against an average driver in the same car
      (% of a lap, negative = faster), from teammate gaps;
    - `driver_race`: the same from finishing against teammates (normal scores, negative = better);
    - `car_sd_pct`, `driver_sd_pct`: their uncertainty (wide after a rule change, for newcomers);
    - `car_rating`, `driver_rating`: the car and the driver on one points scale (higher is
      better; qualifying and race halves weighted equally, 0 = the field's average);
    - `strength`: `car_rating + driver_rating`, what the driver in his car is worth;
    - `rank`: order by `strength` within the race (1 = strongest).

    Ratings are as known after the race (its qualifying and result counted); for a race not yet
    run, after what is known of it (its qualifying, if held). Sorted by round, then rank.
    """
    rows = frame[(frame["season"] == season) & (frame["round"] <= round_)]
    if rows.empty:
        return pd.DataFrame(columns=["season", "round", "driver_ref", "constructor_ref", "strength", "rank"])
    if not history:
        rows = rows[rows["round"] == rows["round"].max()]
    out = pd.concat([_after(race) for _, race in rows.groupby("race_idx", sort=True)], ignore_index=True)
    out["rank"] = out.groupby("round")["strength"].rank(ascending=False, method="first").astype(int)
    return out.sort_values(["round", "rank"]).reset_index(drop=True)


def latest_ratings(frame: pd.DataFrame) -> pd.DataFrame:
    """`ratings_as_of` the last race with results (no history)."""
    done = frame[frame["has_result"]]
    if done.empty:
        return ratings_as_of(frame, 0, 0)
    last = done.loc[done["race_idx"].idxmax()]
    return ratings_as_of(frame, int(last["season"]), int(last["round"]), history=False)


def rating_order_check(ratings: pd.DataFrame, standings: pd.Series) -> float:
    """Spearman correlation between the rating order and a championship order (driver_ref ->
    points), a plain check that the ratings look like the season."""
    r = ratings.set_index("driver_ref")["strength"]
    both = pd.concat([r, standings.rename("points")], axis=1, join="inner")
    return float(both["strength"].rank().corr(both["points"].rank()))


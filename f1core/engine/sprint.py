"""The sprint of a sprint weekend, predicted like a race: the pre-qualifying race model (the
sprint's own grid is set by a sprint qualifying the sources do not carry, so stage 1's predicted
grid stands in until the sprint grid is known), fewer retirements (a third of the distance, at
the rate past sprints show), and points for the top eight of the season's sprint system.
Frozen before the sprint and scored after it, like a race."""
from __future__ import annotations

import numpy as np
import pandas as pd

from f1core.engine.models import simulate
from f1core.engine.predict import RacePrediction, _conditions, field_of, race_view
from f1core.engine.registry import ModelBundle
from f1core.engine.scenario import Scenario
from f1core.engine.training import PRE, race_seed
from f1core.names import with_driver_labels
from f1core.store import RaceRef

SPRINT = "sprint"  # the mode a sprint prediction carries in the prediction log
SPRINT_POINTS_PLACES = 8


def predict_sprint_rows(bundle: ModelBundle, race: RaceRef, rows: pd.DataFrame, sprint_grid: pd.DataFrame,
                        dnf_ratio: float, drivers: pd.DataFrame, teams: pd.DataFrame) -> RacePrediction:
    """`rows`: the weekend's feature rows; `sprint_grid`: driver_ref, grid of the sprint when known
    (empty before the sprint qualifying is in the store)."""
    field = field_of(rows.assign(has_result=False))
    view = race_view(bundle.stage1, field, PRE, Scenario())
    known = sprint_grid.dropna(subset=["grid"]) if not sprint_grid.empty else sprint_grid
    if not known.empty and set(view["driver_ref"]) <= set(known["driver_ref"]):
        slots = known.set_index("driver_ref")["grid"].astype(float)
        view = view.assign(grid=view["driver_ref"].map(slots).replace(0, len(view)))  # 0 = pit lane
    model = bundle.race_models[PRE]
    dist = simulate(model.strengths(view), model.dnf_proba(view) * dnf_ratio, model.n_sims,
                    race_seed(race.season, race.round) + 50)
    table = pd.DataFrame({
        "driver_ref": view["driver_ref"].to_numpy(), "constructor_ref": view["constructor_ref"].to_numpy(),
        "grid": view["grid"].to_numpy(), "quali_gap_pct": view["quali_gap_pct"].to_numpy(),
        "p_win": dist.p_win, "p_podium": dist.p_podium,
        "p_points": dist.position_probs[:, :SPRINT_POINTS_PLACES].sum(axis=1), "p_dnf": dist.p_dnf,
        "expected_position": dist.expected_position, "position_p10": dist.p10, "position_p90": dist.p90,
    })
    table = table.merge(drivers, on="driver_ref", how="left").merge(teams, on="constructor_ref", how="left")
    table["team_name"] = table["team_name"].fillna(table["constructor_ref"])
    table = with_driver_labels(table).sort_values(["expected_position", "driver_ref"]).reset_index(drop=True)
    probs = pd.DataFrame(dist.position_probs, index=view["driver_ref"].to_numpy(),
                         columns=np.arange(1, dist.position_probs.shape[1] + 1))
    return RacePrediction(race, SPRINT, bundle.version, Scenario(), table, probs.loc[table["driver_ref"]],
                          _conditions(view), False)

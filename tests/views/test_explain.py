"""What separates two drivers in the model's eyes: the inputs that differ most, which way each
counts, and the head-to-head chance their strength gap means."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from f1core.views.explain import input_value, why_ahead

DRIVERS = pd.Index(["russell", "antonelli", "norris"], name="driver_ref")
# each driver's parts of his race strength against the field's mean (rows sum to his strength)
CONTRIBUTIONS = pd.DataFrame({"grid": [0.40, 0.10, -0.50], "exp_race_score": [0.20, 0.35, -0.55],
                              "season_points_share": [0.00, 0.12, -0.12], "drv_starts": [0.01, 0.00, -0.01]},
                             index=DRIVERS)
VALUES = pd.DataFrame({"grid": [1.0, 2.0, 5.0], "exp_race_score": [-1.5, -1.2, 0.3],
                       "season_points_share": [0.8, 1.0, 0.5], "drv_starts": [156, 28, np.nan]}, index=DRIVERS)


def test_the_inputs_that_differ_most_come_first_with_the_side_they_favour():
    edge = why_ahead(CONTRIBUTIONS, VALUES, "russell", "antonelli", top=3)
    reasons = edge.reasons
    assert reasons["feature"].tolist() == ["grid", "exp_race_score", "season_points_share"]
    assert reasons["edge"].tolist() == pytest.approx([0.30, -0.15, -0.12])  # negative: counts for Antonelli
    assert reasons.loc[0, ["ahead_value", "behind_value"]].tolist() == [1.0, 2.0]
    assert reasons.loc[1, "input"].endswith("(lower is better)")  # a rating score says which way is better
    # strengths 0.61 against 0.57: a Plackett-Luce race puts Russell ahead in logistic(0.04) of the races
    assert edge.p_ahead_if_both_finish == pytest.approx(1 / (1 + np.exp(-0.04)))
    swapped = why_ahead(CONTRIBUTIONS, VALUES, "antonelli", "russell", top=3)
    assert swapped.p_ahead_if_both_finish == pytest.approx(1 - edge.p_ahead_if_both_finish)
    assert swapped.reasons["edge"].tolist() == pytest.approx([-0.30, 0.15, 0.12])


def test_a_driver_outside_the_field_is_named():
    with pytest.raises(KeyError, match="not in this race's field: hamilton"):
        why_ahead(CONTRIBUTIONS, VALUES, "russell", "hamilton")


@pytest.mark.parametrize("feature, value, shown", [
    ("grid", 1.0, "P1"), ("grid", 11.5, "P11.5"), ("drv_starts", 156.0, "156"),
    ("exp_race_score", -1.528275, "-1.53"), ("exp_race_score", 4.5e-11, "0"), ("drv_starts", np.nan, "unknown")])
def test_values_read_as_a_fan_would(feature, value, shown):
    assert input_value(feature, value) == shown

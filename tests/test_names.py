import pandas as pd

from f1core.names import with_driver_labels
from f1core.views.race_review import actual_result


def test_drivers_who_share_a_code_are_told_apart_and_the_rest_keep_theirs():
    table = pd.DataFrame({
        "driver_ref": ["panis", "pantano", "panis", "max_verstappen", "ralf_schumacher", "michael_schumacher"],
        "code": ["PAN", "PAN", "PAN", "VER", "SCH", "SCH"],
        "driver_name": ["Olivier Panis", "Giorgio Pantano", "Olivier Panis", "Max Verstappen",
                        "Ralf Schumacher", "Michael Schumacher"]})
    labelled = with_driver_labels(table)
    assert list(labelled["code"]) == ["PANI", "PANT", "PANI", "VER", "ralf_schumacher", "michael_schumacher"]


def test_a_driver_the_store_does_not_know_is_named_from_his_ref():
    labelled = with_driver_labels(pd.DataFrame({"driver_ref": ["arvid_lindblad"]}))
    assert labelled.loc[0, "code"] == "LIN" and labelled.loc[0, "driver_name"] == "arvid_lindblad"


def test_every_driver_of_a_race_has_his_own_code(snapshot_store):
    """2004 Australia: Olivier Panis and Giorgio Pantano both have 'PAN' from their surnames."""
    result = actual_result(snapshot_store, 2004, 1)
    assert {"panis", "pantano"} <= set(result["driver_ref"])
    assert result["code"].is_unique
    assert set(result.loc[result["driver_ref"].isin(["panis", "pantano"]), "code"]) == {"PANI", "PANT"}

"""Charts the pages share: what a reader hovering over them is told."""
from __future__ import annotations

import pandas as pd

from pages._charts import position_bands


def test_a_finishing_band_says_how_often_the_driver_retires():
    """Two near-equal drivers can have very different bands when one is a little likelier to retire
    (retirements fill the back): the hover says so beside the band."""
    table = pd.DataFrame({"code": ["RUS", "ANT"], "driver_name": ["George Russell", "Andrea Kimi Antonelli"],
                          "constructor_ref": ["mercedes", "mercedes"], "expected_position": [3.4, 4.0],
                          "position_p10": [1.0, 1.0], "position_p90": [5.0, 16.0], "p_dnf": [0.08, 0.10]})
    band = position_bands(table).data[0]
    assert "retires in %{customdata[2]:.0%} of races" in band.hovertemplate
    assert [list(row) for row in band.customdata] == [[1.0, 16.0, 0.10], [1.0, 5.0, 0.08]]  # drawn worst first
    # a table without retirement chances (a past race's review) keeps the plain hover
    assert "retires" not in position_bands(table.drop(columns="p_dnf")).data[0].hovertemplate

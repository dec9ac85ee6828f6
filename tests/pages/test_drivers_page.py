"""The Drivers & teams page renders standings, ratings, form and teammate duels."""
from __future__ import annotations

import json

from tests.pages.conftest import run_page, texts


def test_renders_every_tab_over_the_fixture_season(app_env, mini_db):
    app_env(mini_db)
    at = run_page("drivers.py")
    assert not at.exception
    assert not at.error
    assert at.selectbox(key="drivers_season").value == 2024
    assert [t.label for t in at.tabs] == ["Standings", "Ratings", "Recent form", "Teammates"]
    tables = {tuple(d.value.columns[:3]): d.value for d in at.dataframe}
    drivers = next(t for cols, t in tables.items() if "driver" in cols)
    assert drivers["code"].iloc[0] in {"VER", "LEC", "PER", "SAI"}


def test_the_standings_keep_place_and_name_in_view_and_fit_a_phone(app_env, mini_db):
    """On a 390 px phone the wins column fell off the screen; place and name stay pinned when the
    table scrolls sideways, and place, name, points and wins fit in about 350 px."""
    app_env(mini_db)
    at = run_page("drivers.py")
    drivers, teams = at.dataframe[0], at.dataframe[1]
    assert list(drivers.proto.column_order) == ["pos", "driver", "points", "wins", "team"]
    assert list(teams.proto.column_order) == ["pos", "team", "points", "wins"]
    for table, name in ((drivers, "driver"), (teams, "team")):
        config = json.loads(table.proto.columns)
        assert config["pos"]["pinned"] and config[name]["pinned"]
        assert config["points"]["label"] == "points" and config["pos"]["label"] == "pos"
    config = json.loads(drivers.proto.columns)
    assert sum(config[c]["width"] for c in ("pos", "driver", "points", "wins")) <= 350
    assert drivers.value["wins"].max() > 0


def test_empty_store_shows_the_notice_only(app_env):
    app_env(None)
    at = run_page("drivers.py")
    assert not at.exception
    assert "No race data yet" in texts(at.info)
    assert not at.selectbox


def test_switching_season_and_rating_view_over_the_real_snapshot(app_env, snapshot_db):
    app_env(snapshot_db)
    at = run_page("drivers.py", timeout=120)
    assert not at.exception and not at.error
    assert at.selectbox(key="drivers_season").value == 2026
    # the ratings table names its columns and keeps rank and driver in view on a phone
    ratings = next(d for d in at.dataframe if list(d.proto.column_order)[:3] == ["rank", "code", "strength"])
    config = json.loads(ratings.proto.columns)
    assert config["code"]["label"] == "driver" and config["code"]["pinned"] and config["rank"]["pinned"]
    assert config["driver_rating"]["label"] == "skill"  # one "driver" column, not two
    assert "his whole career against every teammate he had" in texts(at.caption)
    at.segmented_control(key="drivers_rating_view").set_value("teams").run()
    assert not at.exception
    at.selectbox(key="drivers_season").set_value(1988).run()
    assert not at.exception and not at.error
    assert "Ratings are computed from the 1996 season on" in texts(at.info)
    assert "qualifying sessions from 1994 on" in texts(at.caption)

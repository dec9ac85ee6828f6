"""f1core.reports over a real walk-forward backtest of 2026 (the lighter test set-up) and a
registry folder written by hand."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from f1core.engine.backtest import RACE_METRICS, bootstrap_ci, mean_interval, share_interval
from f1core.engine.registry import ARTIFACT, Registry
from f1core.store import Store
from f1core.views import reports
from f1core.views.terms import METRICS

POST, PRE = "post-qualifying", "pre-qualifying"


@pytest.fixture(scope="module")
def backtest(snapshot_db, tmp_path_factory):
    """(engine, latest backtest, per-race metrics, predictions, stage 1 per race) of a 2026 backtest."""
    from f1core.engine.service import Engine
    from tests.engine.conftest import FAST

    root = tmp_path_factory.mktemp("reports")
    db = root / "f1.duckdb"
    shutil.copy(snapshot_db, db)
    store = Store(db)
    engine = Engine(store, root / "models", FAST, today=dt.date(2026, 5, 10))
    run_id, _ = engine.lifecycle.run_backtest(2026)
    latest = engine.records.latest_backtest()
    assert latest["run_id"] == run_id
    yield (engine, latest, engine.records.backtest_race_metrics(run_id), engine.records.backtest_predictions(run_id),
           engine.records.backtest_stage1(run_id))
    store.close()


def test_headline_matches_the_stored_summary(backtest):
    _, latest, per_race, _, _ = backtest
    summary = latest["summary"]
    post = reports.headline(summary, POST)
    assert set(post["predictor"]) == {"model", "grid", "form"}
    assert len(post) == 3 * len(RACE_METRICS)
    top1 = post[(post["metric"] == "winner_top1") & (post["predictor"] == "model")].iloc[0]
    assert top1["value"] == pytest.approx(summary["modes"][POST]["model"]["winner_top1"])
    assert (post["lo"] <= post["value"] + 1e-9).all() and (post["value"] <= post["hi"] + 1e-9).all()
    assert post["races"].eq(4).all()
    # before qualifying the real grid is unknown: no grid baseline
    assert set(reports.headline(summary, PRE)["predictor"]) == {"model", "form"}
    assert reports.headline(summary, "no such mode").empty


def test_paired_differences_compare_the_same_races(backtest):
    _, _, per_race, _, _ = backtest
    diffs = reports.paired_differences(per_race, POST)
    assert set(diffs["baseline"]) == {"grid", "form"}
    g = per_race[per_race["mode"] == POST]
    for row in diffs.itertuples():
        model = g[g["predictor"] == "model"].set_index(["season", "round"])[row.metric]
        base = g[g["predictor"] == row.baseline].set_index(["season", "round"])[row.metric]
        expected = (model - base).dropna().mean()
        assert row.difference == pytest.approx(expected)
        assert row.lo <= row.difference + 1e-9 <= row.hi + 2e-9
        higher = METRICS[row.metric].higher_is_better
        if row.verdict == "model better":
            assert (row.lo > 0) if higher else (row.hi < 0)
        elif row.verdict == "baseline better":
            assert (row.hi < 0) if higher else (row.lo > 0)
        elif row.verdict == "too close to call":
            assert row.lo <= 0 <= row.hi
        elif row.verdict == "sample too small for an interval":
            assert row.lo == row.hi != 0
        elif row.verdict == "too few races to tell":
            assert row.races < 5 and row.lo != row.hi
        else:
            assert row.verdict == "identical" and row.lo == row.hi == 0
    # one race: its difference is no evidence either way, however large
    first = g[["season", "round"]].drop_duplicates().iloc[:1]
    one = reports.paired_differences(per_race.merge(first), POST)
    moved = one[one["difference"] != 0]
    assert len(moved) and (moved["verdict"] == "sample too small for an interval").all()
    # four races (the fixture's backtest): an interval, but none called either way
    assert diffs["races"].max() == 4
    assert not diffs["verdict"].isin(["model better", "baseline better"]).any()
    assert (diffs["verdict"] == "too few races to tell").any()


def test_headline_table_is_one_row_per_metric_with_verdicts(backtest):
    _, latest, per_race, _, _ = backtest
    table = reports.headline_table(latest["summary"], per_race, POST)
    assert list(table["metric"]) == [METRICS[m].label for m in RACE_METRICS]
    for column in ("Model", "Grid baseline", "Form baseline", "vs grid", "vs form", "model − grid", "model − form"):
        assert column in table.columns
    assert table["vs grid"].isin(["too few races to tell", "sample too small for an interval", "identical"]).all()
    model = latest["summary"]["modes"][POST]["model"]
    lo, hi = model["winner_top1_ci"]
    # a share's interval is Wilson's: four races, every one called or every one missed, still has a width
    assert lo < hi and table.loc[0, "Model"].endswith("%)")  # '75% (39%–94%)'
    pre = reports.headline_table(latest["summary"], per_race, PRE)
    assert "Grid baseline" not in pre.columns and "vs form" in pre.columns


def test_season_metrics_are_means_over_the_seasons_races(backtest):
    _, _, per_race, _, _ = backtest
    seasons = reports.season_metrics(per_race)
    assert set(seasons["season"]) == {2026}
    assert set(seasons["metric"]) == set(RACE_METRICS)
    row = seasons[(seasons["mode"] == POST) & (seasons["predictor"] == "model")
                  & (seasons["metric"] == "spearman")].iloc[0]
    g = per_race[(per_race["mode"] == POST) & (per_race["predictor"] == "model")]
    assert row["value"] == pytest.approx(g["spearman"].mean())
    assert row["races"] == 4
    assert row["lo"] <= row["value"] <= row["hi"]


def test_rolling_metrics_average_the_last_races(backtest):
    _, _, per_race, _, _ = backtest
    rolled = reports.rolling_metrics(per_race, window=2)
    model = rolled[(rolled["mode"] == POST) & (rolled["predictor"] == "model") & (rolled["metric"] == "winner_logloss")]
    assert list(model["round"]) == [2, 3, 4]  # the first race has no 2-race window yet
    g = per_race[(per_race["mode"] == POST) & (per_race["predictor"] == "model")].sort_values("round")
    assert model["value"].iloc[0] == pytest.approx(g["winner_logloss"].iloc[:2].mean())
    assert reports.rolling_metrics(per_race, window=12).empty


@pytest.mark.parametrize("outcome, places", [("win", 1), ("podium", 3)])
def test_reliability_bins_count_every_driver_race(backtest, outcome, places):
    _, _, per_race, predictions, _ = backtest
    bins = reports.reliability(predictions, outcome)
    column = "p_win" if outcome == "win" else "p_podium"
    for (mode, predictor), g in bins.groupby(["mode", "predictor"]):
        p = predictions[(predictions["mode"] == mode) & (predictions["predictor"] == predictor)]
        assert g["count"].sum() == len(p)
        assert g["hits"].sum() == int((p["position_order"] <= places).sum())
        assert (g["bin_lo"] <= g["predicted"] + 1e-9).all() and (g["predicted"] <= g["bin_hi"] + 1e-9).all()
        assert (g["observed_lo"] <= g["observed"] + 1e-9).all() and (g["observed"] <= g["observed_hi"] + 1e-9).all()
        assert g["observed"].to_numpy() == pytest.approx((g["hits"] / g["count"]).to_numpy())
        assert g["predicted"].to_numpy() == pytest.approx(
            [p[column][(p[column] >= lo) & ((p[column] < hi) | (hi == 1.0))].mean()
             for lo, hi in zip(g["bin_lo"], g["bin_hi"])])
    # one winner per race for every predictor
    wins = reports.reliability(predictions, "win")
    assert (wins.groupby(["mode", "predictor"])["hits"].sum() == 4).all()


def test_reliability_per_season_splits_the_same_driver_races():
    rng = np.random.default_rng(3)
    rows = []
    for season in (2022, 2023):
        for rnd in range(1, 11):
            p = rng.dirichlet(np.ones(20))
            winner = rng.choice(20, p=p)
            rows.append(pd.DataFrame({"mode": POST, "predictor": "model", "season": season, "round": rnd,
                                      "driver_ref": [f"d{i}" for i in range(20)], "p_win": p, "p_podium": 3 * p,
                                      "position_order": np.where(np.arange(20) == winner, 1, 2)}))
    predictions = pd.concat(rows, ignore_index=True)
    by_season = reports.reliability(predictions, "win", by="season")
    assert by_season.groupby("season")["count"].sum().to_dict() == {2022: 200, 2023: 200}
    assert by_season.groupby("season")["hits"].sum().to_dict() == {2022: 10, 2023: 10}
    one = reports.reliability(predictions[predictions["season"] == 2023], "win")
    mine = by_season[by_season["season"] == 2023].drop(columns="season").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, one.reset_index(drop=True), check_dtype=False)
    pooled = reports.reliability(predictions, "win")
    assert pooled["count"].sum() == 400 and "season" not in pooled


def test_stage1_by_season_with_the_last_race_baseline(backtest):
    engine, latest, _, _, stage1 = backtest
    races = tuple((int(s), int(r)) for s, r in stage1[["season", "round"]].itertuples(index=False))
    baseline = reports.stage1_baseline(engine.store, engine.frame(), races)
    assert len(baseline) == len(stage1) == 4
    assert baseline["pole_hit"].isin([0.0, 1.0]).all()
    assert baseline["grid_spearman"].between(-1, 1).all()
    assert (baseline["laptime_median_abs_error_s"] > 0).all()
    # the engine's reference, computed once with its frame, is the one the baseline would compute
    pd.testing.assert_frame_equal(reports.stage1_baseline(engine.store, engine.frame(), races,
                                                          engine.reference_poles()), baseline)

    table = reports.stage1_by_season(stage1, baseline)
    assert set(table["predictor"]) == {"model", "last race"}
    assert set(table["season"]) == {"2026", "all"}
    overall = table[(table["season"] == "all") & (table["predictor"] == "model")].set_index("metric")
    # the same mean as the stored summary (over the same sessions)
    assert overall.loc["grid_spearman", "value"] == pytest.approx(latest["summary"]["stage1"]["grid_spearman"])
    assert overall.loc["pole_hit", "value"] == pytest.approx(latest["summary"]["stage1"]["pole_hit"])
    assert overall.loc["laptime_median_abs_error_s", "value"] == pytest.approx(
        stage1["laptime_median_abs_error_s"].median())
    assert reports.stage1_baseline(engine.store, engine.frame(), ()).empty


def test_track_record_gets_the_baselines_of_the_same_races(backtest):
    _, _, per_race, _, _ = backtest
    # a record shaped like Engine.track_record(): the backtest's model rows stand in for frozen predictions
    model = per_race[(per_race["mode"] == POST) & (per_race["predictor"] == "model")].head(3)
    record = model.drop(columns=["run_id", "predictor", "race_name"]).assign(
        race=model["race_name"], session="race", model_version="v0001", logged_at=pd.Timestamp("2026-01-01"))
    # the third race's sprint, frozen and scored too, and a perfect one: the baselines have no sprints
    sprint = record.iloc[[2]].assign(session="sprint", mode="sprint", winner_logloss=0.0, spearman=1.0)
    both = reports.track_record_with_baselines(pd.concat([record, sprint], ignore_index=True), per_race)
    assert sorted(both["predictor"].value_counts().to_dict().items()) == [("form", 3), ("grid", 3), ("model", 4)]
    summary = reports.record_summary(both).set_index(["predictor", "metric"])
    for predictor in ("model", "grid"):
        rows = per_race[(per_race["mode"] == POST) & (per_race["predictor"] == predictor)].head(3)
        assert summary.loc[(predictor, "spearman"), "value"] == pytest.approx(rows["spearman"].mean())
        assert summary.loc[(predictor, "spearman"), "races"] == 3
    # before the backtest reaches any of them, the model's sessions alone compare with nothing
    alone = reports.track_record_with_baselines(sprint, per_race)
    assert len(alone) == 1 and reports.compared_sessions(alone).empty and reports.record_summary(alone).empty
    assert reports.track_record_with_baselines(pd.DataFrame(), per_race).empty
    assert reports.record_summary(pd.DataFrame()).empty


def test_recent_baselines_cover_the_same_races_or_nothing(backtest):
    _, _, per_race, _, _ = backtest
    recent = reports.recent_baselines(per_race, (2026, 3), 2)
    grid = per_race[(per_race["mode"] == POST) & (per_race["predictor"] == "grid") & per_race["round"].isin([2, 3])]
    assert recent["grid"]["winner_logloss"] == pytest.approx(grid["winner_logloss"].mean())
    assert recent["grid"]["races"] == 2
    assert reports.recent_baselines(per_race, (2026, 4), 12) == {}  # the backtest holds only 4 races


def _fake_registry(root, per_version: dict[str, dict], champion: str) -> Registry:
    root.mkdir(parents=True, exist_ok=True)
    index = {"champion": champion, "versions": {}, "history": []}
    for version, info in per_version.items():
        index["versions"][version] = {
            "version": version, "status": info["status"], "created_at": "2026-05-05T10:00:00+00:00",
            "training_window": {"last_season": 2026, "last_round": info["through"], "races": 100,
                                "last_race_label": f"2026 R{info['through']}"},
            "data_fingerprint": "abc", "metrics": {"recent": {"races": 2, "winner_logloss": 1.0, "winner_top1": 0.5,
                                                              "spearman": 0.6}}}
        if info.get("artifact", True):
            (root / version).mkdir()
            (root / version / ARTIFACT).write_bytes(b"not a real model")
    (root / "registry.json").write_text(json.dumps(index))
    return Registry(root)


def test_registry_table_and_rollback_candidates(backtest, tmp_path):
    _, _, per_race, _, _ = backtest
    registry = _fake_registry(tmp_path / "models", {
        "v0001": {"status": "retired", "through": 3},
        "v0002": {"status": "pending", "through": 4, "artifact": False},
        "v0003": {"status": "champion", "through": 4},
        "v0004": {"status": "pending", "through": 4},
    }, champion="v0003")
    assert reports.rollback_candidates(registry) == ["v0004", "v0001"]  # not the champion, not without artifact
    table = reports.registry_table(registry, per_race).set_index("version")
    assert table.loc["v0002", "artifact"] == False  # noqa: E712  (numpy bool)
    assert bool(table.loc["v0003", "champion"])
    grid = per_race[(per_race["mode"] == POST) & (per_race["predictor"] == "grid")]
    assert table.loc["v0001", "grid_recent_logloss"] == pytest.approx(
        grid[grid["round"].isin([2, 3])]["winner_logloss"].mean())
    assert table.loc["v0003", "grid_recent_logloss"] == pytest.approx(
        grid[grid["round"].isin([3, 4])]["winner_logloss"].mean())
    assert np.isnan(reports.registry_table(registry, None).loc[0, "grid_recent_logloss"])
    assert reports.rollback_candidates(Registry(tmp_path / "empty")) == []


def test_metric_formatting_and_top1_margin(backtest):
    _, latest, _, _, _ = backtest
    top1, loss, laps = (METRICS[m] for m in ("winner_top1", "winner_logloss", "laptime_median_abs_error_s"))
    assert top1.format(0.6371) == "64%" and top1.format(None) == "—"
    assert top1.format_difference(0.06) == "+6 pp" and loss.format_difference(-0.373) == "−0.373"
    assert laps.format(0.734) == "0.73 s"
    margin = reports.top1_margin(latest["summary"], POST)
    ci = latest["summary"]["modes"][POST]["model"]["winner_top1_ci"]
    assert margin == pytest.approx((ci[1] - ci[0]) / 2 * 100)
    assert reports.top1_margin(latest["summary"], "no such mode") is None


def test_a_share_of_races_gets_wilsons_interval_even_when_every_race_went_one_way():
    """12 winners called of 12 is not certainty: the bootstrap would say 100%-100%."""
    lo, hi = mean_interval(np.ones(12), share=True)
    assert hi == 1.0 and 0.75 < lo < 0.85  # Wilson 90%: 0.816
    lo, hi = mean_interval(np.r_[np.ones(6), np.zeros(6), np.nan], share=True)
    assert lo == pytest.approx(1 - hi) and 0.25 < lo < 0.3  # symmetric about a half, the NaN left out
    # a 90% interval of 60 hits in 100 covers the truth about 90% of the time
    rng = np.random.default_rng(3)
    hits = rng.binomial(100, 0.6, size=4000)
    lo, hi = share_interval(hits, 100)
    assert 0.87 < np.mean((lo <= 0.6) & (0.6 <= hi)) < 0.93
    # anything but a share keeps the bootstrap over races
    values = np.array([0.5, 1.5, 1.0, 2.0, 0.7])
    assert mean_interval(values, share=False) == bootstrap_ci(values)
    # per season, the reports use it for the shares alone
    per_race = pd.DataFrame({"mode": POST, "predictor": "model", "season": 2026, **{m: 0.5 for m in RACE_METRICS},
                             "winner_top1": [1.0] * 4}, index=range(4))
    seasons = reports.season_metrics(per_race).set_index("metric")
    assert seasons.loc["winner_top1", "lo"] < seasons.loc["winner_top1", "hi"] == 1.0
    assert seasons.loc["spearman", "lo"] == seasons.loc["spearman", "hi"] == 0.5


def test_an_interval_with_no_width_says_the_sample_is_too_small():
    top1 = METRICS["winner_top1"]
    assert top1.with_interval(1.0, 1.0, 1.0) == "100% (sample too small for an interval)"
    assert top1.with_interval(0.62, 0.53, 0.70) == "62% (53%–70%)"
    assert METRICS["winner_logloss"].with_interval(float("nan"), 0, 1) == "—"


def test_the_stored_rain_check_reads_as_a_table(backtest):
    _, latest, *_ = backtest
    stored = latest["summary"]["rain"]  # the 2026 backtest, as the store keeps it
    table = reports.rain_check(latest["summary"])
    assert list(table["predictions"]) == ["After qualifying", "Before qualifying"]
    assert list(table["wet races"]) == [stored[POST]["races"], stored[PRE]["races"]]
    assert reports.rain_check({k: v for k, v in latest["summary"].items() if k != "rain"}) is None  # older runs


@pytest.mark.parametrize("lo, hi, races, verdict", [
    (-0.20, -0.01, 19, "the rain helps"), (0.02, 0.30, 19, "the rain hurts"), (-0.04, 0.07, 19, "too close to call"),
    (-0.05, -0.05, 1, "sample too small for an interval"), (-0.20, -0.01, 4, "too few races to tell")])
def test_the_rain_check_verdict_reads_the_interval(lo, hi, races, verdict):
    check = {"races": races, "logloss_observed": 1.4, "logloss_dry": 1.38, "difference": (lo + hi) / 2,
             "difference_ci": [lo, hi], "dnf_observed": 0.14, "dnf_dry": 0.13, "dnf_actual": 0.128}
    row = reports.rain_check({"rain": {POST: check}}).iloc[0]
    assert row["verdict"] == verdict and row["wet races"] == races
    assert row["difference (90%)"].startswith("−" if lo + hi < 0 else "+")
    assert row["DNF chance with rain"] == "14.0%" and row["cars not classified"] == "12.8%"

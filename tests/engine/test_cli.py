"""The command line as a user runs it: a real subprocess over a copy of the snapshot store."""
import json
import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO


@pytest.fixture
def cli(trained_engine, engine_paths, tmp_path):
    db, models = engine_paths
    shutil.copy(db, tmp_path / "f1.duckdb")
    shutil.copytree(models, tmp_path / "models")
    env = {**os.environ, "F1_DB": str(tmp_path / "f1.duckdb"), "F1_MODELS": str(tmp_path / "models"),
           "F1_TODAY": "2026-05-10", "F1_TRAIN_FROM": "2022"}

    def run(*args: str, ok: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "f1core", *args], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=600)
        assert (done.returncode == 0) == ok, done.stderr
        return done

    return run, tmp_path


def test_predict_writes_the_documented_json(cli):
    run, tmp = cli
    out = tmp / "p.json"
    printed = run("predict", "2026", "5", "--json", str(out)).stdout
    assert "2026 R5 Canadian Grand Prix" in printed and "pre-qualifying" in printed
    data = json.loads(out.read_text())
    assert data["race"] == {"season": 2026, "round": 5, "name": "Canadian Grand Prix", "date": "2026-05-24"}
    assert data["mode"] == "pre-qualifying" and data["model_version"].startswith("v")
    driver = data["drivers"][0]
    assert set(driver) == {"driver", "constructor", "grid", "quali_gap_pct", "quali_time_s", "p_win", "p_podium",
                           "p_points", "p_dnf", "expected_position"}
    assert sum(d["p_win"] for d in data["drivers"]) == pytest.approx(1)


def test_predict_with_a_grid_file_and_weather(cli):
    run, tmp = cli
    grid = tmp / "grid.csv"
    grid.write_text("driver,grid\nhamilton,1\nantonelli,2\n")
    out = tmp / "p.json"
    run("predict", "2026", "4", "--grid-file", str(grid), "--rain", "0.8", "--air-temp", "31", "--json", str(out))
    data = json.loads(out.read_text())
    slots = {d["driver"]: d["grid"] for d in data["drivers"]}
    assert slots["hamilton"] == 1 and slots["antonelli"] == 2
    assert data["scenario"]["rain"] == "0.8"


def test_bad_input_gets_a_clear_error(cli):
    run, tmp = cli
    grid = tmp / "grid.csv"
    grid.write_text("driver,grid\nnobody,1\n")
    assert "nobody" in run("predict", "2026", "4", "--grid-file", str(grid), ok=False).stderr
    grid.write_text("name,slot\nhamilton,1\n")
    assert "needs the columns driver,grid" in run("predict", "2026", "4", "--grid-file", str(grid), ok=False).stderr
    assert "no race 2031 round 3" in run("predict", "2031", "3", ok=False).stderr


def test_train_and_backtest(cli):
    run, tmp = cli
    trained = run("train").stdout
    assert "walk-forward on the last 12 races" in trained and "grid" in trained
    out = tmp / "b.json"
    printed = run("backtest", "--from", "2026", "--json", str(out)).stdout
    assert "post-qualifying" in printed and "qualifying: grid Spearman" in printed
    data = json.loads(out.read_text())
    assert data["races"] == 4 and data["seconds"] > 0
    for entry in [data["model"], data["baselines"]["grid"], data["baselines"]["form"]]:
        for key in ("winner_top1", "winner_top3", "winner_logloss", "multiclass_brier", "podium_brier", "spearman",
                    "position_mae"):
            assert key in entry and len(entry[f"{key}_ci"]) == 2
    assert {"grid_spearman", "pole_hit", "laptime_median_abs_error_s"} <= set(data["stage1"])

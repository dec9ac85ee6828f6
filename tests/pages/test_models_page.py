"""The Models page: the registry and the champion, retraining and rollback behind the admin
password, and the explanation of a prediction."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from f1core.engine.features import FEATURES
from pages._style import LABEL_WIDTH
from tests.pages.conftest import models_dir, open_tab, run_page, texts


def frames(at) -> dict[tuple, object]:
    return {tuple(d.value.columns[:2]): d.value for d in at.dataframe}




def registry_index() -> dict:
    import os

    return json.loads((Path(os.environ["F1_MODELS"]) / "registry.json").read_text())


def test_the_importance_chart_keeps_its_labels_short_enough_for_a_phone(with_model):
    at = run_page("models.py", timeout=180)
    charts = [json.loads(c.proto.spec) for c in at.get("plotly_chart")]
    bars = next(c["data"][0] for c in charts if c["layout"].get("xaxis", {}).get("title", {}).get("text")
                == "Share of the model's total gain")
    lines = [line for label in bars["y"] for line in label.split("<br>")]
    assert len(bars["y"]) == 15 and max(map(len, lines)) <= LABEL_WIDTH
    assert any("<br>" in label for label in bars["y"])  # the long ones are wrapped, not cut
    assert {label.replace("<br>", " ") for label in bars["y"]} <= {f.label for f in FEATURES}  # whole names


def test_renders_the_registry_champion_and_explanation(with_model):
    at = run_page("models.py", timeout=180)
    assert not at.exception
    assert not at.error
    assert [t.label for t in at.tabs] == ["Champion", "Why this prediction?", "Versions & history",
                                          "Retrain & roll back"]
    cards = {m.label: m.value for m in at.metric}
    assert cards["Champion"] == "v0001" and cards["Trained through"] == "2026 R4"
    # the model beside the grid first: on a phone the metric (with its direction) stays pinned
    shown = next(d for d in at.dataframe if list(d.value.columns[:2]) == ["metric", "model"])
    recent = shown.value
    assert list(recent.columns) == ["metric", "model", "grid baseline", "form baseline", "model's 90% interval"]
    assert "Winner log loss ↓" in set(recent["metric"]) and "Winner picked ↑" in set(recent["metric"])
    assert json.loads(shown.proto.columns)["metric"]["pinned"]
    assert {"parameter", "value"} <= {c for cols in frames(at) for c in cols}

    tables = frames(open_tab(at, "Versions & history"))
    versions = tables[("version", "status")]
    assert list(versions["version"]) == ["v0001"] and versions["status"].iloc[0] == "★ champion"
    assert versions["champion"].iloc[0]
    assert list(tables[("at", "action")]["action"]) == ["promote"]

    # the explanation: the next race, its favourite first
    at = open_tab(at, "Why this prediction?")
    assert not at.exception and not at.error
    assert at.selectbox(key="models_explain_race").value == (2026, 5)
    explanation = frames(at)[("feature", "contribution")]
    assert {"value", "field_average", "description"} <= set(explanation.columns)
    assert explanation["contribution"].abs().is_monotonic_decreasing
    assert explanation["description"].str.len().gt(0).all()

    at = open_tab(at, "Retrain & roll back")
    assert not at.exception and not at.error
    assert "There is no other version" in texts(at.caption)  # one version: nothing to roll back to


def test_explaining_another_driver_and_a_past_race(with_model):
    at = open_tab(run_page("models.py", timeout=180), "Why this prediction?")
    drivers = at.selectbox(key="models_explain_driver").options
    at.selectbox(key="models_explain_driver").select_index(len(drivers) - 1).run()
    assert not at.exception and not at.error
    at.selectbox(key="models_explain_race").set_value((2026, 4)).run()
    assert not at.exception and not at.error
    assert "After qualifying" in texts(at.caption)  # a race with results is explained with its real grid


def test_retrain_respects_the_admin_password(with_model, monkeypatch):
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")
    monkeypatch.setenv("F1_TRAIN_FROM", "2023")  # a small training set keeps the retrain quick (2024 leaves
    # the pre-qualifying model, trained from two seasons later, only the 4 races of 2026: too few)
    at = open_tab(run_page("models.py", timeout=180), "Retrain & roll back")
    assert not [b for b in at.button if b.key == "models_retrain"]
    at.text_input(key="admin_password_models_retrain").input("guess").run()
    assert "Wrong admin password" in texts(at.error)
    assert not [b for b in at.button if b.key == "models_retrain"]
    assert list(registry_index()["versions"]) == ["v0001"]

    at.text_input(key="admin_password_models_retrain").input("pit-wall-only").run()
    assert not at.error
    at.button(key="models_retrain").click().run(timeout=600)
    assert not at.exception and not at.error
    decision = texts(at.success) + texts(at.info)
    assert "Retrain finished" in decision and "v0002" in decision
    assert "log loss" in decision  # the reasons
    index = registry_index()
    assert set(index["versions"]) == {"v0001", "v0002"}
    assert index["history"][-1]["version"] == "v0002"
    versions = frames(open_tab(at, "Versions & history"))[("version", "status")]
    assert list(versions["version"]) == ["v0002", "v0001"]


def test_rollback_to_an_earlier_version(with_model, monkeypatch):
    import os

    models = Path(os.environ["F1_MODELS"])
    # a second version: a copy of the first, registered as a retired former champion
    shutil.copytree(models / "v0001", models / "v0002")
    index = registry_index()
    index["versions"]["v0002"] = {**index["versions"]["v0001"], "version": "v0002", "status": "champion"}
    index["versions"]["v0001"]["status"] = "retired"
    index["champion"] = "v0002"
    index["history"].append({"at": "2026-05-09T10:00:00+00:00", "action": "promote", "version": "v0002",
                             "from": "v0001", "reason": "test"})
    (models / "registry.json").write_text(json.dumps(index))
    monkeypatch.setenv("F1_ADMIN_PASSWORD", "pit-wall-only")

    at = open_tab(run_page("models.py", timeout=180), "Retrain & roll back")
    assert not at.exception
    assert not [b for b in at.button if b.key == "models_rollback_button"]
    at.text_input(key="admin_password_models_rollback").input("pit-wall-only").run()
    assert at.selectbox(key="models_rollback_version").options == ["v0001 · retired (former champion) · trained "
                                                                   "through 2026 R4 Miami Grand Prix"]
    at.button(key="models_rollback_button").click().run()
    assert not at.exception and not at.error
    assert "Rolled back: v0001 is the champion again" in texts(at.success)
    index = registry_index()
    assert index["champion"] == "v0001" and index["history"][-1]["action"] == "rollback"
    history = frames(open_tab(at, "Versions & history"))[("at", "action")]
    assert history["action"].iloc[0] == "rollback"


def test_a_newer_pending_model_is_a_switch_forward_not_a_roll_back(with_model, monkeypatch):
    from pages._resources import get_engine
    from tests.engine.conftest import FAST

    engine = get_engine()
    monkeypatch.setattr(engine, "config", FAST)  # the champion's set-up: the same data gives the same model
    engine.lifecycle.retrain()  # no new races and no gain: the challenger v0002 is kept pending
    at = open_tab(run_page("models.py", timeout=180), "Retrain & roll back")
    assert not at.exception
    assert at.selectbox(key="models_rollback_version").value == "v0002"
    assert at.button(key="models_rollback_button").label == "Switch forward to v0002"


def test_a_champion_behind_the_grid_baseline_is_said_so(with_model):
    import json as _json

    index_path = models_dir() / "registry.json"
    index = _json.loads(index_path.read_text())
    meta = index["versions"][index["champion"]]
    meta["metrics"] = {"recent": {**meta["metrics"]["recent"], "winner_logloss": 1.5},
                       "recent_baselines": {"grid": {"winner_logloss": 1.1}}}
    index_path.write_text(_json.dumps(index))
    at = run_page("models.py", timeout=180)
    assert not at.exception
    assert "The champion is behind its baseline lately" in texts(at.warning)
    assert "1.50 against 1.10" in texts(at.warning)

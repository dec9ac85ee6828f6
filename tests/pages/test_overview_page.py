"""The Overview page: the next race, its favourite, the model's honest accuracy and the last race."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

from f1core.store import Store
from tests.conftest import REPO
from tests.pages.conftest import PAGES, run_page, texts

# Runs the Overview in a new interpreter, as a freshly started server would, and reports what
# it drew and whether LightGBM got imported.
FRESH_PROCESS = """
import json, sys
from streamlit.testing.v1 import AppTest
at = AppTest.from_file(sys.argv[1], default_timeout=300).run()
print(json.dumps({"exceptions": [str(e.value) for e in at.exception], "errors": [str(e.value) for e in at.error],
                  "favourite": [s.value for s in at.subheader if s.value.startswith(":color[")],
                  "lightgbm": "lightgbm" in sys.modules}))
"""


def test_overview_shows_the_next_race_favourite_and_accuracy(with_model):
    at = run_page("overview.py", timeout=180)
    assert not at.exception
    assert not at.error
    assert [t.value for t in at.title] == ["Canadian Grand Prix"]
    markdown = texts(at.markdown)
    assert "Circuit Gilles Villeneuve" in markdown and "Montreal, Canada" in markdown
    assert "Sunday 24 May 2026, 16:00 local time (20:00 UTC)" in markdown
    captions = texts(at.caption)
    assert "Lights out in" in captions and "Favourite" in captions and "Chance to win" in captions
    # the favourite's name, in his team colour, and a chance to win beside the baseline
    favourite = next(s.value for s in at.subheader if s.value.startswith(":color["))
    assert favourite.split("]")[0].removeprefix(":color[") in {"Andrea Kimi Antonelli", "George Russell",
                                                                "Lando Norris", "Oscar Piastri"}
    assert any(s.value.endswith("%") for s in at.subheader)
    assert "baseline " in captions
    # before qualifying, said in plain words
    assert "Before qualifying." in markdown
    # the one accuracy line: walk-forward, beside the grid baseline, with its uncertainty
    line = next(m.value for m in at.markdown if "walk-forward" in m.value)
    assert "backtest 2026 (4 races, walk-forward)" in line
    assert "'pole sitter wins'" in line and "points uncertainty" in line
    assert "Model v" in line
    # two charts: win and podium chances of the top five
    assert len(at.get("plotly_chart")) == 2


def test_last_race_card_says_whether_the_model_called_it(with_model):
    at = run_page("overview.py", timeout=180)
    assert not at.exception
    markdown = texts(at.markdown)
    assert "**Last race: Miami Grand Prix**" in markdown
    assert "Won by **" in markdown
    assert "The model called it" in markdown or "The model missed it" in markdown
    # no prediction was published before Miami in this store: the backtest's is used, and said so
    assert "walk-forward backtest" in texts(at.caption)


def test_without_a_backtest_the_accuracy_line_says_so(with_model):
    store = Store(with_model)
    with store.transaction() as cur:
        for table in ("backtest_predictions", "backtest_race_metrics", "backtest_stage1", "backtest_runs"):
            cur.execute(f"DELETE FROM {table}")
    store.close()
    at = run_page("overview.py", timeout=180)
    assert not at.exception and not at.error
    assert "No backtest yet" in texts(at.markdown)
    assert "There is no out-of-sample prediction of this race yet" in texts(at.caption)


def test_without_a_model_the_page_offers_to_train_one(app_env, snapshot_db, monkeypatch):
    monkeypatch.setenv("F1_TODAY", "2026-05-10")
    app_env(snapshot_db)  # the models folder is empty
    at = run_page("overview.py", timeout=180)
    assert not at.exception
    assert [t.value for t in at.title] == ["Canadian Grand Prix"]  # the race is known without a model
    assert "There is no trained model yet" in texts(at.info)
    assert not at.get("plotly_chart")
    assert at.button(key="require_model_train")


def test_empty_store_shows_the_notice_only(app_env):
    app_env(None)
    at = run_page("overview.py")
    assert not at.exception
    assert "no race data yet" in texts(at.info).lower()
    assert [t.value for t in at.title] == ["F1 Predictions"]  # a title, and no race, chart or model notice
    assert not at.get("plotly_chart") and "model" not in texts(at.info).lower()


def test_a_restarted_server_draws_the_overview_without_loading_the_model(with_model):
    """The first server process keeps the champion's prediction of the coming races beside the
    store; the next one draws the Overview from it without importing LightGBM, which with
    scikit-learn and SciPy costs over a second of the cold start."""
    def fresh_process() -> dict:
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        done = subprocess.run([sys.executable, "-c", FRESH_PROCESS, str(PAGES / "overview.py")], env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout.strip().splitlines()[-1])

    first = fresh_process()
    assert not first["exceptions"] and not first["errors"] and first["lightgbm"]
    second = fresh_process()
    assert not second["exceptions"] and not second["errors"]
    assert not second["lightgbm"]
    assert second["favourite"] == first["favourite"] and len(first["favourite"]) == 1


def test_first_start_offline_says_so_in_plain_words(app_env):
    """No snapshot and no internet: a title, the reason in plain words (not an internal step name
    or a raw ConnectionError), how to start from a dump, and a button to try again."""
    from pages._resources import get_refresher

    app_env(None)
    get_refresher().run_once()  # what the app's first refresh does: the API (a closed port here) fails
    at = run_page("overview.py")
    assert not at.exception and [t.value for t in at.title] == ["F1 Predictions"]
    shown = texts(at.warning) + texts(at.markdown) + texts(at.info) + texts(at.caption)
    assert "No internet access to the F1 data service" in texts(at.warning)
    assert "F1_SNAPSHOT=path/to/ergast" in shown and "python -m f1core ingest --snapshot" in shown
    assert "jolpica-bootstrap" not in shown and "ConnectionError" not in shown and "Filling" not in shown
    assert at.button(key="empty_store_retry_button")
    # the other pages say it in one line and point here, instead of repeating the whole block
    other = run_page("accuracy.py")
    assert "The Overview says why" in texts(other.info) and not other.warning


def test_first_start_offline_with_a_dump_to_download_names_both_sources(app_env, monkeypatch):
    from pages._resources import get_refresher

    app_env(None)
    monkeypatch.setenv("F1_SNAPSHOT_URL", "http://127.0.0.1:9/releases/data.zip")
    get_refresher().run_once()  # the download fails, then the API bootstrap does
    at = run_page("overview.py")
    assert not at.exception
    assert ("could not reach the history dump (F1_SNAPSHOT_URL) or the Jolpica F1 API"
            in texts(at.warning)), texts(at.warning)


def test_why_the_favourite_and_not_the_runner_up_once_asked(with_model):
    at = run_page("overview.py", timeout=180)
    assert not at.exception
    why = [e for e in at.expander if e.label.startswith("Why ")]
    assert len(why) == 1
    favourite, runner_up = why[0].label.removeprefix("Why ").removesuffix("?").split(" rather than ")
    assert "When both finish" not in texts(at.markdown)  # closed: nothing computed
    at.session_state["overview_why"] = True  # as a click opens it
    at.run()
    assert not at.exception and not at.error
    markdown = texts(at.markdown)
    # (the favourite by win chance need not be the stronger when both finish: retirements count too)
    assert re.search(r"When both finish, the model has \*\*[^*]+\*\* ahead of \*\*[^*]+\*\* in \d+% of races", markdown)
    reasons = [line for line in markdown.splitlines() if line.startswith("- **")]
    assert len(reasons) == 5
    assert all(f": {favourite} " in line and f", {runner_up} " in line for line in reasons)
    assert all(re.search(rf"counts for ({favourite}|{runner_up}) \(weight \d\.\d\d\)$", line) for line in reasons)
    weights = [float(re.search(r"weight (\d\.\d\d)", line).group(1)) for line in reasons]
    assert weights == sorted(weights, reverse=True)
    # before qualifying, the starting slot it weighs is the qualifying model's prediction
    assert not any(line.startswith("- **Starting slot**") for line in reasons)

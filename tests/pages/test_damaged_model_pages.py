"""The Models page, the Overview and the What-if page with a champion whose model file cannot be
loaded, and a rollback into a full models folder: the pages carry on with the version that loads,
say so in plain words, and keep rollback and retraining reachable."""
from __future__ import annotations

import shutil

import pytest

from tests.engine.test_model_faults import CORRUPTIONS, add_copy_as_champion
from tests.pages.conftest import buttons, models_dir, open_tab, run_page, shown
from tests.test_store import _mount_tmpfs, _umount, fill

# -- a champion whose model file cannot be loaded (item 6) -------------------------------------------

@pytest.fixture
def damaged_champion(with_model):
    """The trained snapshot with v0002 (a copy of v0001) as champion, its file cut short."""
    add_copy_as_champion(models_dir())
    CORRUPTIONS["truncated"](models_dir() / "v0002" / "model.pkl")
    return with_model


def test_models_page_says_which_model_is_served_and_keeps_rollback_and_retrain(damaged_champion):
    at = run_page("models.py", timeout=180)
    assert not at.exception
    warning = shown(at.warning)
    assert "The champion model v0002 cannot be loaded, so predictions come from v0001" in warning
    assert "cannot be read" in warning
    assert {m.label: m.value for m in at.metric}["Champion"] == "v0001"  # the model actually serving

    versions = next(d.value for d in open_tab(at, "Versions & history").dataframe if "artifact" in d.value.columns)
    assert versions.set_index("version").loc["v0002", "artifact"] == "damaged (cannot be loaded)"

    at = open_tab(at, "Retrain & roll back")
    assert not at.exception
    assert buttons(at, "models_retrain"), "retraining stays possible"
    assert at.selectbox(key="models_rollback_version").options == [
        "v0001 · retired (former champion) · trained through 2026 R4 Miami Grand Prix"]  # never the damaged one
    at.button(key="models_rollback_button").click().run()
    assert not at.exception and not at.error
    assert "Rolled back: v0001 is the champion again" in shown(at.success)
    assert "cannot be loaded" not in shown(at.warning), "the champion loads again: no damage notice"


def test_models_page_without_any_model_that_loads_still_offers_retraining(with_model):
    CORRUPTIONS["random bytes"](models_dir() / "v0001" / "model.pkl")
    at = run_page("models.py", timeout=180)
    assert not at.exception
    assert "No model can be loaded" in shown(at.error)
    assert "No model can be loaded right now" in shown(at.info)
    at = open_tab(at, "Retrain & roll back")
    assert not at.exception
    assert buttons(at, "models_retrain")
    assert "There is no other version whose model file loads" in shown(at.caption)


@pytest.mark.parametrize("page", ["overview.py", "what_if.py"])
def test_prediction_pages_carry_on_with_the_version_that_loads(damaged_champion, page):
    at = run_page(page, timeout=180)
    assert not at.exception and not at.error
    if page == "overview.py":
        assert "The champion model v0002 cannot be loaded, so predictions come from v0001" in shown(at.warning)


# -- a full models folder (item 7) ------------------------------------------------------------------

def test_a_rollback_on_a_full_models_folder_says_so_and_changes_nothing(with_model, monkeypatch, tmp_path):
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_tmpfs(disk, "4m")
    try:
        models = disk / "models"
        shutil.copytree(models_dir(), models)
        add_copy_as_champion(models)
        monkeypatch.setenv("F1_MODELS", str(models))
        index_before = (models / "registry.json").read_bytes()
        at = open_tab(run_page("models.py", timeout=180), "Retrain & roll back")
        fill(disk)
        at.button(key="models_rollback_button").click().run()
        assert not at.exception
        error = shown(at.error)
        assert f"the models folder {models} is full: free space" in error and "Nothing was changed" in error
        assert (models / "registry.json").read_bytes() == index_before
        assert not [p for p in disk.rglob("*.tmp")]
    finally:
        _umount(disk)

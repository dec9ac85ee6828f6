"""Models under faults: a champion whose artifact cannot be loaded (cut short, random bytes, a
pickle of something else) and a models folder with no room. What is served, what rollback offers,
that the upkeep carries on, and that a failed write changes nothing and leaves no file behind."""
from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import shutil
from pathlib import Path

import pandas as pd
import pytest

from f1core.engine.registry import ModelsFolderFull, Registry, RegistryError
from f1core.engine.service import Engine, NoModel
from f1core.engine.training import PRE
from f1core.store import Store
from tests.engine.conftest import FAST, TODAY
from tests.test_store import _mount_tmpfs, _umount, fill

CORRUPTIONS = {
    "truncated": lambda path: path.write_bytes(path.read_bytes()[: path.stat().st_size // 2]),
    "random bytes": lambda path: path.write_bytes(os.urandom(4096)),
    "wrong pickle": lambda path: path.write_bytes(pickle.dumps({"not": "a model"})),
}


def add_copy_as_champion(models: Path, new: str = "v0002") -> str:
    """Register a copy of the champion as version `new`, the champion now (the old one retired);
    returns the old champion's version."""
    index = json.loads((models / "registry.json").read_text())
    old = index["champion"]
    shutil.copytree(models / old, models / new)
    index["versions"][new] = {**index["versions"][old], "version": new, "status": "champion"}
    index["versions"][old]["status"] = "retired"
    index["champion"] = new
    # promoted just now, so the upkeep sees no reason of its own to retrain
    index["history"].append({"at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                             "action": "promote", "version": new, "from": old, "reason": "test"})
    (models / "registry.json").write_text(json.dumps(index))
    return old


def private_engine(engine_paths, trained_engine, tmp_path: Path, models: Path | None = None) -> Engine:
    """An engine over copies of the trained store and models (and the feature cache beside the
    store, so no test builds the features again)."""
    db, _ = engine_paths
    cache = db.parent / ".feature-cache"
    if cache.is_dir():
        shutil.copytree(cache, tmp_path / ".feature-cache")
    models = models or tmp_path / "models"
    if not models.exists():
        shutil.copytree(trained_engine.registry.root, models)
    return Engine(Store(shutil.copy(db, tmp_path / "f1.duckdb")), models, FAST, today=TODAY)


@pytest.fixture
def two_versions(engine_paths, trained_engine, tmp_path) -> Engine:
    """An engine whose registry holds v0001 (retired) and v0002 (the champion, the same model)."""
    engine = private_engine(engine_paths, trained_engine, tmp_path)
    assert add_copy_as_champion(engine.registry.root) == "v0001"
    yield engine
    engine.store.close()


def no_heavy_upkeep(engine: Engine, monkeypatch) -> None:
    """Leave out the upkeep's season replay and backtest (minutes, and beside the point here)."""
    monkeypatch.setattr(engine.lifecycle, "freeze_season_odds", lambda progress=None: None)
    monkeypatch.setattr(engine.lifecycle, "run_backtest", lambda *a, **k: (0, {"races": 0}))
    monkeypatch.setattr(engine.lifecycle, "run_season_backtest", lambda *a, **k: (0, pd.DataFrame()))


@pytest.mark.parametrize("damage", list(CORRUPTIONS))
def test_a_damaged_champion_is_served_by_the_newest_version_that_loads(two_versions, damage):
    engine = two_versions
    CORRUPTIONS[damage](engine.registry.root / "v0002" / "model.pkl")
    assert engine.champion().version == "v0001"
    champion, served, reason = engine.fallback
    assert (champion, served) == ("v0002", "v0001")
    assert "model v0002: artifact" in reason and "cannot be read" in reason
    assert engine.fallback_now() == engine.fallback
    assert engine.predict_race(2026, 5).model_version == "v0001"
    # rollback offers, and accepts, only versions that load
    assert engine.registry.problem("v0002") and engine.registry.problem("v0001") is None
    assert engine.registry.loadable_versions() == ["v0001"]
    with pytest.raises(RegistryError, match="v0002: its artifact .* cannot be read .*cannot be rolled back to"):
        engine.lifecycle.rollback("v0002")
    assert engine.lifecycle.rollback("v0001") == "v0001"
    assert engine.champion().version == "v0001" and engine.fallback is None and engine.fallback_now() is None


def test_without_any_version_that_loads_the_engine_has_no_model_and_says_why(two_versions):
    engine = two_versions
    for version in ("v0001", "v0002"):
        CORRUPTIONS["truncated"](engine.registry.root / version / "model.pkl")
    assert engine.champion() is None
    assert engine.fallback[:2] == ("v0002", None)
    with pytest.raises(NoModel, match="no model can be loaded: the champion v0002 is unusable .* Retrain"):
        engine.predict_race(2026, 5)
    assert engine.registry.loadable_versions() == []


def test_a_damaged_champion_is_not_unpickled_again_on_every_call_and_a_repaired_one_is_served(two_versions,
                                                                                             monkeypatch):
    engine = two_versions
    artifact = engine.registry.root / "v0002" / "model.pkl"
    good = artifact.read_bytes()
    CORRUPTIONS["random bytes"](artifact)
    assert engine.champion().version == "v0001"
    loads = []
    real_load = Registry.load
    monkeypatch.setattr(Registry, "load", lambda self, v: loads.append(v) or real_load(self, v))
    for _ in range(3):
        assert engine.champion().version == "v0001"
    assert loads == [], "the same damaged file: the fallback found before is served"
    artifact.write_bytes(good)  # repaired (a new modification time)
    os.utime(artifact, ns=(artifact.stat().st_atime_ns, artifact.stat().st_mtime_ns + 10**9))
    assert engine.champion().version == "v0001"  # the copy's bundle calls itself v0001
    assert engine.fallback is None and loads == ["v0002"]


def test_the_upkeep_carries_on_past_a_damaged_champion(two_versions, monkeypatch):
    engine = two_versions
    no_heavy_upkeep(engine, monkeypatch)
    CORRUPTIONS["wrong pickle"](engine.registry.root / "v0002" / "model.pkl")
    assert isinstance(engine.lifecycle.retrain_triggers(), list)
    engine.lifecycle.upkeep()  # serves and freezes v0001's predictions meanwhile
    assert engine.records.last_logged(2026, 5, PRE, "v0001") is not None

    CORRUPTIONS["truncated"](engine.registry.root / "v0001" / "model.pkl")  # now nothing loads...
    engine = Engine(engine.store, engine.registry.root, FAST, today=TODAY)  # ...for a restarted server
    no_heavy_upkeep(engine, monkeypatch)
    assert [kind for kind, _ in engine.lifecycle.retrain_triggers()] == ["no-model"]
    done = engine.lifecycle.upkeep()
    assert any(line.startswith("retrained") for line in done), done
    assert engine.registry.champion_version() == "v0003"
    assert engine.champion().version == "v0003" and engine.fallback is None


# -- a full models folder ---------------------------------------------------------------------------

@pytest.fixture
def full_models_disk(engine_paths, trained_engine, tmp_path):
    """A 4 MB tmpfs holding a copy of the trained models folder with a second version, then filled
    to the last byte: (registry, models folder, disk)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    _mount_tmpfs(disk, "4m")
    try:
        models = disk / "models"
        shutil.copytree(trained_engine.registry.root, models)
        add_copy_as_champion(models)
        filler = fill(disk)
        yield Registry(models), models, disk, filler
    finally:
        _umount(disk)


def leftovers(disk: Path) -> list[str]:
    return sorted(str(p.relative_to(disk)) for p in disk.rglob("*") if p.name.endswith(".tmp"))


def test_a_model_saved_on_a_full_disk_changes_nothing_and_leaves_no_file(full_models_disk):
    registry, models, disk, filler = full_models_disk
    index_before = (models / "registry.json").read_bytes()
    bundle = registry.load("v0001")
    bundle.version = "v0003"
    with pytest.raises(ModelsFolderFull) as err:
        registry.save(bundle)
    message = str(err.value)
    assert f"the models folder {models} is full: free space" in message
    assert "Nothing was changed" in message and "saving model v0003 did not happen" in message
    assert not (models / "v0003").exists(), "the half-saved version is removed"
    assert leftovers(disk) == []
    assert (models / "registry.json").read_bytes() == index_before

    for action in (lambda: registry.promote("v0001", "test"), lambda: registry.keep_pending("v0002", "test"),
                   lambda: registry.rollback("v0001")):
        with pytest.raises(ModelsFolderFull, match="is full: free space .* Nothing was changed"):
            action()
        assert (models / "registry.json").read_bytes() == index_before
        assert leftovers(disk) == []

    filler.unlink()  # room again: the same save works
    registry.save(bundle)
    assert registry.load("v0003").version == "v0003"


def test_the_command_line_says_the_models_folder_is_full(full_models_disk, engine_paths, monkeypatch, capsys,
                                                         tmp_path):
    from f1core.cli import main

    registry, models, disk, _ = full_models_disk
    index_before = (models / "registry.json").read_bytes()
    db = shutil.copy(engine_paths[0], tmp_path / "cli.duckdb")
    monkeypatch.setenv("F1_MODELS", str(models))
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml
    assert main(["--db", str(db), "rollback", "v0001"]) == 2
    err = capsys.readouterr().err
    assert f"error: the models folder {models} is full: free space" in err and "Nothing was changed" in err
    assert "Traceback" not in err
    assert (models / "registry.json").read_bytes() == index_before and leftovers(disk) == []


def test_the_title_odds_follow_the_model_served(two_versions):
    """Made while v0001 stood in for a damaged champion, the season outlook is not kept for the
    champion: once its file is whole again, the outlook is the champion's."""
    engine = two_versions
    artifact = engine.registry.root / "v0002" / "model.pkl"
    whole = artifact.read_bytes()
    CORRUPTIONS["truncated"](artifact)
    standing_in = engine.season_outlook(2026)
    assert engine.fallback[:2] == ("v0002", "v0001") and engine.season_outlook(2026) is standing_in
    artifact.write_bytes(whole)
    assert engine.champion() is not None and engine.fallback is None  # the champion loads again
    assert engine.season_outlook(2026) is not standing_in  # made anew, by the champion

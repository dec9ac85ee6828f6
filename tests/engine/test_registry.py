"""Model versions on disk: metadata, and artifacts written by earlier code keep loading."""


import pytest

from f1core.engine.service import Engine
from f1core.engine.training import POST
from tests.conftest import REPO
from tests.engine.conftest import FAST, TODAY


def test_registry_records_the_champion_with_its_metadata(trained_engine):
    versions = trained_engine.registry.versions()
    champion = versions[versions["champion"]].iloc[0]
    meta = trained_engine.registry.index()["versions"][champion["version"]]
    assert meta["training_window"]["last_race_label"] == "2026 R4 Miami Grand Prix"
    assert meta["features"]["stage2"] and meta["parameters"]["stage2_from"] == FAST.stage2_from
    assert meta["metrics"]["recent"]["races"] == 12 and len(meta["data_fingerprint"]) == 12


def test_an_artifact_written_before_the_engine_split_still_loads_and_predicts(trained_engine, tmp_path):
    """Pickled artifacts name their classes by module path; the split of the engine's modules must
    keep every path an artifact on disk refers to (fixture written by the code at 85a2993)."""
    import json
    import lzma

    from f1core.engine.models import QualifyingModel, RaceModel
    from f1core.engine.registry import ModelBundle, Registry

    fixture = REPO / "tests" / "fixtures" / "artifact-85a2993"
    folder = tmp_path / "models" / "v0001"
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(lzma.decompress((fixture / "model.pkl.xz").read_bytes()))
    meta = json.loads((fixture / "meta.json").read_text())
    (tmp_path / "models" / "registry.json").write_text(json.dumps(
        {"champion": "v0001", "versions": {"v0001": {**meta, "status": "champion"}}, "history": []}))
    bundle = Registry(tmp_path / "models").load("v0001")
    assert isinstance(bundle, ModelBundle) and bundle.version == "v0001"
    assert isinstance(bundle.stage1, QualifyingModel) and isinstance(bundle.race_models[POST], RaceModel)
    engine = Engine(trained_engine.store, tmp_path / "models", FAST, today=TODAY)
    table = engine.predict_race(2026, 5).table
    assert table["p_win"].sum() == pytest.approx(1) and engine.predict_race(2026, 5).model_version == "v0001"

"""Model versions on disk: artifacts under `models/vNNNN/`, an index in `models/registry.json`.

A version carries its training window, data fingerprint, feature lists, parameters and metrics.
One version is the champion (served); others are challengers waiting for a decision, pending
(not promoted), or retired (former champions, kept for rollback). Writes go through a temporary
file and a rename so a crash never leaves a half-written index or artifact.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from f1core.engine.models import QualifyingModel, RaceModel
from f1core.engine.training import TrainingConfig
from f1core.files import atomic_pickle, atomic_write, read_pickle

ARTIFACT = "model.pkl"
INDEX = "registry.json"


class RegistryError(RuntimeError):
    """The model folder is unusable, or a version is missing or unreadable."""


@dataclass
class ModelBundle:
    """Everything needed to serve both stages, plus what the registry shows about it."""

    version: str
    created_at: str
    config: TrainingConfig
    stage1: QualifyingModel
    race_models: dict[str, RaceModel]  # by mode
    baseline_tables: dict[str, list]  # finishing-position frequencies by grid / form rank
    dnf_rate: float
    training_window: dict  # first_season, last_race (season, round, name, date), races, rows
    data_fingerprint: str
    features: dict[str, list[str]]
    metrics: dict = field(default_factory=dict)
    status: str = "challenger"
    notes: str = ""

    def meta(self) -> dict:
        return {
            "version": self.version, "created_at": self.created_at, "status": self.status,
            "training_window": self.training_window, "data_fingerprint": self.data_fingerprint,
            "features": self.features, "parameters": self.config.as_dict(), "metrics": self.metrics,
            "notes": self.notes,
        }


class Registry:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._lock = threading.RLock()

    # -- index ------------------------------------------------------------------------------------
    def _index_path(self) -> Path:
        return self.root / INDEX

    def index(self) -> dict:
        path = self._index_path()
        if not path.exists():
            return {"champion": None, "versions": {}, "history": []}
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise RegistryError(f"{path}: the model registry index is unreadable ({exc}); "
                                "delete it and retrain to start afresh") from exc

    def _save_index(self, index: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write(self._index_path(), json.dumps(index, indent=2, default=str).encode())

    def versions(self) -> pd.DataFrame:
        idx = self.index()
        rows = []
        for version, meta in idx["versions"].items():
            window = meta.get("training_window", {})
            m = meta.get("metrics", {}).get("recent", {})
            grid = meta.get("metrics", {}).get("recent_baselines", {}).get("grid", {})
            rows.append({
                "version": version, "status": meta.get("status"), "created_at": meta.get("created_at"),
                "trained_through": window.get("last_race_label"), "first_season": window.get("first_season"),
                "races": window.get("races"), "fingerprint": meta.get("data_fingerprint"),
                "recent_logloss": m.get("winner_logloss"), "recent_top1": m.get("winner_top1"),
                "recent_spearman": m.get("spearman"), "recent_races": m.get("races"),
                "grid_recent_logloss": grid.get("winner_logloss"), "grid_recent_top1": grid.get("winner_top1"),
                "champion": version == idx.get("champion"),
            })
        return pd.DataFrame(rows).sort_values("version", ascending=False) if rows else pd.DataFrame(
            columns=["version", "status", "created_at", "trained_through", "champion"])

    def champion_version(self) -> str | None:
        return self.index().get("champion")

    def next_version(self) -> str:
        existing = [int(v[1:]) for v in self.index()["versions"] if v[1:].isdigit()]
        return f"v{(max(existing) + 1) if existing else 1:04d}"

    # -- artifacts --------------------------------------------------------------------------------
    def save(self, bundle: ModelBundle) -> None:
        with self._lock:
            folder = self.root / bundle.version
            folder.mkdir(parents=True, exist_ok=True)
            atomic_pickle(folder / ARTIFACT, bundle)
            atomic_write(folder / "meta.json", json.dumps(bundle.meta(), indent=2, default=str).encode())
            index = self.index()
            index["versions"][bundle.version] = bundle.meta()
            self._save_index(index)

    def load(self, version: str) -> ModelBundle:
        path = self.root / version / ARTIFACT
        if not path.exists():
            raise RegistryError(f"model {version}: artifact {path} is missing")
        try:
            bundle = read_pickle(path)
        except Exception as exc:  # a truncated or foreign file: say which, never serve half a model
            raise RegistryError(f"model {version}: artifact {path} cannot be read ({exc})") from exc
        bundle.status = self.index()["versions"].get(version, {}).get("status", bundle.status)
        return bundle

    def load_champion(self) -> ModelBundle | None:
        version = self.champion_version()
        return self.load(version) if version else None

    # -- lifecycle --------------------------------------------------------------------------------
    def _set_status(self, index: dict, version: str, status: str) -> None:
        index["versions"][version]["status"] = status
        meta_path = self.root / version / "meta.json"
        if meta_path.exists():
            meta = json.loads(meta_path.read_text())
            meta["status"] = status
            atomic_write(meta_path, json.dumps(meta, indent=2, default=str).encode())

    def promote(self, version: str, reason: str) -> None:
        with self._lock:
            index = self.index()
            if version not in index["versions"]:
                raise RegistryError(f"no model version {version}")
            old = index.get("champion")
            if old and old != version and old in index["versions"]:
                self._set_status(index, old, "retired")
            self._set_status(index, version, "champion")
            index["champion"] = version
            index["history"].append({"at": _now(), "action": "promote", "version": version, "from": old,
                                     "reason": reason})
            self._save_index(index)

    def keep_pending(self, version: str, reason: str) -> None:
        with self._lock:
            index = self.index()
            self._set_status(index, version, "pending")
            index["history"].append({"at": _now(), "action": "keep pending", "version": version, "reason": reason})
            self._save_index(index)

    def rollback(self, to_version: str | None = None) -> str:
        """Make an earlier version champion again: the given one, or the champion before this one."""
        with self._lock:
            index = self.index()
            current = index.get("champion")
            if to_version is None:
                earlier = [h["from"] for h in reversed(index["history"])
                           if h["action"] == "promote" and h["version"] == current and h.get("from")]
                if not earlier:
                    raise RegistryError("there is no earlier champion to roll back to")
                to_version = earlier[0]
            if to_version not in index["versions"]:
                raise RegistryError(f"no model version {to_version}")
            if not (self.root / to_version / ARTIFACT).exists():
                raise RegistryError(f"model {to_version}: its artifact is missing, cannot roll back to it")
            if current and current in index["versions"]:
                self._set_status(index, current, "retired")
            self._set_status(index, to_version, "champion")
            index["champion"] = to_version
            index["history"].append({"at": _now(), "action": "rollback", "version": to_version, "from": current,
                                     "reason": "manual rollback"})
            self._save_index(index)
            return to_version

    def history(self) -> list[dict]:
        return list(self.index().get("history", []))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")

"""Model versions on disk: artifacts under `models/vNNNN/`, an index in `models/registry.json`.

A version carries its training window, data fingerprint, feature lists, parameters and metrics.
One version is the champion (served); others are challengers waiting for a decision, pending
(not promoted), or retired (former champions, kept for rollback). Writes go through a temporary
file and a rename so a crash never leaves a half-written index or artifact, and a write that fails
(a full disk) changes nothing: a half-saved version is removed again.

The index records each artifact's SHA-256, checked before the file is unpickled: a truncated,
overwritten or foreign file is refused with a plain reason instead of being loaded, and the
versions offered for serving or rollback are only those whose file is the one saved.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import pickle
import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from f1core.engine.models import QualifyingModel, RaceModel
from f1core.engine.training import TrainingConfig
from f1core.files import atomic_write, is_disk_full, read_pickle, sha256_of

log = logging.getLogger(__name__)

ARTIFACT = "model.pkl"
INDEX = "registry.json"
ARTIFACT_HASH = "artifact_sha256"  # in each version's index entry (versions saved before it have none)
ARTIFACT_BYTES = "artifact_bytes"
_PICKLE_STOP = b"."  # the last byte of every pickle: a file cut short almost never ends with it


class RegistryError(RuntimeError):
    """The model folder is unusable, or a version is missing or unreadable."""


class ModelsFolderFull(RegistryError):
    """The disk under the models folder has no room: the write was undone, nothing changed."""


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
        # versions saved without a recorded hash: (file stamp, problem or None) of a trial load, so
        # listing the rollback candidates unpickles each such file once, not on every page run
        self._trials: dict[str, tuple[tuple[int, int, int], str | None]] = {}

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

    def _write_failed(self, exc: OSError, what: str) -> RegistryError:
        """The plain-words error for a write into the models folder that failed and was undone."""
        if is_disk_full(exc):
            return ModelsFolderFull(
                f"the models folder {self.root} is full: free space on its disk (or point F1_MODELS at a "
                f"folder with room) and try again. Nothing was changed: {what} did not happen, and the "
                "models and the champion are as they were")
        return RegistryError(
            f"the models folder {self.root} could not be written ({exc.strerror or exc}): check that it "
            f"exists, is writable and has room, then try again. Nothing was changed: {what} did not happen, "
            "and the models and the champion are as they were")

    def _commit(self, index: dict, statuses: dict[str, str], what: str) -> None:
        """Save `index` (the one source of truth; atomic, so a failure leaves the old one), then
        copy the changed statuses into the versions' meta.json files, which are only a record
        beside each artifact: one that cannot be updated is logged, not fatal."""
        try:
            self._save_index(index)
        except OSError as exc:
            raise self._write_failed(exc, what) from exc
        for version, status in statuses.items():
            meta_path = self.root / version / "meta.json"
            try:
                if meta_path.exists():
                    meta = json.loads(meta_path.read_text())
                    meta["status"] = status
                    atomic_write(meta_path, json.dumps(meta, indent=2, default=str).encode())
            except (OSError, ValueError) as exc:
                log.warning("%s: status %s not copied into it (%s); the index has it", meta_path, status, exc)

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
        """Write the artifact, its meta.json and its index entry; whole or not at all (a version
        half-saved on a full disk is removed again, and a `ModelsFolderFull` says so)."""
        with self._lock:
            folder = self.root / bundle.version
            data = pickle.dumps(bundle, protocol=pickle.HIGHEST_PROTOCOL)
            meta = {**bundle.meta(), ARTIFACT_HASH: _sha256(data), ARTIFACT_BYTES: len(data)}
            created = not folder.exists()
            try:
                folder.mkdir(parents=True, exist_ok=True)
                atomic_write(folder / ARTIFACT, data)
                atomic_write(folder / "meta.json", json.dumps(meta, indent=2, default=str).encode())
                index = self.index()
                index["versions"][bundle.version] = meta
                self._save_index(index)
            except OSError as exc:
                if created:  # the index never named it: no trace of the version is left
                    shutil.rmtree(folder, ignore_errors=True)
                raise self._write_failed(exc, f"saving model {bundle.version}") from exc

    def load(self, version: str) -> ModelBundle:
        """The version's bundle, or a RegistryError saying in plain words why it cannot be served
        (missing, not the file that was saved, cut short, not a model)."""
        path = self.root / version / ARTIFACT
        if not path.exists():
            raise RegistryError(f"model {version}: artifact {path} is missing")
        meta = self.index()["versions"].get(version, {})
        damage = self._hash_problem(path, meta)
        if damage:  # never unpickle a file that is not the one saved: it may not even be ours
            raise RegistryError(f"model {version}: artifact {path} cannot be read ({damage})")
        try:
            bundle = read_pickle(path)
        except Exception as exc:  # a truncated or foreign file: say which, never serve half a model
            raise RegistryError(f"model {version}: artifact {path} cannot be read ({exc})") from exc
        if not isinstance(bundle, ModelBundle):
            raise RegistryError(f"model {version}: artifact {path} cannot be read (it holds a "
                                f"{type(bundle).__name__}, not a model)")
        bundle.status = meta.get("status", bundle.status)
        return bundle

    @staticmethod
    def _hash_problem(path: Path, meta: dict) -> str | None:
        expected = meta.get(ARTIFACT_HASH)
        if not expected:
            return None
        try:
            size = path.stat().st_size
            if meta.get(ARTIFACT_BYTES) is not None and size != meta[ARTIFACT_BYTES]:
                return f"it is damaged: {size:,} bytes where {int(meta[ARTIFACT_BYTES]):,} were saved"
            if sha256_of(path) != expected:
                return "it is damaged: its contents are not those saved with this version"
        except OSError as exc:
            return exc.strerror or str(exc)
        return None

    def problem(self, version: str, thorough: bool = True) -> str | None:
        """Why `version` cannot be served, in plain words, or None when its artifact loads. A
        version saved with a hash is checked against it (a few ms); an older one is loaded once
        per file (`thorough`) or only checked for a pickle's first and last byte (not thorough)."""
        path = self.root / version / ARTIFACT
        meta = self.index()["versions"].get(version)
        if meta is None:
            return f"there is no model version {version}"
        try:
            stat = path.stat()
        except FileNotFoundError:
            return f"its artifact {path} is missing"
        except OSError as exc:
            return f"its artifact {path} cannot be read ({exc.strerror or exc})"
        if meta.get(ARTIFACT_HASH):
            damage = self._hash_problem(path, meta)
            return f"its artifact {path} cannot be read ({damage})" if damage else None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        known = self._trials.get(version)
        if known is not None and known[0] == stamp:
            return known[1]
        if not thorough:
            try:
                with open(path, "rb") as fh:
                    head = fh.read(1)
                    fh.seek(max(stat.st_size - 1, 0))
                    tail = fh.read(1)
            except OSError as exc:
                return f"its artifact {path} cannot be read ({exc.strerror or exc})"
            return None if head == b"\x80" and tail == _PICKLE_STOP else \
                f"its artifact {path} cannot be read (it is not a complete model file)"
        try:
            self.load(version)
            found = None
        except RegistryError as exc:
            found = str(exc).split(": ", 1)[-1]
        self._trials[version] = (stamp, found)
        return found

    def loadable_versions(self, exclude: tuple[str, ...] = ()) -> list[str]:
        """Every version whose artifact loads (`problem` is None), newest first."""
        return [v for v in sorted(self.index().get("versions", {}), reverse=True)
                if v not in exclude and self.problem(v) is None]

    def load_champion(self) -> ModelBundle | None:
        version = self.champion_version()
        return self.load(version) if version else None

    # -- lifecycle --------------------------------------------------------------------------------
    @staticmethod
    def _set_status(index: dict, version: str, status: str, changed: dict[str, str]) -> None:
        index["versions"][version]["status"] = status
        changed[version] = status

    def promote(self, version: str, reason: str) -> None:
        with self._lock:
            index = self.index()
            if version not in index["versions"]:
                raise RegistryError(f"no model version {version}")
            old = index.get("champion")
            changed: dict[str, str] = {}
            if old and old != version and old in index["versions"]:
                self._set_status(index, old, "retired", changed)
            self._set_status(index, version, "champion", changed)
            index["champion"] = version
            index["history"].append({"at": _now(), "action": "promote", "version": version, "from": old,
                                     "reason": reason})
            self._commit(index, changed, f"promoting model {version}")

    def keep_pending(self, version: str, reason: str) -> None:
        with self._lock:
            index = self.index()
            changed: dict[str, str] = {}
            self._set_status(index, version, "pending", changed)
            index["history"].append({"at": _now(), "action": "keep pending", "version": version, "reason": reason})
            self._commit(index, changed, f"recording model {version} as pending")

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
            unusable = self.problem(to_version)
            if unusable:  # serving it would fall back at once: refuse, and say why
                raise RegistryError(f"model {to_version}: {unusable}, so it cannot be rolled back to")
            changed: dict[str, str] = {}
            if current and current in index["versions"] and current != to_version:
                self._set_status(index, current, "retired", changed)
            self._set_status(index, to_version, "champion", changed)
            index["champion"] = to_version
            index["history"].append({"at": _now(), "action": "rollback", "version": to_version, "from": current,
                                     "reason": "manual rollback"})
            self._commit(index, changed, f"rolling back to model {to_version}")
            return to_version

    def history(self) -> list[dict]:
        return list(self.index().get("history", []))


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

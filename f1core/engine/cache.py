"""What the engine keeps between calls and between restarts.

In memory, per data version: the feature frame, its reference pole times, the names of drivers
and teams, and the races looked up. On disk beside the store (`.feature-cache/`): the feature
frame and the champion's prediction of each coming race, each keyed by everything it is made
from (the data, the code, and for predictions the champion's artifact), so a restarted server
shows the Overview without building features or loading LightGBM, and a stale file is never read.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from f1core.engine import baselines as baselines_module
from f1core.engine import features as features_module
from f1core.engine import models as models_module
from f1core.engine import predict as predict_module
from f1core.engine import rating_filter as rating_filter_module
from f1core.engine import reference as reference_module
from f1core.engine import scenario as scenario_module
from f1core.engine import season as season_module
from f1core.engine import sprint as sprint_module
from f1core.engine import training as training_module
from f1core.files import atomic_pickle, code_hash, read_pickle

log = logging.getLogger(__name__)


FEATURES_CODE = code_hash(features_module, rating_filter_module)
# everything a kept prediction was computed by: the race's and the sprint's (whose retirement rate
# comes from `season`), with the baselines beside them
PREDICTION_CODE = code_hash(features_module, rating_filter_module, models_module, predict_module, reference_module,
                            scenario_module, training_module, baselines_module, sprint_module, season_module)


@dataclass
class MemoryCache:
    """The engine's in-memory state for one data version."""
    version: int = -1
    frame: pd.DataFrame | None = None
    ref_pole: pd.Series | None = None
    names: tuple[pd.DataFrame, pd.DataFrame] | None = None
    races: dict = field(default_factory=dict)


class DiskCache:
    """Pickled objects in one folder, each written whole or not at all. Unreadable or missing
    files read as None (the caller computes again); a disk that refuses writes only costs the
    computation next time."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)

    def path(self, name: str) -> Path:
        return self.folder / name

    def read(self, name: str):
        path = self.path(name)
        if not path.exists():
            return None
        try:
            return read_pickle(path)
        except Exception as exc:  # a cut-short or foreign file: compute again
            log.warning("cache file %s unreadable (%s); computing again", path, exc)
            return None

    def write(self, name: str, obj, replaces: tuple[str, ...] = ()) -> None:
        """Keep `obj` under `name`, removing the files it supersedes (glob patterns in `replaces`)."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            for old in (old for pattern in replaces for old in self.folder.glob(pattern)):
                old.unlink(missing_ok=True)
            atomic_pickle(self.path(name), obj)
        except OSError as exc:
            log.info("cache file %s not written: %s", self.path(name), exc)


class BoundedCache:
    """A thread-safe least-recently-used map with at most `max_entries` values: memory stays
    level however many data versions, races or what-ifs go through it."""

    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            if key not in self._items:
                return None
            self._items.move_to_end(key)
            return self._items[key]

    def put(self, key, value) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_entries:
                self._items.popitem(last=False)

    def get_or_make(self, key, make):
        value = self.get(key)
        if value is None:
            value = make()
            self.put(key, value)
        return value

    def __len__(self) -> int:
        return len(self._items)

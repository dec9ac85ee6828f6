"""One process's working parts, wired the same way for the app and the command line: the store,
the engine over it, and the refresher whose every run ends with the engine's upkeep (retrain when
due, freeze the predictions users see, keep the backtest current).

The app builds one Runtime per server process and shares it between sessions; each command of
`python -m f1core` builds its own. Nothing here imports Streamlit or loads the model libraries.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from f1core.config import Settings
from f1core.engine.service import Engine
from f1core.engine.training import TrainingConfig
from f1core.ingest.refresh import Refresher, StepOutcome
from f1core.progress import Progress
from f1core.store import Store, StoreError

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    store: Store
    engine: Engine
    refresher: Refresher

    @property
    def lifecycle(self):
        return self.engine.lifecycle

    def close(self) -> None:
        self.refresher.stop()
        self.store.close()


def open_runtime(settings: Settings, *, upkeep: bool = True, must_exist: bool = False) -> Runtime:
    """The store of `settings.db_path` (created when missing, unless `must_exist`), an engine
    with the configured training set-up, and a refresher that runs the upkeep after each refresh
    (`upkeep=False` leaves it out)."""
    if must_exist and not settings.db_path.exists():
        raise StoreError(f"there is no store at {settings.db_path}: check F1_DB / --db, or fill a new one with "
                         "`python -m f1core ingest --snapshot PATH` (or `ingest --api`)")
    store = Store(settings.db_path)
    engine = Engine(store, settings.models_dir, TrainingConfig.starting(settings.train_from), today=settings.today)

    def after_refresh(_outcomes: list[StepOutcome], progress: Progress) -> None:
        for line in engine.lifecycle.upkeep(progress):
            log.info("upkeep: %s", line)

    refresher = Refresher(store, settings, after_refresh=after_refresh if upkeep else None)
    return Runtime(settings, store, engine, refresher)

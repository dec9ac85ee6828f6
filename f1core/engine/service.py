"""The engine the dashboard and the command line read from: the feature frame of the store's
data, the champion model, predictions of any race under any what-if, explanations and drift.

What the engine writes and reads back (backtest runs, the prediction log, the track record) is
in `records.py`; training, promotion, rollback and the upkeep after each refresh in
`lifecycle.py`. Thread-safe; no Streamlit.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from f1core import clock
from f1core.engine import drift as drift_mod
from f1core.engine.cache import FEATURES_CODE, PREDICTION_CODE, BoundedCache, DiskCache, MemoryCache
from f1core.engine.features import FEATURE_BY_NAME, HISTORY_FROM, build_frame, race_rows
from f1core.engine.lifecycle import Lifecycle
from f1core.engine.predict import PredictionError, RacePrediction, predict_rows, race_view
from f1core.engine.records import Records
from f1core.engine.reference import reference_times
from f1core.engine.registry import ARTIFACT, ModelBundle, Registry, RegistryError
from f1core.engine.scenario import Scenario
from f1core.engine.training import POST, NotEnoughData, TrainingConfig
from f1core.store import RaceRef, Store

if TYPE_CHECKING:
    from f1core.engine.season import Condition, SeasonOutlook

log = logging.getLogger(__name__)


class NoModel(RuntimeError):
    """There is no trained model to predict with."""


class Engine:
    def __init__(self, store: Store, models_dir: str | Path, config: TrainingConfig | None = None,
                 today: dt.date | None = None):
        self.store = store
        self.registry = Registry(models_dir)
        self.config = config or TrainingConfig()
        self.today_override = today
        self.records = Records(store)
        self.lifecycle = Lifecycle(self)
        self.disk = DiskCache(store.path.parent / ".feature-cache")
        self._cache = MemoryCache()
        self._cache_lock = threading.Lock()
        self._champion: tuple[str, ModelBundle] | None = None
        self._champion_lock = threading.Lock()
        # (champion version, version served instead or None when none loads, why) while the
        # champion's artifact cannot be read
        self.fallback: tuple[str, str | None, str] | None = None
        # (champion, its artifact's stamp, bundle served instead, fallback) of the last failed load
        self._broken: tuple | None = None
        self._outlooks = BoundedCache(max_entries=12)

    # -- data ---------------------------------------------------------------------------------------
    def data_version(self) -> int:
        return self.store.data_version()

    def data_key(self, version: int | None = None) -> str:
        """The data version, the row counts the features are built from and the feature code: any
        change gives a new key."""
        version = self.data_version() if version is None else version
        counts = self.store.read(
            "SELECT (SELECT count(*) FROM results) r, (SELECT count(*) FROM qualifying) q, "
            "(SELECT count(*) FROM races) n, (SELECT count(*) FROM weather_observed) w, "
            "(SELECT count(*) FROM weather_forecast) f").iloc[0]
        return "-".join(str(int(v)) for v in counts) + f"-{version}-{FEATURES_CODE}-{pd.__version__}"

    def frame(self) -> pd.DataFrame:
        """Feature rows of every race, rebuilt when the store's data changes (and kept on disk
        beside the store, so a restarted server does not build them again). A new frame makes
        every stored prediction stale. Treat it as read-only."""
        version = self.data_version()
        with self._cache_lock:
            if self._cache.version != version or self._cache.frame is None:
                started = time.perf_counter()
                name = f"features-{self.data_key(version)}.pkl"
                frame = self.disk.read(name)
                if frame is None:
                    frame = build_frame(self.store)
                    self.disk.write(name, frame, replaces=("features-*.pkl", "prediction-*.pkl"))
                if frame.empty:
                    raise NotEnoughData("the store has no races with results yet: bootstrap it first "
                                        "(set F1_SNAPSHOT, or run `python -m f1core ingest --snapshot PATH`)")
                self._cache = MemoryCache(version, frame, reference_times(frame), self._names(), {})
                log.info("features ready for data version %s in %.1f s", version, time.perf_counter() - started)
            return self._cache.frame

    def reference_poles(self) -> pd.Series:
        """Each frame row's reference pole time (`engine.reference`), computed once with the frame."""
        self.frame()
        return self._cache.ref_pole

    def reference_poles_for(self, frame: pd.DataFrame) -> pd.Series:
        """`reference_poles` of this very frame: the kept ones while it is the frame in memory,
        else computed (new data has replaced it since)."""
        cache = self._cache
        return cache.ref_pole if cache.frame is frame else reference_times(frame)

    def _names(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        drivers = self.store.read("SELECT driver_ref, code, driver_name, nationality FROM driver_labels")
        teams = self.store.read("SELECT constructor_ref, name AS team_name FROM constructors")
        return drivers, teams

    def race(self, season: int, round_: int) -> RaceRef:
        key = (season, round_)
        with self._cache_lock:
            cached = self._cache.races.get(key)
        if cached is None:
            cached = self.store.race(season, round_)
            if cached is None:
                raise PredictionError(self._unknown_race(season, round_))
            with self._cache_lock:
                self._cache.races[key] = cached
        return cached

    def _unknown_race(self, season: int, round_: int) -> str:
        rounds = self.store.read("SELECT min(round) lo, max(round) hi, count(*) n FROM races WHERE season = ?",
                                 [season]).iloc[0]
        where = f"the store {self.store.path}"
        if not rounds["n"]:
            seasons = self.store.read("SELECT min(season) lo, max(season) hi FROM races").iloc[0]
            known = (f"it has seasons {int(seasons['lo'])} to {int(seasons['hi'])}" if pd.notna(seasons["lo"])
                     else "it has no races at all")
            return f"there is no season {season} in {where}: {known}"
        return (f"there is no race {season} round {round_} in {where}: season {season} has rounds "
                f"{int(rounds['lo'])} to {int(rounds['hi'])}")

    def today(self) -> dt.date:
        return clock.today(self.today_override)

    def upcoming_races(self, n: int = 3) -> list[RaceRef]:
        return self.store.next_races(self.today(), n)

    def recent_races(self, n: int = 3) -> list[RaceRef]:
        return list(reversed(self.store.races_with_results()[-n:]))

    # -- the champion -------------------------------------------------------------------------------
    def champion(self) -> ModelBundle | None:
        """The model served: the champion, or, while the champion's artifact cannot be read, the
        newest other version that loads (`fallback` then says which and why). None when there is
        no champion, or when no version loads at all (`fallback` then names the champion and why,
        with None as the version served): callers carry on without a model rather than fail, so
        the upkeep retrains and the pages show what is wrong."""
        version = self.registry.champion_version()
        if version is None:
            self.fallback = None
            return None
        with self._champion_lock:
            if self._champion is not None and self._champion[0] == version:
                return self._champion[1]
            stamp = self._artifact_stamp(version)
            broken = self._broken
            if broken is not None and broken[:2] == (version, stamp):
                # the same unreadable file as last time: serve what was found then, without
                # unpickling every version again (a repaired or replaced file has a new stamp)
                self.fallback = broken[3]
                return broken[2]
            try:
                bundle = self.registry.load(version)
            except RegistryError as exc:
                log.error("champion %s unusable: %s", version, exc)
                bundle = self._newest_loadable(exclude=version)
                self.fallback = (version, bundle.version if bundle else None, str(exc))
                self._broken = (version, stamp, bundle, self.fallback)
                return bundle
            self.fallback = None
            self._broken = None
            self._champion = (version, bundle)
            return bundle

    def _artifact_stamp(self, version: str) -> tuple[int, int] | None:
        try:
            stat = (self.registry.root / version / ARTIFACT).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _newest_loadable(self, exclude: str) -> ModelBundle | None:
        for version in sorted(self.registry.index().get("versions", {}), reverse=True):
            if version == exclude or self.registry.problem(version, thorough=False):
                continue
            try:
                return self.registry.load(version)
            except RegistryError:
                continue
        return None

    def behind_baseline(self) -> str | None:
        """Plain words when the served model trails the grid baseline over the recent races it
        was checked on (walk-forward, same races), else None."""
        from f1core.engine.lifecycle import behind_grid

        version = self.registry.champion_version()  # from the index: the page need not load the model
        metrics = self.registry.index().get("versions", {}).get(version or "", {}).get("metrics", {})
        if version is None or behind_grid(metrics) is None:
            return None
        recent = metrics["recent"]
        grid = metrics["recent_baselines"]["grid"]
        return (f"Over the last {recent['races']} races, checked walk-forward, model {version} did worse than "
                f"the plain grid baseline (the pole sitter is likeliest to win): winner log loss "
                f"{recent['winner_logloss']:.2f} against {grid['winner_logloss']:.2f}. Weigh its chances with that "
                "in mind; the next retrain tries again.")

    def fallback_now(self) -> tuple[str, str | None, str] | None:
        """`fallback` as it stands for the current champion, checked cheaply: the model is only
        loaded when the champion's artifact looks damaged (a restarted server may answer pages
        from stored predictions without ever loading it)."""
        version = self.registry.champion_version()
        if version is None:
            return None
        known = self.fallback
        if (known is None or known[0] != version) and not self.registry.problem(version, thorough=False):
            return None
        self.champion()
        return self.fallback

    def served_model(self) -> ModelBundle:
        bundle = self.champion()
        if bundle is None:
            if self.fallback is not None:
                champion, _, reason = self.fallback
                raise NoModel(f"no model can be loaded: the champion {champion} is unusable ({reason}) and no "
                              "other version loads. Retrain (the Models page, or `python -m f1core train`); the "
                              "background upkeep also retrains after the next refresh")
            raise NoModel(f"there is no trained model in {self.registry.root} yet: train one with "
                          "`python -m f1core train` (the app trains one by itself after loading data)")
        return bundle

    # -- predictions --------------------------------------------------------------------------------
    def _prediction_name(self, season: int, round_: int, session: str = "race") -> tuple[str, str] | None:
        """The disk-cache name of the champion's prediction of a race as it is (no what-if), and
        the champion it is for: keyed by the data, the champion's artifact and the prediction code."""
        version = self.registry.champion_version()
        if version is None or self.fallback is not None:
            return None
        try:
            stamp = (self.registry.root / version / ARTIFACT).stat().st_mtime_ns
        except OSError:
            return None
        key = hashlib.sha256(f"{self.data_key()}|{version}|{stamp}|{PREDICTION_CODE}".encode()).hexdigest()[:16]
        prefix = "prediction" if session == "race" else f"prediction-{session}"
        return f"{prefix}-{season}-{round_}-{key}.pkl", version

    def predict_race(self, season: int, round_: int, scenario: Scenario | None = None) -> RacePrediction:
        scenario = scenario or Scenario()
        stored = self._prediction_name(season, round_) if scenario.is_baseline else None
        if stored is not None and (cached := self.disk.read(stored[0])) is not None:
            return cached
        bundle = self.served_model()
        race = self.race(season, round_)
        rows = self._field_rows(race)
        ref = self._cache.ref_pole
        ref_pole = float(ref.loc[rows.index].iloc[0]) if len(rows) and ref is not None else None
        drivers, teams = self._cache.names
        prediction = predict_rows(bundle, race, rows, ref_pole, scenario, drivers, teams)
        if stored is not None and prediction.model_version == stored[1]:  # not promoted meanwhile
            self.disk.write(stored[0], prediction, replaces=(f"prediction-{season}-{round_}-*.pkl",))
        return prediction

    def _field_rows(self, race: RaceRef) -> pd.DataFrame:
        """The race's feature rows; a PredictionError for a race older than the features' history."""
        rows = race_rows(self.frame(), race.season, race.round)
        if rows.empty and race.season < HISTORY_FROM:
            raise PredictionError(f"{race.label}: races before {HISTORY_FROM} are outside the model's history "
                                  "(its ratings and form start that season)")
        return rows

    def predict_sprint(self, season: int, round_: int) -> RacePrediction:
        """The sprint of a sprint weekend (`f1core.engine.sprint`); a PredictionError for a
        weekend without one."""
        from f1core.engine.season import sprint_dnf_ratio
        from f1core.engine.sprint import predict_sprint_rows

        race = self.race(season, round_)
        if self.records.sprint_start(race) is None:
            raise PredictionError(f"{race.label} has no sprint")
        stored = self._prediction_name(season, round_, "sprint")
        if stored is not None and (cached := self.disk.read(stored[0])) is not None:
            return cached
        rows = self._field_rows(race)
        if rows.empty:
            raise PredictionError(f"{race.label}: no entry list (no qualifying and no known line-ups)")
        grid = self.store.read("SELECT driver_ref, grid FROM sprint_results WHERE season = ? AND round = ?",
                               [season, round_])
        drivers, teams = self._cache.names
        prediction = predict_sprint_rows(self.served_model(), race, rows, grid,
                                         sprint_dnf_ratio(self.store, season, round_ - 1), drivers, teams)
        if stored is not None and prediction.model_version == stored[1]:
            self.disk.write(stored[0], prediction, replaces=(f"prediction-sprint-{season}-{round_}-*.pkl",))
        return prediction

    def field_contributions(self, season: int, round_: int,
                            scenario: Scenario | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every driver's feature contributions to his race strength, relative to the field's
        average (one row per driver_ref; positive pushed him up the order; a row sums to his
        strength less the field's mean), and the feature values they came from."""
        scenario = scenario or Scenario()
        pred = self.predict_race(season, round_, scenario)
        bundle = self.served_model()
        rows = race_view(bundle.stage1, race_rows(self.frame(), season, round_), pred.mode, scenario)
        contrib = bundle.race_models[pred.mode].contributions(rows)
        drivers = pd.Index(rows["driver_ref"].to_numpy(), name="driver_ref")
        relative = (contrib - contrib.mean()).set_axis(drivers)
        return relative, rows[list(contrib.columns)].set_axis(drivers)

    def explain(self, season: int, round_: int, driver_ref: str, scenario: Scenario | None = None) -> pd.DataFrame:
        """One driver's feature contributions (`field_contributions`), largest effect first, with
        his value and the field's average of each feature."""
        relative, values = self.field_contributions(season, round_, scenario)
        if driver_ref not in relative.index:
            raise PredictionError(f"{driver_ref} is not in the field of "
                                  f"{self.predict_race(season, round_, scenario).race.label}")
        out = pd.DataFrame({
            "feature": relative.columns,
            "contribution": relative.loc[driver_ref].to_numpy(),
            "value": values.loc[driver_ref].to_numpy(),
            "field_average": values.mean().to_numpy(),
            "description": [FEATURE_BY_NAME[f].description for f in relative.columns],
        })
        return out.reindex(out["contribution"].abs().sort_values(ascending=False).index).reset_index(drop=True)

    def feature_importance(self) -> pd.DataFrame:
        model = self.served_model().race_models[POST]
        gain = model.booster_.feature_importance("gain")
        out = pd.DataFrame({"feature": model.features, "gain": gain / max(gain.sum(), 1e-9)})
        return out.sort_values("gain", ascending=False).reset_index(drop=True)

    # -- the season ---------------------------------------------------------------------------------
    def season_outlook(self, season: int, after_round: int | None = None,
                       condition: Condition | None = None) -> SeasonOutlook:
        """The championship of `season` as of right after `after_round` (default: the latest
        round), optionally with a what-if on the next race; kept for the data version and the model
        served (the champion, or the version standing in while its file cannot be read)."""
        from f1core.engine.season import last_round_with_results, project_season

        after_round = last_round_with_results(self.store, season) if after_round is None else int(after_round)
        fallback = self.fallback_now()  # the stand-in, when one serves for a damaged champion
        served = fallback[1] if fallback is not None else self.registry.champion_version()
        key = (self.data_version(), served, season, after_round)
        base = self._outlooks.get_or_make(key, lambda: project_season(self, season, after_round))
        if condition is None:
            return base
        return self._outlooks.get_or_make(key + (condition.round, condition.finishers),
                                          lambda: project_season(self, season, condition=condition, base=base))

    # -- drift --------------------------------------------------------------------------------------
    def drift_series(self) -> pd.DataFrame:
        return drift_mod.drift_series(self.frame(), self.served_model())

    def drift_summary(self, series: pd.DataFrame | None = None) -> dict:
        bundle = self.served_model()
        return drift_mod.summarise(drift_mod.drift_series(self.frame(), bundle) if series is None else series, bundle)

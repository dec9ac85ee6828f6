"""The engine facade the dashboard and the command line call: features cached per data version,
the champion model (trained on first use), predictions, retraining, backtests, the prediction
log and drift. Thread-safe; no Streamlit."""
from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import pandas as pd

from f1core import clock
from f1core.engine import drift as drift_mod
from f1core.engine import features as features_module
from f1core.engine import models as models_module
from f1core.engine import predict as predict_module
from f1core.engine import scenario as scenario_module
from f1core.engine import training as training_module
from f1core.engine.backtest import (
    BASELINES, _form_rank, _position_table, reference_times, summarise, walk_forward,
)
from f1core.engine.features import STAGE1_FEATURES, build_frame, race_rows
from f1core.engine.predict import PredictionError, RacePrediction, predict_rows
from f1core.engine.registry import ARTIFACT, ModelBundle, Registry
from f1core.engine.scenario import Scenario
from f1core.engine.training import (
    POST, PRE, NotEnoughData, TrainingConfig, stage1_config_key, stage1_walk_forward, stage2_features, stage2_rows,
    train_stage1, train_stage2,
)
from f1core.store import RaceRef, Store

log = logging.getLogger(__name__)

Progress = Callable[[str, float], None]  # message, fraction done (0..1)
RECENT_RACES = 12  # the window a challenger and the champion are compared on


class RetrainInProgress(RuntimeError):
    """Another retrain holds the lock."""


NoData = NotEnoughData  # what the pages and the command line catch: too little data to train or predict


def _code_hash(*modules) -> str:
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


FEATURES_CODE = _code_hash(features_module)
PREDICTION_CODE = _code_hash(features_module, models_module, predict_module, scenario_module, training_module)


def _read_cached(path: Path):
    """A pickled object kept on disk beside the store, or None when absent or unreadable."""
    if not path.exists():
        return None
    try:
        return pd.read_pickle(path)
    except Exception as exc:  # a cut-short file: compute again
        log.warning("cache file %s unreadable (%s); computing again", path, exc)
        return None


def _write_cached(path: Path, obj, replaces: tuple[str, ...]) -> None:
    """Keep `obj` on disk (written whole or not at all), removing the files it supersedes (glob
    patterns in `replaces`)."""
    try:
        path.parent.mkdir(exist_ok=True)
        for old in (old for pattern in replaces for old in path.parent.glob(pattern)):
            old.unlink(missing_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}-{threading.get_ident()}.tmp")
        pd.to_pickle(obj, tmp)
        os.replace(tmp, path)
    except OSError as exc:  # a read-only disk only costs the computation next time
        log.info("cache file %s not written: %s", path, exc)


@dataclass
class RetrainDecision:
    challenger: str
    champion_before: str | None
    promoted: bool
    reasons: list[str]
    challenger_metrics: dict
    champion_metrics: dict | None
    seconds: float

    @property
    def summary(self) -> str:
        verdict = f"{self.challenger} promoted to champion" if self.promoted else f"{self.challenger} kept pending"
        return f"{verdict}: " + "; ".join(self.reasons)


@dataclass
class _Cache:
    version: int = -1
    frame: pd.DataFrame | None = None
    ref_pole: pd.Series | None = None
    names: tuple[pd.DataFrame, pd.DataFrame] | None = None
    races: dict = field(default_factory=dict)


class Engine:
    def __init__(self, store: Store, models_dir: str | Path, config: TrainingConfig | None = None,
                 today: dt.date | None = None):
        self.store = store
        self.registry = Registry(models_dir)
        self.config = config or TrainingConfig()
        self.today_override = today
        self._cache = _Cache()
        self._cache_lock = threading.Lock()
        self._champion: tuple[str, ModelBundle] | None = None
        self._champion_lock = threading.Lock()
        self._retrain_lock = threading.Lock()

    # -- data ---------------------------------------------------------------------------------------
    def data_version(self) -> int:
        return self.store.data_version()

    def _cache_dir(self) -> Path:
        return self.store.path.parent / ".feature-cache"

    def _data_key(self, version: int) -> str:
        """The data version, the row counts the features are built from and the feature code: any
        change gives a new key."""
        counts = self.store.read(
            "SELECT (SELECT count(*) FROM results) r, (SELECT count(*) FROM qualifying) q, "
            "(SELECT count(*) FROM races) n, (SELECT count(*) FROM weather_observed) w, "
            "(SELECT count(*) FROM weather_forecast) f").iloc[0]
        return "-".join(str(int(v)) for v in counts) + f"-{version}-{FEATURES_CODE}-{pd.__version__}"

    def _load_or_build_frame(self, version: int) -> pd.DataFrame:
        """The feature frame of this data, kept on disk beside the store so a restarted server does
        not build it again. A new frame makes every stored prediction stale."""
        path = self._cache_dir() / f"features-{self._data_key(version)}.pkl"
        frame = _read_cached(path)
        if frame is None:
            frame = build_frame(self.store)
            _write_cached(path, frame, replaces=("features-*.pkl", "prediction-*.pkl"))
        return frame

    def frame(self) -> pd.DataFrame:
        """Feature rows of every race, rebuilt when the store's data changes (and kept on disk
        beside the store, so a restarted server does not build them again)."""
        version = self.data_version()
        with self._cache_lock:
            if self._cache.version != version or self._cache.frame is None:
                started = time.perf_counter()
                frame = self._load_or_build_frame(version)
                if frame.empty:
                    raise NoData("the store has no races with results yet: bootstrap it first "
                                 "(set F1_SNAPSHOT, or run `python -m f1core ingest --snapshot PATH`)")
                self._cache = _Cache(version, frame, reference_times(frame), self._names(), {})
                log.info("features rebuilt for data version %s in %.1f s", version, time.perf_counter() - started)
            return self._cache.frame

    def _names(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        drivers = self.store.read(
            "SELECT driver_ref, code, forename || ' ' || surname AS driver_name, nationality FROM drivers")
        teams = self.store.read("SELECT constructor_ref, name AS team_name FROM constructors")
        return drivers, teams

    def race(self, season: int, round_: int) -> RaceRef:
        key = (season, round_)
        with self._cache_lock:
            cached = self._cache.races.get(key)
        if cached is None:
            cached = self.store.race(season, round_)
            if cached is None:
                raise PredictionError(f"there is no race {season} round {round_} in the store")
            with self._cache_lock:
                self._cache.races[key] = cached
        return cached

    def today(self) -> dt.date:
        return clock.today(self.today_override)

    def upcoming_races(self, n: int = 3) -> list[RaceRef]:
        return self.store.next_races(self.today(), n)

    def recent_races(self, n: int = 3) -> list[RaceRef]:
        return list(reversed(self.store.races_with_results()[-n:]))

    # -- stage 1 walk-forward, cached in the store -------------------------------------------------
    def stage1_history(self, frame: pd.DataFrame, progress: Progress | None = None) -> pd.DataFrame:
        key = stage1_config_key(self.config)
        known = self.store.read(
            "SELECT season, round, driver_ref, pred_gap FROM stage1_walkforward WHERE config_key = ?", [key])
        result = stage1_walk_forward(frame, self.config, known,
                                     lambda i, n: progress and progress(f"qualifying model history {i}/{n}", i / n))
        fresh = result.merge(known[["season", "round", "driver_ref"]], how="left", indicator=True,
                             on=["season", "round", "driver_ref"])
        fresh = fresh[(fresh["_merge"] == "left_only") & fresh["pred_gap"].notna()]
        if not fresh.empty:
            with self.store.transaction() as cur:
                cur.register("fresh_s1", fresh[["season", "round", "driver_ref", "pred_gap"]].assign(config_key=key))
                cur.execute("INSERT OR REPLACE INTO stage1_walkforward (config_key, season, round, driver_ref, pred_gap) "
                            "SELECT config_key, season, round, driver_ref, pred_gap FROM fresh_s1")
                cur.unregister("fresh_s1")
        return result

    # -- training -----------------------------------------------------------------------------------
    def train_bundle(self, progress: Progress | None = None, config: TrainingConfig | None = None) -> ModelBundle:
        """Train both stages on every race with results (not registered)."""
        config = config or self.config
        say = progress or (lambda _m, _f: None)
        say("building features", 0.05)
        frame = self.frame()
        done = frame[frame["has_result"]]
        if done.empty:
            raise NoData("no races with results to train on")
        stage1_hist = self.stage1_history(frame, lambda m, f: say(m, 0.05 + 0.35 * f))
        cutoff = int(done["race_idx"].max()) + 1
        say("training the qualifying model", 0.45)
        stage1 = train_stage1(done, cutoff, config)
        say("training the race model (after qualifying)", 0.6)
        post = train_stage2(frame, cutoff, POST, config)
        say("training the race model (before qualifying)", 0.75)
        pre = train_stage2(stage2_rows(frame, PRE, stage1_hist), cutoff, PRE, config)
        history = done.assign(drv_points_rank=_form_rank(done))
        tables = {name: _position_table(history, col).tolist() for name, col in BASELINES.items()}
        last = done.sort_values("race_idx").iloc[-1]
        race_count = int(done[done["season"] >= config.stage2_from]["race_idx"].nunique())
        fingerprint = pd.util.hash_pandas_object(
            done[["season", "round", "driver_ref", "position_order", "grid", "quali_best_s"]], index=False).sum()
        return ModelBundle(
            version=self.registry.next_version(),
            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            config=config, stage1=stage1, race_models={POST: post, PRE: pre},
            baseline_tables=tables,
            dnf_rate=float(done[done["season"] >= config.stage2_from]["dnf"].mean()),
            training_window={
                "first_season": config.stage2_from, "last_season": int(last["season"]),
                "last_round": int(last["round"]), "last_race_label": self.race(int(last["season"]), int(last["round"])).label,
                "last_race_date": str(pd.Timestamp(last["date"]).date()), "races": race_count,
                "data_version": self.data_version(),
            },
            data_fingerprint=f"{int(fingerprint) & 0xFFFFFFFFFFFF:012x}",
            features={"stage1": list(STAGE1_FEATURES), "stage2": stage2_features(POST)},
        )

    def evaluate_recent(self, config: TrainingConfig, progress: Progress | None = None,
                        n_races: int = RECENT_RACES) -> tuple[dict, dict[str, dict]]:
        """Walk-forward over the last `n_races` races with results (post-qualifying mode): the
        model's summary, and each baseline's on the same races."""
        frame = self.frame()
        stage1_hist = self.stage1_history(frame)
        result = walk_forward(frame, int(frame["season"].min()), None, config, stage1_hist, modes=(POST,),
                              last_n_races=n_races,
                              progress=lambda m, i, n: progress and progress(f"evaluating: {m} {i}/{n}", i / n))
        per = result.per_race
        baselines = {name: summarise(g) for name, g in per[per["predictor"] != "model"].groupby("predictor")}
        return summarise(per[per["predictor"] == "model"]), baselines

    def champion(self, train_if_missing: bool = True, progress: Progress | None = None) -> ModelBundle | None:
        version = self.registry.champion_version()
        if version is None:
            if not train_if_missing:
                return None
            self.retrain(progress)
            version = self.registry.champion_version()
        with self._champion_lock:
            if self._champion is None or self._champion[0] != version:
                self._champion = (version, self.registry.load(version))
            return self._champion[1]

    @contextmanager
    def _exclusive_retrain(self) -> Iterator[None]:
        """One retrain at a time, across threads (lock) and processes (a lock file)."""
        if not self._retrain_lock.acquire(blocking=False):
            raise RetrainInProgress("a retrain is already running; wait for it to finish")
        self.registry.root.mkdir(parents=True, exist_ok=True)
        fh = open(self.registry.root / ".retrain.lock", "w")
        try:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                raise RetrainInProgress("a retrain is already running in another process") from exc
            yield
        finally:
            fh.close()
            self._retrain_lock.release()

    @property
    def retraining(self) -> bool:
        return self._retrain_lock.locked()

    def retrain(self, progress: Progress | None = None) -> RetrainDecision:
        """Train a challenger on all data, compare it with the champion on the most recent races
        (walk-forward), and promote it when it is at least as accurate: log loss no more than 0.02
        worse and Spearman no more than 0.01 worse, while trained on newer data; or log loss better
        by 0.02 or more. Otherwise it stays pending."""
        say = progress or (lambda _m, _f: None)
        started = time.perf_counter()
        with self._exclusive_retrain():
            challenger = self.train_bundle(lambda m, f: say(m, 0.7 * f))
            say("evaluating the challenger on recent races", 0.7)
            recent, baselines = self.evaluate_recent(challenger.config, lambda m, f: say(m, 0.7 + 0.15 * f))
            challenger.metrics = {"recent": recent, "recent_baselines": baselines}
            champion_version = self.registry.champion_version()
            champion = self.registry.load(champion_version) if champion_version else None
            champ_metrics = None
            if champion is not None:
                if champion.config == challenger.config:
                    champ_metrics = challenger.metrics["recent"]
                else:
                    say("evaluating the champion's configuration on recent races", 0.85)
                    champ_metrics = self.evaluate_recent(champion.config, lambda m, f: say(m, 0.85 + 0.1 * f))[0]
            promoted, reasons = self._decide(challenger, champion, champ_metrics)
            challenger.status = "challenger"
            self.registry.save(challenger)
            if promoted:
                self.registry.promote(challenger.version, "; ".join(reasons))
            else:
                self.registry.keep_pending(challenger.version, "; ".join(reasons))
            say("done", 1.0)
            return RetrainDecision(challenger.version, champion_version, promoted, reasons,
                                   challenger.metrics["recent"], champ_metrics, time.perf_counter() - started)

    @staticmethod
    def _decide(challenger: ModelBundle, champion: ModelBundle | None, champ: dict | None) -> tuple[bool, list[str]]:
        if champion is None:
            return True, ["no champion yet"]
        new = challenger.metrics["recent"]
        d_loss = new["winner_logloss"] - champ["winner_logloss"]
        d_rho = new["spearman"] - champ["spearman"]
        newer = challenger.training_window["races"] - champion.training_window.get("races", 0)
        same_config = challenger.config == champion.config
        facts = (f"recent {new['races']} races: log loss {new['winner_logloss']:.3f} vs {champ['winner_logloss']:.3f}, "
                 f"Spearman {new['spearman']:.3f} vs {champ['spearman']:.3f}")
        if d_loss <= -0.02 and d_rho >= -0.01:
            return True, [facts, "better log loss by at least 0.02"]
        if d_loss <= 0.02 and d_rho >= -0.01 and newer > 0:
            why = "same configuration" if same_config else "as accurate within the margins"
            return True, [facts, f"{why}, trained on {newer} more race(s)"]
        if newer <= 0 and d_loss > -0.02:
            return False, [facts, "no new races since the champion was trained and no clear gain"]
        return False, [facts, "worse than the champion beyond the margins (log loss +0.02 or Spearman -0.01)"]

    def rollback(self, to_version: str | None = None) -> str:
        with self._exclusive_retrain():
            return self.registry.rollback(to_version)

    def retrain_triggers(self) -> list[tuple[str, str]]:
        """Why the champion may be due for a retrain, as (kind, plain words): 'no-model',
        'new-results', 'drift', 'accuracy' (live track record worse than expected), 'age'."""
        bundle = self.champion(train_if_missing=False)
        if bundle is None:
            return [("no-model", "there is no model yet")]
        triggers = []
        done = self.store.races_with_results(since_season=bundle.config.stage2_from)
        new = len(done) - bundle.training_window.get("races", 0)
        if new > 0:
            triggers.append(("new-results", f"{new} race(s) with results since the champion was trained"))
        try:
            summary = self.drift_summary()
            if summary["suggest_retrain"]:
                triggers.append(("drift", summary["message"]))
        except Exception as exc:  # drift is advisory; a failure must not block the other triggers
            log.warning("drift check failed: %s", exc)
        record = self.track_record()
        expected = bundle.metrics.get("recent", {}).get("winner_logloss")
        if len(record) >= 6 and expected:
            live = float(record.head(6)["winner_logloss"].mean())
            if live > expected + 0.3:
                triggers.append(("accuracy", f"live log loss over the last 6 races {live:.2f}, "
                                             f"expected about {expected:.2f}"))
        age = dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(bundle.created_at)
        if age > dt.timedelta(days=30):
            triggers.append(("age", f"the champion is {age.days} days old"))
        return triggers

    def upkeep(self, progress: Progress | None = None) -> list[str]:
        """What the background refresh does after each run: retrain when there is no model or new
        results arrived (other triggers at most once a day), freeze the predictions users see,
        and keep the backtest current. Returns what it did, in plain words."""
        done: list[str] = []
        if self.store.is_empty():
            return done
        say = progress or (lambda _m, _f: None)

        def stage(name: str) -> Progress:
            return lambda message, fraction: say(f"{name}: {message}", fraction)

        triggers = self.retrain_triggers()
        kinds = {k for k, _ in triggers}
        last = max((h["at"] for h in self.registry.history()), default=None)
        stale = last is None or dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(last) > dt.timedelta(days=1)
        if kinds & {"no-model", "new-results"} or (kinds and stale):
            try:
                decision = self.retrain(stage("retraining"))
                done.append(f"retrained ({'; '.join(m for _, m in triggers)}): {decision.summary}")
            except RetrainInProgress:
                done.append("a retrain was already running")
        if self.registry.champion_version():
            say("freezing the predictions shown", 0.0)
            written = self.freeze_predictions()
            if written:
                done.append(f"froze {written} prediction rows")
        latest = self.latest_backtest()
        last_race = self.store.last_race_with_results()
        if last_race and (latest is None or int(latest["summary"].get("to_season", 0)) < last_race.season
                          or self._backtest_races_behind(latest) >= 3):
            run_id, summary = self.run_backtest(2022, None, stage("backtest"))
            done.append(f"backtest run {run_id} over {summary['races']} races")
        return done

    def _backtest_races_behind(self, latest: dict) -> int:
        scored = self.store.scalar("SELECT count(DISTINCT (season, round)) FROM backtest_race_metrics WHERE run_id = ?",
                                   [latest["run_id"]])
        since = self.store.races_with_results(since_season=int(latest["summary"].get("from_season", 2022)))
        return len(since) - int(scored or 0)

    # -- predictions --------------------------------------------------------------------------------
    def _prediction_file(self, season: int, round_: int) -> tuple[Path, str] | None:
        """Where the champion's prediction of a race as it is (no what-if) is kept on disk, and the
        champion it is for: keyed by the data, the champion's artifact and the prediction code.
        A restarted server then shows the next race without loading LightGBM at all."""
        version = self.registry.champion_version()
        if version is None:
            return None
        try:
            stamp = (self.registry.root / version / ARTIFACT).stat().st_mtime_ns
        except OSError:
            return None
        key = hashlib.sha256(f"{self._data_key(self.data_version())}|{version}|{stamp}|{PREDICTION_CODE}"
                             .encode()).hexdigest()[:16]
        return self._cache_dir() / f"prediction-{season}-{round_}-{key}.pkl", version

    def predict_race(self, season: int, round_: int, scenario: Scenario | None = None) -> RacePrediction:
        scenario = scenario or Scenario()
        stored = self._prediction_file(season, round_) if scenario.is_baseline else None
        if stored is not None and (cached := _read_cached(stored[0])) is not None:
            return cached
        frame = self.frame()
        bundle = self.champion()
        race = self.race(season, round_)
        rows = race_rows(frame, season, round_)
        ref = self._cache.ref_pole
        ref_pole = float(ref.loc[rows.index].iloc[0]) if len(rows) and ref is not None else None
        drivers, teams = self._cache.names
        prediction = predict_rows(bundle, race, rows, ref_pole, scenario, drivers, teams)
        if stored is not None and prediction.model_version == stored[1]:  # not promoted meanwhile
            _write_cached(stored[0], prediction, replaces=(f"prediction-{season}-{round_}-*.pkl",))
        return prediction

    def explain(self, season: int, round_: int, driver_ref: str, scenario: Scenario | None = None) -> pd.DataFrame:
        """Feature contributions to the driver's race strength, relative to the field's average:
        positive values pushed him up the order."""
        from f1core.engine.features import FEATURE_BY_NAME
        from f1core.engine.scenario import apply_scenario
        from f1core.engine.training import with_predicted_grid

        pred = self.predict_race(season, round_, scenario)
        bundle = self.champion()
        rows = race_rows(self.frame(), season, round_)
        if pred.has_results:
            rows = rows[rows["started"]]
        rows = rows.sort_values("driver_ref", kind="mergesort")
        if pred.mode == PRE:
            rows = with_predicted_grid(rows, bundle.stage1.predict(rows))
        rows = apply_scenario(rows.assign(grid=rows["grid"].fillna(len(rows))), scenario or Scenario())
        contrib = bundle.race_models[pred.mode].contributions(rows)
        relative = contrib - contrib.mean()
        idx = np.flatnonzero(rows["driver_ref"].to_numpy() == driver_ref)
        if not len(idx):
            raise PredictionError(f"{driver_ref} is not in the field of {pred.race.label}")
        row = rows.iloc[idx[0]]
        out = pd.DataFrame({
            "feature": relative.columns,
            "contribution": relative.iloc[idx[0]].to_numpy(),
            "value": [row[f] for f in relative.columns],
            "field_average": [rows[f].mean() for f in relative.columns],
            "description": [FEATURE_BY_NAME[f].description for f in relative.columns],
        })
        return out.reindex(out["contribution"].abs().sort_values(ascending=False).index).reset_index(drop=True)

    # -- backtest -----------------------------------------------------------------------------------
    def run_backtest(self, from_season: int = 2022, to_season: int | None = None,
                     progress: Progress | None = None) -> tuple[int, dict]:
        """Walk-forward backtest, stored in the store; returns (run id, summary)."""
        say = progress or (lambda _m, _f: None)
        frame = self.frame()
        stage1_hist = self.stage1_history(frame, lambda m, f: say(m, 0.2 * f))
        result = walk_forward(frame, from_season, to_season, self.config, stage1_hist,
                              progress=lambda m, i, n: say(f"{m}: block {i}/{n}", 0.2 + 0.8 * i / n))
        summary = result.summary()
        summary.update({"from_season": from_season, "to_season": to_season or int(result.per_race["season"].max())})
        champion = self.registry.champion_version()
        with self.store.transaction() as cur:
            run_id = cur.execute(
                "INSERT INTO backtest_runs (created_at, model_version, from_season, to_season, seconds, config, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
                [dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), champion, from_season, summary["to_season"],
                 result.seconds, json.dumps(self.config.as_dict(), default=str), json.dumps(summary, default=float)],
            ).fetchone()[0]
            self._store_frame(cur, "backtest_predictions", result.predictions.assign(run_id=run_id))
            self._store_frame(cur, "backtest_race_metrics", result.per_race.assign(run_id=run_id))
            s1 = result.stage1_per_race.assign(
                run_id=run_id,
                laptime_median_abs_error_s=result.stage1_per_race["laptime_abs_errors"].map(
                    lambda e: float(np.median(e)) if len(e) else np.nan),
                drivers=result.stage1_per_race["laptime_abs_errors"].map(len))
            self._store_frame(cur, "backtest_stage1", s1.drop(columns=["laptime_abs_errors"]))
        return run_id, summary

    @staticmethod
    def _store_frame(cur, table: str, frame: pd.DataFrame) -> None:
        cols = [r[0] for r in cur.execute(f"DESCRIBE {table}").fetchall()]
        frame = frame[[c for c in cols if c in frame.columns]]
        cur.register("bt_stage", frame)
        cur.execute(f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT * FROM bt_stage")
        cur.unregister("bt_stage")

    def latest_backtest_id(self) -> int:
        """0 before any backtest; a cache key for everything derived from backtests."""
        return int(self.store.scalar("SELECT coalesce(max(run_id), 0) FROM backtest_runs") or 0)

    def latest_backtest(self) -> dict | None:
        row = self.store.read("SELECT run_id, created_at, model_version, seconds, summary FROM backtest_runs "
                              "ORDER BY run_id DESC LIMIT 1")
        if row.empty:
            return None
        r = row.iloc[0]
        return {"run_id": int(r.run_id), "created_at": r.created_at, "model_version": r.model_version,
                "seconds": float(r.seconds), "summary": json.loads(r.summary)}

    def backtest_race_metrics(self, run_id: int) -> pd.DataFrame:
        return self.store.read("SELECT m.*, r.name AS race_name, r.date FROM backtest_race_metrics m "
                               "JOIN races r USING (season, round) WHERE run_id = ? ORDER BY r.date", [run_id])

    def backtest_predictions(self, run_id: int, season: int | None = None, round_: int | None = None) -> pd.DataFrame:
        where, params = "run_id = ?", [run_id]
        if season is not None:
            where += " AND season = ? AND round = ?"
            params += [season, round_]
        return self.store.read(f"SELECT * FROM backtest_predictions WHERE {where}", params)

    def backtest_stage1(self, run_id: int) -> pd.DataFrame:
        return self.store.read("SELECT s.*, r.name AS race_name, r.date FROM backtest_stage1 s "
                               "JOIN races r USING (season, round) WHERE run_id = ? ORDER BY r.date", [run_id])

    # -- prediction log -----------------------------------------------------------------------------
    def freeze_predictions(self, now: dt.datetime | None = None, n_races: int = 3, min_hours: float = 6) -> int:
        """Freeze the predictions users see for the next races (before their start), at most once
        every `min_hours` per race, mode and model version. Returns rows written."""
        now = now or clock.now(self.today_override)
        written = 0
        for race in self.store.next_races(now.date(), n_races):
            if race.start_utc <= now:
                continue
            pred = self.predict_race(race.season, race.round)
            last = self.store.scalar(
                "SELECT max(logged_at) FROM prediction_log WHERE season = ? AND round = ? AND mode = ? "
                "AND model_version = ?", [race.season, race.round, pred.mode, pred.model_version])
            naive_now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
            if last is not None and naive_now - last < dt.timedelta(hours=min_hours):
                continue
            written += self.log_prediction(pred, naive_now)
        return written

    def log_prediction(self, prediction: RacePrediction, logged_at: dt.datetime) -> int:
        """Write one race's prediction into the prediction log as of `logged_at` (naive UTC).
        Returns rows written."""
        t = prediction.table
        frame = pd.DataFrame({
            "logged_at": logged_at, "season": prediction.race.season, "round": prediction.race.round,
            "mode": prediction.mode, "model_version": prediction.model_version, "driver_ref": t["driver_ref"],
            "constructor_ref": t["constructor_ref"], "grid": t["grid"], "quali_gap_pct": t["quali_gap_pct"],
            "p_win": t["p_win"], "p_podium": t["p_podium"], "p_points": t["p_points"], "p_dnf": t["p_dnf"],
            "expected_position": t["expected_position"], "position_p10": t["position_p10"],
            "position_p90": t["position_p90"],
        })
        with self.store.transaction() as cur:
            self._store_frame(cur, "prediction_log", frame)
        return len(frame)

    def frozen_prediction(self, season: int, round_: int) -> pd.DataFrame:
        """The last prediction frozen before the race started (empty when there is none)."""
        race = self.race(season, round_)
        start = race.start_utc.replace(tzinfo=None)
        return self.store.read(
            """
            WITH last AS (SELECT max(logged_at) AS at FROM prediction_log
                          WHERE season = ? AND round = ? AND logged_at < ?)
            SELECT p.* FROM prediction_log p, last
            WHERE p.season = ? AND p.round = ? AND p.logged_at = last.at
            """, [season, round_, start, season, round_])

    def track_record(self) -> pd.DataFrame:
        """Every race with results that had a frozen prediction, scored: the public track record."""
        from f1core.engine.backtest import score_race

        logged = self.store.read(
            """
            SELECT DISTINCT p.season, p.round FROM prediction_log p
            WHERE EXISTS (SELECT 1 FROM results r WHERE r.season = p.season AND r.round = p.round)
            """)
        rows = []
        for season, rnd in logged.itertuples(index=False):
            frozen = self.frozen_prediction(int(season), int(rnd))
            if frozen.empty:
                continue
            actual = self.store.read("SELECT driver_ref, position_order FROM results WHERE season = ? AND round = ?",
                                     [int(season), int(rnd)])
            scores = score_race(frozen, actual)
            race = self.race(int(season), int(rnd))
            rows.append({"season": int(season), "round": int(rnd), "race": race.name, "date": race.date,
                         "mode": frozen["mode"].iloc[0], "model_version": frozen["model_version"].iloc[0],
                         "logged_at": frozen["logged_at"].iloc[0], **scores})
        out = pd.DataFrame(rows)
        return out.sort_values("date", ascending=False).reset_index(drop=True) if not out.empty else out

    # -- drift --------------------------------------------------------------------------------------
    def drift_series(self) -> pd.DataFrame:
        bundle = self.champion()
        return drift_mod.drift_series(self.frame(), bundle)

    def drift_summary(self) -> dict:
        bundle = self.champion()
        return drift_mod.summarise(drift_mod.drift_series(self.frame(), bundle), bundle)

    def feature_importance(self) -> pd.DataFrame:
        bundle = self.champion()
        model = bundle.race_models[POST]
        gain = model.booster_.feature_importance("gain")
        out = pd.DataFrame({"feature": model.features, "gain": gain / max(gain.sum(), 1e-9)})
        return out.sort_values("gain", ascending=False).reset_index(drop=True)

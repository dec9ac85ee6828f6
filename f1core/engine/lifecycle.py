"""The model's life: training a challenger, the promotion rule, rollback, the reasons to retrain,
and the upkeep that runs after every refresh (retrain when due, freeze the predictions users see,
keep the backtest current). One retrain at a time, across threads and processes."""
from __future__ import annotations

import datetime as dt
import fcntl
import logging
import threading
import time
import weakref
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import pandas as pd

from f1core import clock
from f1core.engine.backtest import BACKTEST_CODE, summarise, walk_forward
from f1core.engine.baselines import position_tables
from f1core.engine.features import STAGE1_FEATURES, WEATHER_FEATURES
from f1core.engine.registry import ModelBundle
from f1core.engine.training import (
    POST,
    PRE,
    NotEnoughData,
    TrainingConfig,
    stage1_config_key,
    stage1_walk_forward,
    stage2_features,
    stage2_rows,
    train_stage1,
    train_stage2,
)
from f1core.progress import Progress, silent, within

if TYPE_CHECKING:
    from f1core.engine.service import Engine

log = logging.getLogger(__name__)

RECENT_RACES = 12  # the window a challenger and the champion are compared on
BACKTEST_FROM = 2022  # the first season of the backtest the upkeep keeps current
SEASON_BACKTEST_FROM = 2010  # ... and of its championship replay (`season_backtest`)


class RetrainInProgress(RuntimeError):
    """Another retrain holds the lock."""


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


BASELINE_MARGIN = 0.02  # log loss a model may trail the grid baseline by before it counts as behind it


def behind_grid(metrics: dict) -> float | None:
    """How much worse (winner log loss) a model's recent walk-forward is than the grid baseline's
    on the same races, when it is worse by more than the margin; None when it is not behind."""
    recent = metrics.get("recent", {})
    grid = metrics.get("recent_baselines", {}).get("grid", {})
    if "winner_logloss" not in recent or "winner_logloss" not in grid:
        return None
    gap = recent["winner_logloss"] - grid["winner_logloss"]
    return gap if gap > BASELINE_MARGIN else None


def promotion_decision(challenger: ModelBundle, champion: ModelBundle | None,
                       champ: dict | None) -> tuple[bool, list[str]]:
    """The promotion rule, on the recent races walk-forward, beside the grid baseline on the same
    races: a challenger that trails the grid baseline by more than the margin is not promoted
    over a champion that does not; otherwise promote when log loss is better by 0.02 or more
    (Spearman not worse by more than 0.01), or within those margins while trained on newer races
    (or more of their weather)."""
    new = challenger.metrics["recent"]
    grid = challenger.metrics.get("recent_baselines", {}).get("grid", {})
    behind = behind_grid(challenger.metrics)
    grid_words = (f"; the grid baseline {grid['winner_logloss']:.3f} on the same races" if "winner_logloss" in grid
                  else "")
    if champion is None:
        reasons = ["no champion yet"]
        if behind is not None:
            reasons.append(f"it trails the grid baseline by {behind:.3f} in log loss over the recent "
                           f"{new['races']} races, but something must be served")
        return True, reasons
    d_loss = new["winner_logloss"] - champ["winner_logloss"]
    d_rho = new["spearman"] - champ["spearman"]
    newer = challenger.training_window["races"] - champion.training_window.get("races", 0)
    more_weather = challenger.training_window.get("weather_rows", 0) - champion.training_window.get("weather_rows", 0)
    same_config = challenger.config == champion.config
    facts = (f"recent {new['races']} races: log loss {new['winner_logloss']:.3f} vs {champ['winner_logloss']:.3f}, "
             f"Spearman {new['spearman']:.3f} vs {champ['spearman']:.3f}{grid_words}")
    champion_behind = (champ["winner_logloss"] - grid["winner_logloss"] > BASELINE_MARGIN) if "winner_logloss" in grid \
        else False
    if behind is not None and not champion_behind:
        return False, [facts, f"it trails the grid baseline by {behind:.3f}, and the champion does not"]
    if d_loss <= -0.02 and d_rho >= -0.01:
        return True, [facts, "better log loss by at least 0.02"]
    if d_loss <= 0.02 and d_rho >= -0.01 and (newer > 0 or more_weather > 0):
        why = "same configuration" if same_config else "as accurate within the margins"
        more = (f"trained on {newer} more race(s)" if newer > 0
                else f"trained with {more_weather} more weather record(s)" if "weather_rows" in champion.training_window
                else f"trained with the store's {more_weather} weather records, of which the champion kept no count")
        return True, [facts, f"{why}, {more}"]
    if newer <= 0 and more_weather <= 0 and d_loss > -0.02:
        return False, [facts, "no new races since the champion was trained and no clear gain"]
    return False, [facts, "worse than the champion beyond the margins (log loss +0.02 or Spearman -0.01)"]


class Lifecycle:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._retrain_lock = threading.Lock()
        self._trained_on: weakref.ref = weakref.ref(pd.DataFrame())  # dead until a bundle is trained

    @property
    def registry(self):
        return self.engine.registry

    @property
    def records(self):
        return self.engine.records

    # -- training -----------------------------------------------------------------------------------
    def stage1_history(self, frame: pd.DataFrame, config: TrainingConfig,
                       progress: Progress | None = None) -> pd.DataFrame:
        """Stage 1's walk-forward predictions (the pre-qualifying race model's honest inputs),
        computed once per configuration and kept in the store."""
        key = stage1_config_key(config)
        known = self.records.stage1_known(key)
        result = stage1_walk_forward(frame, config, known, progress)
        fresh = result.merge(known[["season", "round", "driver_ref"]], how="left", indicator=True,
                             on=["season", "round", "driver_ref"])
        self.records.add_stage1(fresh[(fresh["_merge"] == "left_only") & fresh["pred_gap"].notna()], key)
        return result

    def train_bundle(self, progress: Progress | None = None, config: TrainingConfig | None = None) -> ModelBundle:
        """Train both stages on every race with results (not registered)."""
        config = config or self.engine.config
        say = progress or silent
        say("building features", 0.05)
        # read before the features: data landing during training must still count as new afterwards
        data_version, weather_rows = self.engine.data_version(), self.engine.store.observed_weather_rows()
        frame = self.engine.frame()
        # the frame the bundle was trained on, without keeping it alive once new data replaces it
        self._trained_on = weakref.ref(frame)
        done = frame[frame["has_result"]]
        if done.empty:
            raise NotEnoughData("no races with results to train on")
        stage1_hist = self.stage1_history(frame, config, within(progress, 0.05, 0.4))
        cutoff = int(done["race_idx"].max()) + 1
        say("training the qualifying model", 0.45)
        stage1 = train_stage1(done, cutoff, config)
        say("training the race model (after qualifying)", 0.6)
        post = train_stage2(frame, cutoff, POST, config)
        say("training the race model (before qualifying)", 0.75)
        pre = train_stage2(stage2_rows(frame, PRE, stage1_hist), cutoff, PRE, config)
        last = done.sort_values("race_idx").iloc[-1]
        race_count = int(done[done["season"] >= config.stage2_from]["race_idx"].nunique())
        fingerprint = pd.util.hash_pandas_object(
            done[["season", "round", "driver_ref", "position_order", "grid", "quali_best_s", *WEATHER_FEATURES]],
            index=False).sum()
        return ModelBundle(
            version=self.registry.next_version(),
            created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            config=config, stage1=stage1, race_models={POST: post, PRE: pre},
            baseline_tables={name: table.tolist() for name, table in position_tables(done).items()},
            dnf_rate=float(done[done["season"] >= config.stage2_from]["dnf"].mean()),
            training_window={
                "first_season": config.stage2_from, "last_season": int(last["season"]),
                "last_round": int(last["round"]),
                "last_race_label": self.engine.race(int(last["season"]), int(last["round"])).label,
                "last_race_date": str(pd.Timestamp(last["date"]).date()), "races": race_count,
                "data_version": data_version, "weather_rows": weather_rows,
            },
            data_fingerprint=f"{int(fingerprint) & 0xFFFFFFFFFFFF:012x}",
            features={"stage1": list(STAGE1_FEATURES), "stage2": stage2_features(POST)},
        )

    def evaluate_recent(self, config: TrainingConfig, progress: Progress | None = None,
                        n_races: int = RECENT_RACES, trained: ModelBundle | None = None) -> tuple[dict, dict[str, dict]]:
        """Walk-forward over the last `n_races` races with results (post-qualifying mode): the
        model's summary, and each baseline's on the same races. `trained`: a bundle of `config`
        just trained on the frame in memory, whose out-of-sample booster scores of earlier races
        the walk-forward's calibration can start from instead of scoring them again."""
        frame = self.engine.frame()
        # the post-qualifying walk-forward does not use stage 1; its history of the engine's own
        # set-up is computed once anyway, so no second configuration's history is ever built here
        stage1_hist = self.stage1_history(frame, self.engine.config)
        known = getattr(trained.race_models[POST], "calibration_scores_", None) if trained is not None else None
        reuse = known is not None and self._trained_on() is frame and trained.config == config
        result = walk_forward(frame, int(frame["season"].min()), None, config, stage1_hist, modes=(POST,),
                              last_n_races=n_races, progress=within(progress, 0, 1, "evaluating: "),
                              reference=self.engine.reference_poles_for(frame),
                              calibration_scores={POST: known} if reuse else None)
        per = result.per_race
        baselines = {name: summarise(g) for name, g in per[per["predictor"] != "model"].groupby("predictor")}
        return summarise(per[per["predictor"] == "model"]), baselines

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One retrain or rollback at a time, across threads (a lock) and processes (a lock file)."""
        if not self._retrain_lock.acquire(blocking=False):
            raise RetrainInProgress("a retrain is already running; wait for it to finish")
        try:
            self.registry.root.mkdir(parents=True, exist_ok=True)
            with open(self.registry.root / ".retrain.lock", "w") as fh:
                try:
                    fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError as exc:
                    raise RetrainInProgress("a retrain is already running in another process") from exc
                yield
        finally:
            self._retrain_lock.release()

    @property
    def retraining(self) -> bool:
        return self._retrain_lock.locked()

    def retrain(self, progress: Progress | None = None) -> RetrainDecision:
        """Train a challenger on all data, compare it with the champion on the most recent races
        (walk-forward) and promote it or keep it pending (`promotion_decision`)."""
        say = progress or silent
        started = time.perf_counter()
        with self._exclusive():
            challenger = self.train_bundle(within(progress, 0, 0.7))
            say("evaluating the challenger on recent races", 0.7)
            recent, baselines = self.evaluate_recent(challenger.config, within(progress, 0.7, 0.85),
                                                     trained=challenger)
            challenger.metrics = {"recent": recent, "recent_baselines": baselines}
            champion_version = self.registry.champion_version()
            champion = self.engine.champion() if champion_version else None
            champ_metrics = None
            if champion is not None:
                if champion.config == challenger.config:
                    champ_metrics = challenger.metrics["recent"]
                else:
                    say("evaluating the champion's configuration on recent races", 0.85)
                    champ_metrics = self.evaluate_recent(champion.config, within(progress, 0.85, 0.95))[0]
            promoted, reasons = promotion_decision(challenger, champion, champ_metrics)
            challenger.status = "challenger"
            self.registry.save(challenger)
            if promoted:
                self.registry.promote(challenger.version, "; ".join(reasons))
            else:
                self.registry.keep_pending(challenger.version, "; ".join(reasons))
            say("done", 1.0)
            return RetrainDecision(challenger.version, champion_version, promoted, reasons,
                                   challenger.metrics["recent"], champ_metrics, time.perf_counter() - started)

    def rollback(self, to_version: str | None = None) -> str:
        with self._exclusive():
            return self.registry.rollback(to_version)

    # -- reasons to retrain and the upkeep ----------------------------------------------------------
    def retrained_on_current_data(self) -> str | None:
        """The newest version trained on exactly the data in the store now, if any: retraining
        again would give the same model (training is deterministic), whatever the drift says."""
        version = self.engine.data_version()
        setup = self.engine.config.as_stored()
        same = [v for v, meta in self.registry.index().get("versions", {}).items()
                if meta.get("training_window", {}).get("data_version") == version and meta.get("parameters") == setup]
        return max(same) if same else None

    def champion_setup(self) -> dict | None:
        """The set-up the champion was trained with, as its registry entry keeps it (an artifact
        pickled before a parameter existed would read that parameter's new default)."""
        version = self.registry.champion_version()
        return self.registry.index().get("versions", {}).get(version or "", {}).get("parameters")

    def setup_changed(self) -> bool:
        """The champion was trained with another set-up than this engine's (an upgrade changed a
        parameter or added one): its successor should be trained and its backtest re-run."""
        setup = self.champion_setup()
        return setup is not None and setup != self.engine.config.as_stored()

    def backtest_due(self) -> bool:
        """No backtest yet, or the latest one is a season or three races behind the results, or it
        trained another set-up than this engine's, was made by other code or without weather the
        store has now (so it would not describe the model served)."""
        latest = self.records.latest_backtest()
        last_race = self.engine.store.last_race_with_results()
        if last_race is None:
            return False
        return (latest is None or int(latest["summary"].get("to_season", 0)) < last_race.season
                or self.records.backtest_races_behind(latest) >= 3
                or latest.get("config") != self.engine.config.as_stored()
                or latest["summary"].get("code") != BACKTEST_CODE
                or latest["summary"].get("weather_rows") != self.engine.store.observed_weather_rows())

    def retrain_triggers(self) -> list[tuple[str, str]]:
        """Why the champion may be due for a retrain, as (kind, plain words): 'no-model', 'set-up'
        (trained with other parameters than this version of the code uses), 'new-results', 'new-weather'
        (weather of finished races the champion did not have), 'drift', 'accuracy' (live track record
        worse than expected), 'age'. Once a model has been trained with this set-up on the data as it
        is, only new data can be a reason."""
        bundle = self.engine.champion()
        if bundle is None:
            return [("no-model", "no model file can be loaded" if self.registry.champion_version()
                     else "there is no model yet")]
        if self.retrained_on_current_data():
            return []
        triggers = []
        if self.setup_changed():
            triggers.append(("set-up", "the training set-up changed since the champion was trained"))
        done = self.engine.store.races_with_results(since_season=bundle.config.stage2_from)
        new = len(done) - bundle.training_window.get("races", 0)
        if new > 0:
            triggers.append(("new-results", f"{new} race(s) with results since the champion was trained"))
        weather_now = self.engine.store.observed_weather_rows()
        if "weather_rows" not in bundle.training_window and weather_now:
            triggers.append(("new-weather", "the champion was trained before models kept how much weather they "
                                            "learned from"))
        elif weather_now > bundle.training_window.get("weather_rows", 0):
            triggers.append(("new-weather", f"{weather_now - bundle.training_window['weather_rows']} weather "
                                            "record(s) of finished races arrived since the champion was trained"))
        try:
            summary = self.engine.drift_summary()
            if summary["suggest_retrain"]:
                triggers.append(("drift", summary["message"]))
        except Exception as exc:  # drift is advisory; a failure must not block the other triggers
            log.warning("drift check failed: %s", exc)
        record = self.records.track_record()
        if not record.empty:
            # the expectation is the post-qualifying walk-forward's: a race frozen before
            # qualifying is scored against another, higher figure (`evaluate_recent`)
            record = record[(record["session"] == "race") & (record["mode"] == POST)]
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
        """What runs after every refresh: retrain when there is no model or new results arrived
        (other triggers at most once a day), freeze the predictions users see, and keep the
        backtest current. Returns what it did, in plain words."""
        done: list[str] = []
        if self.engine.store.is_empty():
            return done
        triggers = self.retrain_triggers()
        kinds = {k for k, _ in triggers}
        last = max((h["at"] for h in self.registry.history()), default=None)
        stale = last is None or dt.datetime.now(dt.timezone.utc) - dt.datetime.fromisoformat(last) > dt.timedelta(days=1)
        if kinds & {"no-model", "set-up", "new-results", "new-weather"} or (kinds and stale):
            try:
                decision = self.retrain(within(progress, 0, 1, "retraining: "))
                done.append(f"retrained ({'; '.join(m for _, m in triggers)}): {decision.summary}")
            except RetrainInProgress:
                done.append("a retrain was already running")
        if self.registry.champion_version():
            (progress or silent)("freezing the predictions shown")
            written = self.freeze_predictions()
            if written:
                done.append(f"froze {written} prediction rows")
        frozen = self.freeze_season_odds(within(progress, 0, 1, "championship: "))
        if frozen:
            done.append(frozen)
        if self.backtest_due():
            # a store or set-up that starts late has no honest backtest of its earliest seasons
            first = max(BACKTEST_FROM, self.engine.config.pre_stage2_from + 1)
            run_id, summary = self.run_backtest(first, None, within(progress, 0, 1, "backtest: "))
            done.append(f"backtest run {run_id} over {summary['races']} races")
        due = self.season_backtest_due()
        if due is not None:
            run_id, per = self.run_season_backtest(due, within(progress, 0, 1, "championship replay: "))
            done.append(f"championship replay run {run_id} over {len(per)} checkpoints")
        return done

    def season_backtest_settings(self, seasons: range) -> dict:
        """What a stored championship replay of `seasons` is compared on: the seasons, the set-up and
        the code that made it."""
        from f1core.engine.season_backtest import SEASON_BACKTEST_CODE

        return {"from": seasons.start, "to": seasons.stop - 1, "config": self.engine.config.as_stored(),
                "code": SEASON_BACKTEST_CODE}

    def season_backtest_due(self) -> range | None:
        """The seasons the championship replay should cover (from `SEASON_BACKTEST_FROM`, or the
        first season the set-up can replay, to the last complete one), when the stored replay is
        missing, covers others, or was made by another set-up or other code; else None."""
        from f1core.engine.season import first_replayable_season
        from f1core.engine.season_backtest import checkpoints

        last_race = self.engine.store.last_race_with_results()
        if last_race is None or not self.registry.champion_version():
            return None
        first = max(SEASON_BACKTEST_FROM, first_replayable_season(self.engine.config))
        points = checkpoints(self.engine.store, set(range(first, last_race.season + 1)))
        if not points:
            return None
        seasons = range(first, max(season for season, _ in points) + 1)
        latest = self.records.latest_season_backtest()
        if latest is not None and latest[0]["settings"] == self.season_backtest_settings(seasons):
            return None
        return seasons

    def run_season_backtest(self, seasons: range, progress: Progress | None = None) -> tuple[int, pd.DataFrame]:
        """Replay the complete seasons of `seasons` at their checkpoints and store the scores for the
        Accuracy page; returns (run id, one row per checkpoint)."""
        from f1core.engine.season_backtest import season_backtest

        started = time.perf_counter()
        per = season_backtest(self.engine, seasons, progress)
        if per.empty:
            raise NotEnoughData(f"no complete season between {seasons.start} and {seasons.stop - 1} in the store")
        run_id = self.records.add_season_backtest(per, time.perf_counter() - started,
                                                  self.season_backtest_settings(seasons))
        return run_id, per

    def freeze_season_odds(self, progress: Progress | None = None) -> str | None:
        """Keep the championship odds of the season in progress after its latest round (what the
        app shows now), and replay the earlier rounds not kept yet with models trained only on the
        races before each, so the title odds can be drawn through the season."""
        from f1core.engine.season import last_round_with_results

        last_race = self.engine.store.last_race_with_results()
        if last_race is None or not self.registry.champion_version():
            return None
        season = last_race.season
        latest = last_round_with_results(self.engine.store, season)
        have = self.records.season_odds_rounds(season)
        made = []
        if latest not in have or not self._frozen(season, latest):
            self.records.add_season_odds(self.engine.season_outlook(season, latest), "frozen")
            made.append(latest)
        missing = [r for r in range(latest) if r not in have]
        for i, rnd in enumerate(missing):
            self.records.add_season_odds(self.engine.season_outlook(season, rnd), "replay")
            made.append(rnd)
            (progress or silent)(f"title odds after round {rnd}", (i + 1) / len(missing))
        if not made:
            return None
        return f"title odds of {season} kept after round(s) {', '.join(map(str, sorted(made)))}"

    def _frozen(self, season: int, after_round: int) -> bool:
        return bool(self.engine.store.scalar(
            "SELECT count(*) FROM season_odds WHERE season = ? AND after_round = ? AND source = 'frozen'",
            [season, after_round]))

    def run_backtest(self, from_season: int = BACKTEST_FROM, to_season: int | None = None,
                     progress: Progress | None = None) -> tuple[int, dict]:
        """Walk-forward backtest with the engine's configuration, stored; returns (run id, summary)."""
        weather_rows = self.engine.store.observed_weather_rows()
        frame = self.engine.frame()
        config = self.engine.config
        stage1_hist = self.stage1_history(frame, config, within(progress, 0, 0.2))
        result = walk_forward(frame, from_season, to_season, config, stage1_hist,
                              progress=within(progress, 0.2, 1.0), reference=self.engine.reference_poles_for(frame))
        summary = result.summary()
        summary.update({"from_season": from_season, "to_season": to_season or int(result.per_race["season"].max()),
                        "weather_rows": weather_rows})
        run_id = self.records.add_backtest(result, summary, self.registry.champion_version())
        return run_id, summary

    def freeze_predictions(self, now: dt.datetime | None = None, n_races: int = 3, min_hours: float = 6) -> int:
        """Freeze the predictions users see for the next races (before their start), at most once
        every `min_hours` per race, mode and model version. Returns rows written."""
        now = now or clock.now(self.engine.today_override)
        naive_now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
        written = 0
        for race in self.engine.store.next_races(now.date(), n_races):
            if race.start_utc <= now:
                continue
            sprint_start = self.records.sprint_start(race)
            sprint = sprint_start is not None and sprint_start > naive_now
            for predict in [self.engine.predict_race] + ([self.engine.predict_sprint] if sprint else []):
                pred = predict(race.season, race.round)
                last = self.records.last_logged(race.season, race.round, pred.mode, pred.model_version)
                if last is not None and naive_now - last < dt.timedelta(hours=min_hours):
                    continue
                written += self.records.log_prediction(pred, naive_now)
        return written

"""Everything the engine writes into the store and reads back: stage 1's walk-forward history,
backtest runs with their per-race scores and probabilities, and the prediction log (what users
saw before each race) with the track record scored from it. Every write is one transaction."""
from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from f1core.engine.backtest import BacktestResult, score_race
from f1core.engine.predict import RacePrediction
from f1core.store import RaceRef, Store


def _insert(cur, table: str, frame: pd.DataFrame) -> None:
    """Insert the columns of `frame` that `table` has."""
    cols = [r[0] for r in cur.execute(f"DESCRIBE {table}").fetchall()]
    frame = frame[[c for c in cols if c in frame.columns]]
    cur.register("records_stage", frame)
    try:
        cur.execute(f"INSERT INTO {table} ({', '.join(frame.columns)}) SELECT * FROM records_stage")
    finally:
        cur.unregister("records_stage")


class Records:
    def __init__(self, store: Store):
        self.store = store

    # -- stage 1's walk-forward history ----------------------------------------------------------
    def stage1_known(self, config_key: str) -> pd.DataFrame:
        return self.store.read(
            "SELECT season, round, driver_ref, pred_gap FROM stage1_walkforward WHERE config_key = ?", [config_key])

    def add_stage1(self, fresh: pd.DataFrame, config_key: str) -> None:
        if fresh.empty:
            return
        with self.store.transaction() as cur:
            _insert(cur, "stage1_walkforward", fresh[["season", "round", "driver_ref", "pred_gap"]].assign(
                config_key=config_key))

    # -- backtest runs ---------------------------------------------------------------------------
    def add_backtest(self, result: BacktestResult, summary: dict, model_version: str | None) -> int:
        """Store a walk-forward run with every per-race score and probability; returns its id."""
        with self.store.transaction() as cur:
            run_id = cur.execute(
                "INSERT INTO backtest_runs (created_at, model_version, from_season, to_season, seconds, config, summary) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING run_id",
                [dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), model_version, summary["from_season"],
                 summary["to_season"], result.seconds, json.dumps(result.config.as_stored()),
                 json.dumps(summary, default=float)],
            ).fetchone()[0]
            _insert(cur, "backtest_predictions", result.predictions.assign(run_id=run_id))
            _insert(cur, "backtest_race_metrics", result.per_race.assign(run_id=run_id))
            errors = result.stage1_per_race["laptime_abs_errors"]
            _insert(cur, "backtest_stage1", result.stage1_per_race.drop(columns=["laptime_abs_errors"]).assign(
                run_id=run_id, drivers=errors.map(len),
                laptime_median_abs_error_s=errors.map(lambda e: float(np.median(e)) if len(e) else np.nan)))
        return run_id

    def latest_backtest_id(self) -> int:
        """0 before any backtest; a cache key for everything derived from backtests."""
        return int(self.store.scalar("SELECT coalesce(max(run_id), 0) FROM backtest_runs") or 0)

    def latest_backtest(self) -> dict | None:
        row = self.store.read("SELECT run_id, created_at, model_version, seconds, config, summary FROM backtest_runs "
                              "ORDER BY run_id DESC LIMIT 1")
        if row.empty:
            return None
        r = row.iloc[0]
        return {"run_id": int(r.run_id), "created_at": r.created_at, "model_version": r.model_version,
                "seconds": float(r.seconds), "config": json.loads(r.config) if r.config else {},
                "summary": json.loads(r.summary)}

    def backtest_races_behind(self, latest: dict) -> int:
        """Races with results since the run's first season that the run did not score."""
        scored = self.store.scalar("SELECT count(DISTINCT (season, round)) FROM backtest_race_metrics WHERE run_id = ?",
                                   [latest["run_id"]])
        since = self.store.races_with_results(since_season=int(latest["summary"].get("from_season", 2022)))
        return len(since) - int(scored or 0)

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

    # -- the prediction log ----------------------------------------------------------------------
    def last_logged(self, season: int, round_: int, mode: str, model_version: str) -> dt.datetime | None:
        return self.store.scalar(
            "SELECT max(logged_at) FROM prediction_log WHERE season = ? AND round = ? AND mode = ? "
            "AND model_version = ?", [season, round_, mode, model_version])

    def last_logged_at(self) -> dt.datetime | None:
        return self.store.scalar("SELECT max(logged_at) FROM prediction_log")

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
            _insert(cur, "prediction_log", frame)
        return len(frame)

    def sprint_start(self, race: RaceRef) -> dt.datetime | None:
        """When the weekend's sprint starts (naive UTC; noon when the time is not announced), or
        None for a weekend without a sprint."""
        row = self.store.read("SELECT sprint_date, sprint_time FROM races WHERE season = ? AND round = ?",
                              [race.season, race.round])
        if row.empty or pd.isna(row.iloc[0]["sprint_date"]):
            return None
        at = row.iloc[0]["sprint_time"]
        return dt.datetime.combine(pd.Timestamp(row.iloc[0]["sprint_date"]).date(),
                                   at if at is not None and not pd.isna(at) else dt.time(12, 0))

    def frozen_prediction(self, race: RaceRef, session: str = "race") -> pd.DataFrame:
        """The last prediction frozen before the race (or, with session 'sprint', the sprint)
        started; empty when there is none."""
        if session == "sprint":
            start, modes = self.sprint_start(race), "mode = 'sprint'"
            if start is None:
                return pd.DataFrame()
        else:
            start, modes = race.start_utc.replace(tzinfo=None), "mode <> 'sprint'"
        return self.store.read(
            f"""
            WITH last AS (SELECT max(logged_at) AS at FROM prediction_log
                          WHERE season = ? AND round = ? AND logged_at < ? AND {modes})
            SELECT p.* FROM prediction_log p, last
            WHERE p.season = ? AND p.round = ? AND p.logged_at = last.at AND {modes}
            """, [race.season, race.round, start, race.season, race.round])

    def track_record(self) -> pd.DataFrame:
        """Every race and sprint with results that had a frozen prediction, scored: the public
        track record (one row per session; `session` is 'race' or 'sprint')."""
        logged = self.store.read(
            """
            SELECT DISTINCT p.season, p.round, p.mode = 'sprint' AS sprint FROM prediction_log p
            WHERE EXISTS (SELECT 1 FROM results r WHERE r.season = p.season AND r.round = p.round)
               OR EXISTS (SELECT 1 FROM sprint_results s WHERE s.season = p.season AND s.round = p.round)
            """)
        rows = []
        for season, rnd, sprint in logged.itertuples(index=False):
            session = "sprint" if sprint else "race"
            race = self.store.race(int(season), int(rnd))
            frozen = self.frozen_prediction(race, session)
            table = "sprint_results" if sprint else "results"
            actual = self.store.read(f"SELECT driver_ref, position_order FROM {table} WHERE season = ? AND round = ?",
                                     [int(season), int(rnd)])
            if frozen.empty or actual.empty:
                continue
            rows.append({"season": int(season), "round": int(rnd), "race": race.name, "date": race.date,
                         "session": session, "mode": frozen["mode"].iloc[0],
                         "model_version": frozen["model_version"].iloc[0], "logged_at": frozen["logged_at"].iloc[0],
                         **score_race(frozen, actual)})
        out = pd.DataFrame(rows)
        return out.sort_values(["date", "session"], ascending=False).reset_index(drop=True) if not out.empty else out

    # -- the championship through the season -------------------------------------------------------
    def add_season_odds(self, outlook, source: str, computed_at: dt.datetime | None = None) -> int:
        """Keep an outlook's title odds (drivers and constructors) under `source` ('frozen' or
        'replay'), replacing an earlier one of the same season, round and source."""
        at = (computed_at or dt.datetime.now(dt.timezone.utc)).replace(tzinfo=None)
        cols = ["points_now", "p_title", "points_expected", "points_p10", "points_p90"]
        frame = pd.concat([
            outlook.drivers.rename(columns={"driver_ref": "ref"}).assign(kind="driver")[["ref", "kind", *cols]],
            outlook.constructors.rename(columns={"constructor_ref": "ref"}).assign(kind="constructor")[
                ["ref", "kind", *cols]],
        ]).assign(season=outlook.season, after_round=outlook.after_round, source=source,
                  model_version=outlook.model_version, computed_at=at)
        with self.store.transaction() as cur:
            cur.execute("DELETE FROM season_odds WHERE season = ? AND after_round = ? AND source = ?",
                        [outlook.season, outlook.after_round, source])
            _insert(cur, "season_odds", frame)
        return len(frame)

    def season_odds(self, season: int, kind: str = "driver") -> pd.DataFrame:
        """The title odds after every round of `season` that has them, the frozen ones first
        choice: season, after_round, ref, source, p_title, points..."""
        return self.store.read(
            """
            SELECT * FROM season_odds WHERE season = ? AND kind = ?
            QUALIFY dense_rank() OVER (PARTITION BY after_round ORDER BY source = 'frozen' DESC) = 1
            ORDER BY after_round, p_title DESC
            """, [season, kind])

    def season_odds_rounds(self, season: int) -> set[int]:
        rows = self.store.read("SELECT DISTINCT after_round FROM season_odds WHERE season = ?", [season])
        return {int(r) for r in rows["after_round"]}

    def add_season_backtest(self, per_checkpoint: pd.DataFrame, seconds: float, settings: dict) -> int:
        with self.store.transaction() as cur:
            run_id = cur.execute(
                "INSERT INTO season_backtest_runs (created_at, seconds, settings) VALUES (?, ?, ?) RETURNING run_id",
                [dt.datetime.now(dt.timezone.utc).replace(tzinfo=None), seconds, json.dumps(settings)]).fetchone()[0]
            _insert(cur, "season_checkpoints", per_checkpoint.assign(run_id=run_id))
        return run_id

    def latest_season_backtest_id(self) -> int:
        return int(self.store.scalar("SELECT coalesce(max(run_id), 0) FROM season_backtest_runs") or 0)

    def latest_season_backtest(self) -> tuple[dict, pd.DataFrame] | None:
        run = self.store.read("SELECT * FROM season_backtest_runs ORDER BY run_id DESC LIMIT 1")
        if run.empty:
            return None
        r = run.iloc[0]
        per = self.store.read("SELECT * FROM season_checkpoints WHERE run_id = ? ORDER BY season, after_round",
                              [int(r.run_id)])
        return {"run_id": int(r.run_id), "created_at": r.created_at, "seconds": float(r.seconds),
                "settings": json.loads(r.settings)}, per

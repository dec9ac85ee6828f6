"""How good the championship odds have been: past seasons replayed at checkpoints, each
projection made with models trained only on the races before it, scored against the final
standings beside a plain baseline (every driver's title chance is his share of the points
scored so far, so the current leader is the favourite; before the first race, his share of last
season's points, so last season's champion is)."""
from __future__ import annotations

import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd

from f1core.engine import season as _season_module
from f1core.engine.backtest import BACKTEST_CODE, mean_interval
from f1core.engine.season import (
    DRIVER_DRIFT,
    SEASON_SIMS,
    TEAM_DRIFT,
    last_round_with_results,
    points_system,
    remaining_weekends,
    replay_models,
    simulate_season,
    sprint_dnf_ratio,
    standings_after,
)
from f1core.engine.training import in_parallel
from f1core.files import code_hash
from f1core.progress import Progress, steps
from f1core.store import Store

TUNING_SEASONS = range(2010, 2022)  # the drift of the season simulation was chosen on these
CHECKPOINT_METRICS = ["favourite_won", "champion_logloss", "title_brier", "champion_brier", "band_coverage"]
SHARE_METRICS = frozenset({"favourite_won"})  # 1 or 0 per checkpoint: Wilson's interval
EPS = 1e-4


STAGES = {0: "before the season", 6: "after round 6", 12: "after round 12"}
LATE_STAGE = "three rounds before the end"


def checkpoints(store: Store, seasons) -> list[tuple[int, int]]:
    """(season, after_round): before the first race (round 0: the pre-season odds, which a rule
    change tests hardest), after rounds 6 and 12 and three rounds before the end of every complete
    season in `seasons`."""
    rounds = store.read("SELECT season, max(round) AS n, count(*) AS races FROM races r WHERE EXISTS "
                        "(SELECT 1 FROM results x WHERE x.season = r.season AND x.round = r.round) GROUP BY season")
    planned = store.read("SELECT season, max(round) AS n FROM races GROUP BY season").set_index("season")["n"]
    out = []
    for row in rounds.itertuples(index=False):
        season, n = int(row.season), int(row.n)
        if season not in seasons or int(planned.get(season, n)) != n or row.races != n:
            continue  # only seasons whose every race has results
        out += [(season, r) for r in sorted({*STAGES, n - 3}) if 0 <= r < n]
    return sorted(out)


@dataclass
class Replay:
    """One checkpoint's inputs, kept so the simulation can be run again with other settings."""
    season: int
    after_round: int
    weekends: list
    drivers_now: pd.DataFrame
    teams_now: pd.DataFrame
    final: pd.DataFrame  # driver_ref, points, wins at the end of the season
    last_season: pd.DataFrame | None = None  # driver_ref, points of the season before (the baseline's before round 1)


def prepare(engine, season: int, after_round: int) -> Replay:
    store = engine.store
    models = replay_models(engine, season, after_round)
    weekends = remaining_weekends(store, engine.frame(), models, season, after_round)
    drivers_now, teams_now = standings_after(store, season, after_round)
    final = standings_after(store, season, last_round_with_results(store, season))[0]
    before = last_round_with_results(store, season - 1)
    last_season = standings_after(store, season - 1, before)[0] if before else None
    return Replay(season, after_round, weekends, drivers_now, teams_now, final, last_season)


def baseline_share(replay: Replay, drivers: pd.Index) -> pd.Series:
    """The baseline's title chances for `drivers`: each one's share of the points scored so far;
    before any (round 0), of last season's points; with none of either, equal chances."""
    for standings in (replay.drivers_now, replay.last_season):
        if standings is None or standings.empty:
            continue
        points = standings.set_index("driver_ref")["points"].reindex(drivers).fillna(0)
        if points.sum() > 0:
            return points / points.sum()
    return pd.Series(1 / len(drivers), index=drivers)


def score(engine, replay: Replay, n_sims: int = SEASON_SIMS, team_drift: float = TEAM_DRIFT,
          driver_drift: float = DRIVER_DRIFT, dnf_ratio: float | None = None) -> dict:
    store = engine.store
    outlook = simulate_season(replay.season, replay.after_round, replay.weekends, replay.drivers_now,
                              replay.teams_now, points_system(store, replay.season), "replay",
                              n_sims=n_sims, team_drift=team_drift, driver_drift=driver_drift,
                              sprint_dnf_ratio=sprint_dnf_ratio(store, replay.season, replay.after_round)
                              if dnf_ratio is None else dnf_ratio)
    final = replay.final.assign(key=replay.final["points"] * 100 + replay.final["wins"])
    champion = final.sort_values("key", ascending=False).iloc[0]["driver_ref"]
    d = outlook.drivers.set_index("driver_ref")
    p = d["p_title"]
    won = (p.index == champion).astype(float)
    share = baseline_share(replay, d.index)
    band = d.join(final.set_index("driver_ref")["points"].rename("final"), how="inner")
    inside = (band["final"] >= band["points_p10"]) & (band["final"] <= band["points_p90"])
    return {
        "season": replay.season, "after_round": replay.after_round, "champion": champion,
        "favourite": p.idxmax(), "p_champion": float(p.get(champion, 0.0)),
        "favourite_won": float(p.idxmax() == champion),
        "champion_logloss": float(-np.log(max(p.get(champion, 0.0), EPS))),
        "title_brier": float(((p.to_numpy() - won) ** 2).sum()),
        "champion_brier": float((1 - p.get(champion, 0.0)) ** 2),
        "band_coverage": float(inside.mean()), "drivers": int(len(band)),
        "baseline_p_champion": float(share.get(champion, 0.0)),
        "baseline_favourite_won": float(share.idxmax() == champion),
        "baseline_champion_logloss": float(-np.log(max(share.get(champion, 0.0), EPS))),
        "baseline_title_brier": float(((share.to_numpy() - (share.index == champion)) ** 2).sum()),
        "baseline_champion_brier": float((1 - share.get(champion, 0.0)) ** 2),
    }


def season_backtest(engine, seasons, progress: Progress | None = None, **settings) -> pd.DataFrame:
    """Every checkpoint of `seasons`, scored (one row each). The checkpoints do not depend on one
    another, so their models train side by side (`training.in_parallel`)."""
    points = checkpoints(engine.store, set(seasons))
    if points:  # the qualifying model's history, which every checkpoint reads, is made (and kept) once
        engine.lifecycle.stage1_history(engine.frame(), engine.config)
    rows = []
    replays = in_parallel(lambda point: score(engine, prepare(engine, *point), **settings), points)
    for i, ((season, after), row) in enumerate(zip(points, replays)):
        rows.append(row)
        steps(progress, f"season checkpoints ({season} after round {after})", i + 1, len(points))
    return pd.DataFrame(rows)


def season_groups(per_checkpoint: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The checkpoints of all seasons, of the tuning seasons and of the later (out-of-sample) ones."""
    return {"all": per_checkpoint,
            f"{TUNING_SEASONS.start}–{TUNING_SEASONS.stop - 1}": per_checkpoint[
                per_checkpoint["season"].isin(TUNING_SEASONS)],
            f"{TUNING_SEASONS.stop} on": per_checkpoint[per_checkpoint["season"] >= TUNING_SEASONS.stop]}


def stage_groups(per_checkpoint: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The checkpoints by when in the season they were made (`STAGES`, then the late one)."""
    stage = per_checkpoint["after_round"].map(lambda r: STAGES.get(int(r), LATE_STAGE))
    return {name: per_checkpoint[stage == name] for name in [*STAGES.values(), LATE_STAGE]}


def summarise(per_checkpoint: pd.DataFrame, groups: dict[str, pd.DataFrame] | None = None) -> pd.DataFrame:
    """Mean of each metric for the model and the baseline, with a 90% interval over checkpoints
    (`backtest.mean_interval`), per group (default `season_groups`): group, predictor, metric,
    value, lo, hi, checkpoints."""
    rows = []
    for group, g in (season_groups(per_checkpoint) if groups is None else groups).items():
        if g.empty:
            continue
        for predictor, prefix in (("model", ""), ("leader's share", "baseline_")):
            for metric in CHECKPOINT_METRICS:
                col = prefix + metric
                if col not in g:
                    continue
                values = g[col].to_numpy(dtype=float)
                lo, hi = mean_interval(values, share=metric in SHARE_METRICS)
                rows.append({"group": group, "predictor": predictor, "metric": metric,
                             "value": float(np.nanmean(values)), "lo": lo, "hi": hi, "checkpoints": int(len(g))})
    return pd.DataFrame(rows)


# The code a stored replay's figures come from (with the models' own, which the backtest's hash
# covers): the upkeep replays again when it changed (`lifecycle.season_backtest_due`)
SEASON_BACKTEST_CODE = code_hash(sys.modules[__name__], _season_module) + BACKTEST_CODE

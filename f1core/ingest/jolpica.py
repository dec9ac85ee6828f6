"""Client and importer for the Jolpica API (Ergast-compatible JSON).

The importer fetches everything it needs first, checks every response completely, and only then
writes, in one transaction: a bad page anywhere means nothing from the run lands. What it fetches is
kept small because the unauthenticated API allows about 500 requests an hour: season-level paged
endpoints when many races are missing, one request per race when only a couple are.
"""
from __future__ import annotations

import datetime as dt
import logging
import math
from typing import Callable

from f1core.config import DEFAULT_JOLPICA_URL
from f1core.ingest import recheck
from f1core.ingest.ergast_json import Batch, Known, Page
from f1core.ingest.http import DEFAULT_DEADLINE_S, DEFAULT_TIMEOUT, ApiClient, SourceError
from f1core.ingest.runs import IngestError, RunResult, ingestion_run
from f1core.ingest.validate import json_int, json_list, json_obj
from f1core.schema import PRIMARY_KEYS, SOURCE_TABLES
from f1core.store import Store

log = logging.getLogger(__name__)

PAGE_LIMIT = 100  # the most Jolpica hands out per page
MAX_PAGES = 500  # a paging loop that runs longer than this is a server bug, not data
# Used only to guess how many pages a season-level request needs when choosing between
# season-level and per-race requests; a wrong guess costs a few requests, never data.
ROWS_PER_RACE = 22

Progress = Callable[[str], None] | None


# --- the client ---------------------------------------------------------------------------------

class JolpicaClient(ApiClient):
    """Talks to `{base_url}/...json`, following `limit`/`offset` paging. Returns the validated
    envelope contents (lists of Ergast objects); mapping to store rows happens in `ergast_json`."""

    def __init__(
        self,
        base_url: str = DEFAULT_JOLPICA_URL,
        session=None,
        rate_per_s: float = 4.0,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        *,
        retries: int = 3,
        backoff_factor: float = 0.5,
        deadline_s: float = DEFAULT_DEADLINE_S,
        page_limit: int = PAGE_LIMIT,
    ):
        super().__init__(base_url.rstrip("/"), session, rate_per_s=rate_per_s, timeout=timeout, retries=retries,
                         backoff_factor=backoff_factor, deadline_s=deadline_s)
        self.page_limit = page_limit

    def paged(self, path: str, table: str, items_key: str, rows_key: str | None = None) -> list[Page]:
        """Every page of `{base}/{path}`. Ergast counts `total` in rows of the innermost list
        (Results of all races, not races), so with `rows_key` the page size is checked against
        those rows; a page holding fewer rows than promised is treated as truncated."""
        url = f"{self.base_url}/{path}"
        pages: list[Page] = []
        offset = 0
        first_total: int | None = None
        while True:
            where = f"{url}?limit={self.page_limit}&offset={offset}"
            data = self.http.get_json(url, {"limit": self.page_limit, "offset": offset})
            mr = json_obj(data, "MRData", where, "the response")
            total = json_int(mr, "total", where, "MRData", required=True)
            limit = json_int(mr, "limit", where, "MRData", required=True)
            got_offset = json_int(mr, "offset", where, "MRData", required=True)
            if first_total is None:
                first_total = total
            elif total != first_total:  # rows came or went between pages: some were skipped or repeated
                raise SourceError(f"{where}: MRData.total is {total}, but the first page said {first_total}; "
                                  "the data changed while it was being read")
            if got_offset != offset:
                raise SourceError(f"{where}: MRData.offset is {got_offset}, asked for {offset}")
            if limit <= 0:
                raise SourceError(f"{where}: MRData.limit is {limit}; cannot page")
            body = json_obj(mr, table, where, "MRData")
            items = json_list(body, items_key, where, f"MRData.{table}")
            if rows_key is None:
                count = len(items)
            else:
                count = 0
                for i, item in enumerate(items):
                    if not isinstance(item, dict):
                        raise SourceError(f"{where}: MRData.{table}.{items_key}[{i}] is not an object")
                    count += len(json_list(item, rows_key, where, f"MRData.{table}.{items_key}[{i}]"))
            expected = max(0, min(limit, total - offset))
            if count < expected:
                raise SourceError(
                    f"{where}: the page holds {count} rows but MRData promises {expected} "
                    f"(total {total}, limit {limit}); truncated response?"
                )
            pages.append(Page(where, items))
            offset += limit
            if offset >= total:
                return pages
            if len(pages) >= MAX_PAGES:
                raise SourceError(f"{url}: more than {MAX_PAGES} pages (total {total}); refusing to loop on")

    # Ergast endpoints --------------------------------------------------------------------------
    def schedule(self, season: int) -> list[Page]:
        return self.paged(f"{season}.json", "RaceTable", "Races")

    def results(self, season: int, round_: int | None = None) -> list[Page]:
        return self.paged(f"{_season_path(season, round_)}/results.json", "RaceTable", "Races", "Results")

    def qualifying(self, season: int, round_: int | None = None) -> list[Page]:
        return self.paged(f"{_season_path(season, round_)}/qualifying.json", "RaceTable", "Races", "QualifyingResults")

    def sprint(self, season: int, round_: int | None = None) -> list[Page]:
        return self.paged(f"{_season_path(season, round_)}/sprint.json", "RaceTable", "Races", "SprintResults")

    def seasons(self) -> list[Page]:
        return self.paged("seasons.json", "SeasonTable", "Seasons")

    def drivers(self, season: int | None = None) -> list[Page]:
        return self.paged(f"{season}/drivers.json" if season else "drivers.json", "DriverTable", "Drivers")

    def constructors(self, season: int | None = None) -> list[Page]:
        return self.paged(f"{season}/constructors.json" if season else "constructors.json", "ConstructorTable", "Constructors")


def _season_path(season: int, round_: int | None) -> str:
    return f"{season}/{round_}" if round_ is not None else str(season)


# --- deciding what to fetch ---------------------------------------------------------------------

def _season_pages(n_races: int) -> int:
    return max(1, math.ceil(n_races * ROWS_PER_RACE / PAGE_LIMIT))


def _fetch_race_data(
    client: JolpicaClient, batch: Batch, season: int, race_keys: list[tuple[int, int]],
    needs_quali: set[tuple[int, int]], needs_sprint: set[tuple[int, int]], races_run: int,
    say: Callable[[str], None], force_season_level: bool = False,
) -> None:
    """Results (and qualifying, sprint results where needed) for `race_keys` of one season, by the
    cheaper of season-level paging and one request per race."""
    if not race_keys and not needs_quali:
        return
    wanted_results = set(race_keys)
    per_race = len(race_keys) + len(needs_quali) + len(needs_sprint)
    # Season-level endpoints page over every race run so far; sprints are about a third of them.
    season_level = (
        (1 if race_keys else 0) * _season_pages(races_run)
        + (1 if needs_quali else 0) * _season_pages(races_run)
        + (1 if needs_sprint else 0) * _season_pages(max(1, races_run // 3))
    )
    if force_season_level or season_level < per_race:
        say(f"{season}: fetching results season-wide ({len(race_keys)} races to fetch or check again)")
        if race_keys:
            batch.add_rows("results", client.results(season), lambda k: k in wanted_results, (season, None))
        if needs_quali:
            batch.add_rows("qualifying", client.qualifying(season), lambda k: k in needs_quali, (season, None))
        if needs_sprint:
            batch.add_rows("sprint_results", client.sprint(season), lambda k: k in needs_sprint, (season, None))
        return
    for key in sorted(set(race_keys) | needs_quali | needs_sprint):
        say(f"{key[0]} R{key[1]}: fetching " + ", ".join(
            kind for kind, needed in (("results", key in wanted_results), ("qualifying", key in needs_quali),
                                      ("sprint", key in needs_sprint)) if needed))
        if key in wanted_results:
            batch.add_rows("results", client.results(*key), lambda k, key=key: k == key, key)
        if key in needs_quali:
            batch.add_rows("qualifying", client.qualifying(*key), lambda k, key=key: k == key, key)
        if key in needs_sprint:
            batch.add_rows("sprint_results", client.sprint(*key), lambda k, key=key: k == key, key)


# Tables keyed by race, for deleting a round that has no results (so "results" itself is never
# touched), and the rows a round can have before it is run, dropped when its event changes.
_RACE_TABLES = [t for t in SOURCE_TABLES if "round" in PRIMARY_KEYS[t] and t != "results"]
_PRE_RACE_TABLES = ["qualifying", "sprint_results", "weather_forecast"]


def _needed(
    listed: list[dict], today: dt.date, known: Known, stale: set[tuple[int, int]],
) -> tuple[list[tuple[int, int]], set[tuple[int, int]], set[tuple[int, int]], int]:
    """From one season's schedule: races run but without results; races needing qualifying (run
    without results, or still to run with qualifying done, so the app can switch to
    post-qualifying mode); sprint weekends run without sprint results; and how many races ran."""
    # Pre-race rows stored under a round whose event has since changed belong to the old event.
    has_quali = known.with_qualifying - stale
    has_sprint = known.with_sprint - stale
    missing, needs_quali, needs_sprint, n_run = [], set(), set(), 0
    for race in listed:
        key = (race["season"], race["round"])
        ran = race["date"] <= today
        n_run += ran
        if key in known.with_results:
            continue
        if ran:
            missing.append(key)
            if race["sprint_date"] is not None and key not in has_sprint:
                needs_sprint.add(key)
        qualified = ran or (race["quali_date"] is not None and race["quali_date"] <= today)
        if qualified and key not in has_quali:
            needs_quali.add(key)
    return missing, needs_quali, needs_sprint, n_run


def _summary(run: RunResult, notes: list[str]) -> str:
    added = ", ".join(f"{t} +{n}" for t, n in run.rows_added.items() if n) or "no new rows"
    corrected = [f"{t} {n} corrected" for t, n in run.rows_corrected.items() if n]
    return "; ".join([added, *corrected, *notes])


def _incomplete(cur, seasons: list[int]) -> list[str]:
    """Races of `seasons` with fewer results than qualifying entries: a short answer, or a driver
    who did not start. Either way they are asked for again at every refresh."""
    rows = cur.execute(
        "SELECT season, round, r.n, q.n FROM "
        "(SELECT season, round, count(*) AS n FROM results WHERE season >= ? GROUP BY ALL) r JOIN "
        "(SELECT season, round, count(*) AS n FROM qualifying WHERE season >= ? GROUP BY ALL) q "
        "USING (season, round) WHERE r.n < q.n ORDER BY season, round", [min(seasons), min(seasons)],
    ).fetchall()
    return [f"{s} R{r}: {nr} results but {nq} in qualifying; asked for again at every refresh"
            for s, r, nr, nq in rows]


def import_new_races(store: Store, client: JolpicaClient, today: dt.date, progress: Progress = None, *,
                     recheck_last: int = recheck.RECHECK_LAST) -> RunResult:
    """Bring the store up to date with the API: the schedule of every season from the last one
    with results to today's, results (qualifying, sprint results) of every race run since, and
    qualifying of a race whose qualifying is done but whose race is not. The last `recheck_last`
    races with results, and races whose results look incomplete, are fetched again and corrected
    where the API now says otherwise (see `recheck`). Rounds without results that the schedule no
    longer lists are deleted; a round with results never is. One transaction."""
    say = progress or (lambda _m: None)
    with ingestion_run(store, "jolpica") as run:
        known = Known.read(store)
        last = store.last_race_with_results()
        first_season = last.season if last else today.year
        seasons = list(range(first_season, max(first_season, today.year) + 1))
        batch = Batch(known)
        notes: list[str] = []

        for season in seasons:
            say(f"{season}: fetching the schedule")
            batch.add_schedule(season, client.schedule(season))

        missing_seasons = {s for s in seasons if s not in known.seasons}
        if missing_seasons:
            batch.add_seasons(client.seasons(), missing_seasons)
            for s in missing_seasons - set(batch.seasons):
                batch.seasons[s] = {"season": s, "url": None}

        to_delete, stale = _schedule_changes(known, batch, seasons, notes)
        again = recheck.races_to_recheck(known, seasons, batch.races, stale, recheck_last)

        # The races checked again may reach back into the season before (early in a new one).
        for season in sorted(set(seasons) | {k[0] for keys in again.values() for k in keys}):
            listed = [batch.races[(season, r)] for r in sorted(batch.schedule_keys.get(season, ()))]
            missing, needs_quali, needs_sprint, n_run = _needed(listed, today, known, stale)
            n_run = n_run or sum(1 for k in known.with_results if k[0] == season)
            of_season = {table: {k for k in keys if k[0] == season} for table, keys in again.items()}
            _fetch_race_data(client, batch, season, sorted(set(missing) | of_season["results"]),
                             needs_quali | of_season["qualifying"], needs_sprint | of_season["sprint_results"],
                             n_run, say)

        frames = batch.frames()
        run.notes += batch.notes()
        say("writing to the store")
        with run.transaction() as cur:
            for key in sorted(to_delete | stale):
                tables = _RACE_TABLES if key in to_delete else _PRE_RACE_TABLES
                # ... and the predictions frozen for the event that was there, which would
                # otherwise be scored against another race's result
                for table in [*tables, "prediction_log"]:
                    cur.execute(f"DELETE FROM {table} WHERE season = ? AND round = ?", list(key))
            found = recheck.corrections(cur, frames, again, notes)
            added, corrected = recheck.apply(cur, found)
            run.add(Store.upsert(cur, frames))
            run.add(added)
            run.corrected(corrected)
            notes[:0] = [c.describe() for c in found]
            notes += _incomplete(cur, seasons)
            run.message = _summary(run, notes)
        say(f"done: {run.message} ({client.requests_made} requests)")
    return run


def _schedule_changes(
    known: Known, batch: Batch, seasons: list[int], notes: list[str],
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]]:
    """Rounds to delete (the schedule dropped them and they have no results) and rounds whose
    event changed (another circuit under the same round number) so their pre-race rows are stale."""
    to_delete: set[tuple[int, int]] = set()
    stale: set[tuple[int, int]] = set()
    for season in seasons:
        listed = batch.schedule_keys.get(season, set())
        stored = {k for k in known.races if k[0] == season}
        if not listed and stored:
            # An empty schedule for a season the store knows is an API hiccup, not a cancelled season.
            log.warning("Jolpica lists no races for %s; keeping the stored calendar", season)
            notes.append(f"the API lists no races for {season}; calendar kept")
            continue
        for key in sorted(stored):
            if key[1] not in listed and key not in known.with_results:
                to_delete.add(key)
                notes.append(f"deleted {key[0]} R{key[1]} (no longer in the schedule)")
    for key, row in batch.races.items():
        if key not in known.races:
            continue
        stored_circuit = known.races[key]
        if stored_circuit == row["circuit_ref"]:
            continue
        if key in known.with_results:
            raise SourceError(
                f"{key[0]} R{key[1]}: the API schedule puts {row['circuit_ref']!r} at this round, but the store "
                f"has results for it at {stored_circuit!r}; refusing to rewrite a race that was run"
            )
        stale.add(key)
    return to_delete, stale


def bootstrap_from_api(
    store: Store, client: JolpicaClient, today: dt.date, first_season: int = 2014, progress: Progress = None,
) -> RunResult:
    """Fill an empty store from the API alone, season by season with season-level paged endpoints
    (about 15 requests a season, well within the hourly allowance). One transaction."""
    if not store.is_empty():
        raise IngestError(f"{store.path}: the store already holds races; use import_new_races to update it")
    say = progress or (lambda _m: None)
    with ingestion_run(store, "jolpica-bootstrap") as run:
        known = Known.read(store)
        batch = Batch(known)
        seasons = list(range(first_season, today.year + 1))
        batch.add_seasons(client.seasons(), set(seasons))
        for season in seasons:
            say(f"{season}: fetching the schedule")
            batch.add_schedule(season, client.schedule(season))
            listed = [batch.races[(season, r)] for r in sorted(batch.schedule_keys[season])]
            run_races = [(r["season"], r["round"]) for r in listed if r["date"] <= today]
            quali = {(r["season"], r["round"]) for r in listed
                     if r["date"] <= today or (r["quali_date"] is not None and r["quali_date"] <= today)}
            sprint = {(r["season"], r["round"]) for r in listed if r["date"] <= today and r["sprint_date"] is not None}
            _fetch_race_data(client, batch, season, run_races, quali, sprint, len(run_races), say,
                             force_season_level=True)
        for s in set(seasons) - set(batch.seasons):
            batch.seasons[s] = {"season": s, "url": None}
        frames = batch.frames()
        run.notes += batch.notes()
        say("writing to the store")
        with run.transaction() as cur:
            run.add(Store.upsert(cur, frames))
        say(f"done ({client.requests_made} requests)")
    return run

"""Jolpica client and importer against a local Ergast-compatible server speaking the real JSON."""
from __future__ import annotations

import datetime as dt
import json
import shutil

import pandas as pd
import pytest

from f1core.ingest.http import SourceError
from f1core.ingest.jolpica import JolpicaClient, bootstrap_from_api, import_new_races
from f1core.ingest.runs import IngestError
from f1core.store import Store
from tests.ingest.apiserver import FIXTURES, FakeApi, FakeJolpica, Reply, Seen, last_run, small_store, store_fingerprint

SEASON_2025 = ["2025_schedule.json", "2025_results.json", "2025_qualifying.json", "2025_sprint.json", "seasons.json"]
AFTER_R3 = dt.date(2025, 4, 7)  # Japan run, Bahrain not yet
BAHRAIN_QUALI_DAY = dt.date(2025, 4, 12)  # Bahrain qualified, race tomorrow


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


@pytest.fixture
def jolpica(api):
    return FakeJolpica(api, *SEASON_2025)


@pytest.fixture(scope="module")
def small_store_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("small") / "f1.duckdb"
    small_store(path).close()
    return path


@pytest.fixture
def store(small_store_file, tmp_path):
    # Built once per module and copied: creating a DuckDB file and migrating it costs more than a test.
    shutil.copy(small_store_file, tmp_path / "f1.duckdb")
    s = Store(tmp_path / "f1.duckdb")
    yield s
    s.close()


def client_for(fake: FakeJolpica, **kw) -> JolpicaClient:
    # Fast settings for tests; production keeps the defaults (4 requests/s, real backoff).
    return JolpicaClient(fake.base_url, rate_per_s=kw.pop("rate_per_s", 500.0), timeout=kw.pop("timeout", (1.0, 2.0)),
                         retries=kw.pop("retries", 2), backoff_factor=0.0, **kw)


def api_paths(api: FakeApi) -> list[str]:
    return [p.removeprefix(FakeJolpica.PREFIX) for p in api.paths()]


# --- paging --------------------------------------------------------------------------------------

def test_paging_reassembles_a_race_split_across_pages(api, jolpica):
    jolpica.max_limit = 4  # 18 result rows of 6 per race: every race straddles a page boundary
    pages = client_for(jolpica).results(2025)
    assert [s.params["offset"] for s in api.seen] == ["0", "4", "8", "12", "16"]
    assert {s.params["limit"] for s in api.seen} == {"100"}  # asks for 100, follows the server's cap
    rows_by_round: dict[str, list[str]] = {}
    for page in pages:
        for race in page.items:
            rows_by_round.setdefault(race["round"], []).extend(r["Driver"]["driverId"] for r in race["Results"])
    assert {r: len(v) for r, v in rows_by_round.items()} == {"1": 6, "2": 6, "3": 6}
    assert sum(1 for page in pages for race in page.items if race["round"] == "1") == 2  # split in two


def test_import_with_small_pages_stores_every_row_of_split_races(api, jolpica, store):
    jolpica.max_limit = 4
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    counts = store.read("SELECT round, count(*) AS n FROM results GROUP BY round ORDER BY round")
    # Round 1 (the store's last race) is checked again and gains the row the store lacked.
    assert counts.to_dict("list") == {"round": [1, 2, 3], "n": [6, 6, 6]}
    assert run.rows_added["results"] == 12 + 1


def assert_a_changed_second_page_is_rejected(api, jolpica, store, change, match: str) -> None:
    """Pages of 4 results; `change` alters the MRData of the page at offset 4; the import must
    fail with `match` and leave the store as it was."""
    before = store_fingerprint(store)

    def changed_second_page(seen: Seen) -> Reply:
        reply = jolpica.handle(seen)
        if seen.params.get("offset") == "4":
            change(reply.body["MRData"])
        return reply

    jolpica.max_limit = 4
    api.route("/ergast/f1/2025/results.json", changed_second_page)
    with pytest.raises(SourceError, match=match):
        import_new_races(store, client_for(jolpica), AFTER_R3)
    assert_failed_and_unchanged(store, before, "/2025/results.json?limit=100&offset=4")


def test_a_page_with_fewer_rows_than_promised_is_rejected(api, jolpica, store):
    assert_a_changed_second_page_is_rejected(api, jolpica, store, lambda mr: mr["RaceTable"]["Races"][0]["Results"].pop(),
                                             "offset=4.*holds 3 rows but MRData promises 4")


def test_a_total_that_changes_between_pages_is_rejected(api, jolpica, store):
    """Rows that come or go while the pages are read would be skipped or repeated unseen."""
    assert_a_changed_second_page_is_rejected(api, jolpica, store,
                                             lambda mr: mr.update(total=str(int(mr["total"]) - 2)),
                                             "offset=4: MRData.total is .*but the first page said")


# --- what lands in the store --------------------------------------------------------------------

def test_import_maps_ergast_fields_to_store_columns(api, jolpica, store):
    import_new_races(store, client_for(jolpica), AFTER_R3)

    leclerc = store.read("SELECT * FROM results WHERE season=2025 AND round=2 AND driver_ref='leclerc'").iloc[0]
    assert pd.isna(leclerc["position"])  # disqualified: no classified position
    assert (leclerc["position_order"], leclerc["position_text"], leclerc["status"]) == (18, "D", "Underweight")

    winner = store.read("SELECT * FROM results WHERE season=2025 AND round=2 AND position=1").iloc[0]
    assert winner["driver_ref"] == "piastri" and winner["constructor_ref"] == "mclaren"
    assert (winner["number"], winner["grid"], winner["laps"], winner["points"]) == (81, 1, 56, 25.0)
    assert (winner["time"], winner["milliseconds"]) == ("1:30:55.026", 5455026)
    assert (winner["fastest_lap"], winner["fastest_lap_rank"], winner["fastest_lap_time"]) == (53, 3, "1:35.520")

    q = store.read("SELECT * FROM qualifying WHERE season=2025 AND round=3 AND driver_ref='max_verstappen'").iloc[0]
    assert (q["position"], q["q1"], q["q3"]) == (1, "1:27.943", "1:26.983")
    assert q["q1_s"] == pytest.approx(87.943) and q["q3_s"] == pytest.approx(86.983)
    # Round 1, the store's last race, was checked again: the API's fuller rows replaced the store's.
    norris = store.read("SELECT q1, q2, q2_s FROM qualifying WHERE round=1 AND driver_ref='norris'").iloc[0]
    assert (norris["q1"], norris["q2"]) == ("1:15.912", "1:15.415") and norris["q2_s"] == pytest.approx(75.415)

    sprint = store.read("SELECT driver_ref, position, points FROM sprint_results ORDER BY position_order")
    assert sprint["driver_ref"].tolist()[:2] == ["piastri", "max_verstappen"] and sprint["points"].iloc[0] == 7.0

    # A driver the store did not know arrives with the results that introduce him.
    kimi = store.read("SELECT * FROM drivers WHERE driver_ref='antonelli'").iloc[0]
    assert (kimi["forename"], kimi["surname"], kimi["code"], kimi["number"]) == ("Andrea Kimi", "Antonelli", "ANT", 12)
    assert kimi["dob"] == pd.Timestamp("2006-08-25")

    # The schedule refreshes session times; known circuits keep what only the dump has.
    race = store.read("SELECT * FROM races WHERE season=2025 AND round=4").iloc[0]
    assert race["fp1_date"] == pd.Timestamp("2025-04-11") and str(race["quali_time"]) == "16:00:00"
    assert store.scalar("SELECT alt FROM circuits WHERE circuit_ref='bahrain'") == 7.0


def test_importing_twice_changes_nothing(api, jolpica, store):
    first = import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    assert first.total_added > 0
    after_first = store_fingerprint(store)
    second = import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    assert second.total_added == 0
    assert store_fingerprint(store) == after_first
    runs = store.read("SELECT ok, rows_added FROM ingestion_runs ORDER BY run_id")
    # The log counts the rows a run landed: new ones and round 1's corrected ones.
    assert runs["ok"].tolist() == [True, True]
    assert runs["rows_added"].tolist() == [first.total_added + first.total_corrected, 0]


def test_one_request_per_race_when_only_one_race_is_missing(api, jolpica, store):
    # Without the re-checks of stored races (their requests tip this tiny season to season-level).
    import_new_races(store, client_for(jolpica), dt.date(2025, 3, 24), recheck_last=0)  # the day after China
    assert api_paths(api) == ["/2025.json", "/2025/2/results.json", "/2025/2/qualifying.json", "/2025/2/sprint.json"]
    assert store.scalar("SELECT count(*) FROM results WHERE round=2") == 6
    assert store.scalar("SELECT count(*) FROM results WHERE round=3") == 0


def test_season_level_requests_when_several_races_are_missing(api, jolpica, store):
    import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    paths = set(api_paths(api))
    assert paths == {"/2025.json", "/2025/results.json", "/2025/qualifying.json", "/2025/sprint.json"}
    assert store.scalar("SELECT count(*) FROM results") == 6 + 6 + 6  # round 1 completed by its re-check


def test_qualifying_is_fetched_for_a_race_not_yet_run(api, jolpica, store):
    import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store.scalar("SELECT count(*) FROM qualifying WHERE round=4") == 0
    api.seen.clear()
    run = import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    # Bahrain's qualifying, and rounds 1-3 checked again (cheapest season-level here); they have
    # not changed, so only Bahrain's qualifying lands.
    assert api_paths(api) == ["/2025.json", "/2025/results.json", "/2025/qualifying.json", "/2025/sprint.json"]
    assert run.rows_added == {"races": 0, "qualifying": 6} and run.rows_corrected == {}
    grid = store.read("SELECT driver_ref FROM qualifying WHERE round=4 ORDER BY position")["driver_ref"].tolist()
    assert grid[:2] == ["piastri", "russell"]
    assert store.scalar("SELECT count(*) FROM results WHERE round=4") == 0


def test_a_race_the_store_never_heard_of_is_added_with_its_results(api, jolpica, store):
    with store.transaction() as cur:
        cur.execute("DELETE FROM races WHERE season=2025 AND round=3")
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store.race(2025, 3).name == "Japanese Grand Prix"
    assert store.scalar("SELECT count(*) FROM results WHERE round=3") == 6
    assert run.rows_added["races"] == 1


def test_bootstrap_fills_an_empty_store_with_season_level_requests(api, jolpica, tmp_path):
    store = Store(tmp_path / "empty.duckdb")
    run = bootstrap_from_api(store, client_for(jolpica), BAHRAIN_QUALI_DAY, first_season=2025)
    assert run.rows_added == {"seasons": 1, "circuits": 6, "drivers": 6, "constructors": 4, "races": 6,
                              "results": 18, "sprint_results": 6, "qualifying": 24}
    assert set(api_paths(api)) == {"/seasons.json", "/2025.json", "/2025/results.json",
                                   "/2025/qualifying.json", "/2025/sprint.json"}
    assert store.last_race_with_results().round == 3
    assert store.scalar("SELECT url FROM seasons") == "https://en.wikipedia.org/wiki/2025_Formula_One_World_Championship"
    with pytest.raises(IngestError, match="already holds races"):
        bootstrap_from_api(store, client_for(jolpica), BAHRAIN_QUALI_DAY, first_season=2025)
    # ...and the regular import on top finds nothing more to do.
    assert import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY).total_added == 0
    store.close()


# --- races checked again: short answers completed, corrections applied and logged ----------------

CHINA_DONE = dt.date(2025, 3, 24)


def _lying_total(jolpica: FakeJolpica, round_: int, keep: int):
    """The honest answer with race `round_` cut to its first `keep` results and MRData.total
    lowered to match, so the page looks complete."""
    def handler(seen: Seen) -> Reply:
        reply = jolpica.handle(seen)
        mr = reply.body["MRData"]
        for race in mr["RaceTable"]["Races"]:
            if race["round"] == str(round_):
                cut = len(race["Results"]) - keep
                del race["Results"][keep:]
                mr["total"] = str(int(mr["total"]) - cut)
        return reply
    return handler


def test_a_short_page_with_a_lying_total_is_completed_at_the_next_refresh(api, jolpica, store):
    for path in ("/ergast/f1/2025/results.json", "/ergast/f1/2025/2/results.json"):
        api.route(path, _lying_total(jolpica, 2, keep=3))
    first = import_new_races(store, client_for(jolpica), CHINA_DONE)
    assert store.scalar("SELECT count(*) FROM results WHERE round=2") == 3
    assert "2025 R2: 3 results but 6 in qualifying; asked for again at every refresh" in first.message
    version = store.data_version()

    for path in ("/ergast/f1/2025/results.json", "/ergast/f1/2025/2/results.json"):
        api.route(path, jolpica.handle)  # the server tells the truth again
    second = import_new_races(store, client_for(jolpica), CHINA_DONE)
    assert store.scalar("SELECT count(*) FROM results WHERE round=2") == 6
    assert second.rows_added["results"] == 3
    assert "corrected 2025 R2 results: +max_verstappen; +antonelli; +leclerc" in second.message
    assert "2025 R2:" not in second.message.replace("corrected 2025 R2", "")  # complete now: no warning
    assert store.data_version() > version
    assert import_new_races(store, client_for(jolpica), CHINA_DONE).total_added == 0


def _swap_winner(jolpica: FakeJolpica, round_: int) -> None:
    """A stewards' decision after the race: the first two swap places, and their points."""
    rows = jolpica.race("results", 2025, round_)["Results"]
    first, second = rows[0], rows[1]
    for key in ("position", "positionText", "points"):
        first[key], second[key] = second[key], first[key]
    rows[0], rows[1] = second, first


def test_a_stewards_correction_after_the_first_import_is_applied_and_logged(api, jolpica, store):
    import_new_races(store, client_for(jolpica), AFTER_R3)
    version = store.data_version()
    _swap_winner(jolpica, 3)

    run = import_new_races(store, client_for(jolpica), AFTER_R3)

    podium = store.read("SELECT driver_ref, position, points FROM results WHERE round=3 AND position<=2 ORDER BY position")
    assert podium.values.tolist() == [["norris", 1, 25.0], ["max_verstappen", 2, 18.0]]
    assert run.total_added == 0 and run.rows_corrected == {"results": 2}
    assert ("corrected 2025 R3 results: norris position_order 2→1, points 18→25; "
            "max_verstappen position_order 1→2, points 25→18") in run.message
    logged = last_run(store)
    assert logged["ok"] and logged["rows_added"] == 2 and "corrected 2025 R3 results" in logged["message"]
    assert store.data_version() > version  # the caches and the models see the new winner
    again = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert again.total_added == 0 and again.rows_corrected == {}


def test_a_correction_lands_with_the_rest_of_its_run_or_not_at_all(api, jolpica, store):
    import_new_races(store, client_for(jolpica), AFTER_R3)
    _swap_winner(jolpica, 3)
    before = store_fingerprint(store)
    bahrain = jolpica.race("qualifying", 2025, 4)["QualifyingResults"]
    bahrain[0]["Driver"] = {"driverId": "nobody"}  # the same run's other answer is unusable
    with pytest.raises(SourceError, match="unknown driver 'nobody'"):
        import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    assert store_fingerprint(store) == before
    assert store.scalar("SELECT driver_ref FROM results WHERE round=3 AND position=1") == "max_verstappen"


def test_an_answer_with_fewer_rows_than_the_store_does_not_shrink_a_race(api, jolpica, store):
    import_new_races(store, client_for(jolpica), AFTER_R3)
    del jolpica.race("results", 2025, 3)["Results"][4:]  # honest paging, but two rows short
    before = store_fingerprint(store)
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store_fingerprint(store) == before
    assert "2025 R3 results: the API lists 4, the store has 6; the store's kept" in run.message


def test_only_the_last_races_are_checked_again(api, jolpica, store):
    import_new_races(store, client_for(jolpica), AFTER_R3)
    api.seen.clear()
    import_new_races(store, client_for(jolpica), dt.date(2025, 4, 8), recheck_last=1)
    # Japan, the last race, is asked for again; Australia and China, complete, are not.
    assert api_paths(api) == ["/2025.json", "/2025/3/results.json", "/2025/3/qualifying.json"]


# --- schedule changes ----------------------------------------------------------------------------

def test_rounds_dropped_from_the_schedule_are_deleted_unless_they_were_run(api, jolpica, store):
    with store.transaction() as cur:  # a forecast already stored for the round about to be cancelled
        cur.execute("INSERT INTO weather_forecast (season, round, source, fetched_at) "
                    "VALUES (2025, 5, 'open-meteo', TIMESTAMP '2025-04-05 10:00:00')")
    # The API drops Saudi Arabia (not run yet) and, wrongly, Australia (run, with results).
    jolpica.schedule[2025] = [r for r in jolpica.schedule[2025] if r["round"] not in ("1", "5")]
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store.race(2025, 5) is None
    assert store.scalar("SELECT count(*) FROM weather_forecast") == 0
    assert store.race(2025, 1) is not None and store.scalar("SELECT count(*) FROM results WHERE round=1") == 6
    assert store.race(2025, 6) is not None
    assert "deleted 2025 R5" in run.message and "R1" not in run.message.split("deleted")[-1]


def test_a_renumbered_round_loses_the_rows_of_the_event_it_replaced(api, jolpica, store):
    with store.transaction() as cur:
        cur.execute("INSERT INTO weather_forecast (season, round, source, fetched_at) "
                    "VALUES (2025, 5, 'open-meteo', TIMESTAMP '2025-04-05 10:00:00')")
        for round_, driver in ((5, "leclerc"), (6, "norris")):  # frozen for Jeddah and for Miami as R6
            cur.execute("INSERT INTO prediction_log (logged_at, season, round, mode, model_version, driver_ref, "
                        "p_win) VALUES (TIMESTAMP '2025-04-06 09:00:00', 2025, ?, 'pre-qualifying', 'v0001', ?, 0.4)",
                        [round_, driver])
    # Saudi Arabia cancelled; Miami moves up from round 6 to round 5.
    miami = next(r for r in jolpica.schedule[2025] if r["round"] == "6")
    jolpica.schedule[2025] = [r for r in jolpica.schedule[2025] if r["round"] not in ("5", "6")] + [miami | {"round": "5"}]
    import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store.race(2025, 5).circuit_ref == "miami"
    assert store.race(2025, 6) is None
    assert store.scalar("SELECT count(*) FROM weather_forecast") == 0  # it was Jeddah's forecast
    # Jeddah's frozen prediction is not Miami's, and nothing is left under the round that went
    assert store.scalar("SELECT count(*) FROM prediction_log") == 0


def test_a_schedule_contradicting_a_race_with_results_is_refused(api, jolpica, store):
    before = store_fingerprint(store)
    jolpica.schedule[2025][0]["Circuit"] = jolpica.schedule[2025][3]["Circuit"]  # R1 "at Bahrain"
    with pytest.raises(SourceError, match="2025 R1.*refusing"):
        import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store_fingerprint(store) == before


def test_an_empty_schedule_deletes_nothing(api, jolpica, store):
    jolpica.schedule[2025] = []
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store.scalar("SELECT count(*) FROM races") == 6
    assert "lists no races for 2025" in run.message


# --- failures: nothing lands, the run is logged with the URL --------------------------------------

def assert_failed_and_unchanged(store: Store, before: dict, url_part: str) -> None:
    assert store_fingerprint(store) == before
    run = last_run(store)
    assert run["source"] == "jolpica"
    assert run["ok"] is not None and not run["ok"] and run["finished_at"] is not None
    assert url_part in run["message"], run["message"]


def _break_results(mutate):
    """A handler serving /2025/results.json with its second page altered by `mutate(race_list)`."""
    def install(api: FakeApi, jolpica: FakeJolpica) -> None:
        jolpica.max_limit = 4

        def handler(seen: Seen) -> Reply:
            reply = jolpica.handle(seen)
            if seen.params.get("offset") == "4":
                mutate(reply.body["MRData"]["RaceTable"]["Races"])
            return reply
        api.route("/ergast/f1/2025/results.json", handler)
    return install


def _reply_on(path: str, *replies: Reply):
    def install(api: FakeApi, jolpica: FakeJolpica) -> None:
        api.route(f"/ergast/f1/{path}", *replies)
    return install


def _second_page_malformed(api: FakeApi, jolpica: FakeJolpica) -> None:
    jolpica.max_limit = 4

    def handler(seen: Seen) -> Reply:
        reply = jolpica.handle(seen)
        if seen.params.get("offset") == "4":
            return Reply(200, json.dumps(reply.body)[:-30])
        return reply
    api.route("/ergast/f1/2025/results.json", handler)


def _del(key: str, index: int = 0):
    def mutate(races: list) -> None:
        del races[-1]["Results"][index][key]
    return mutate


def _set(key: str, value, index: int = 0):
    def mutate(races: list) -> None:
        races[-1]["Results"][index][key] = value
    return mutate


FAILURES = {
    "persistent 500": (_reply_on("2025/results.json", Reply(500, "Internal Server Error")),
                       "/2025/results.json", "HTTP 500"),
    "timeout": (_reply_on("2025.json", Reply(200, {}, delay_s=2.0)), "/2025.json", "timed out"),
    "malformed JSON": (_second_page_malformed, "/2025/results.json?limit=100&offset=4", "not valid JSON"),
    "truncated body": (_reply_on("2025/qualifying.json", Reply(200, json.loads((FIXTURES / "2025_qualifying.json").read_text()),
                                                               truncate_to=500)),
                       "/2025/qualifying.json", "cut short"),
    "MRData missing": (_reply_on("2025.json", Reply(200, {"data": []})), "/2025.json", "missing key 'MRData'"),
    "Races not a list": (_reply_on("2025.json", Reply(200, {"MRData": {"limit": "100", "offset": "0", "total": "0",
                                                                        "RaceTable": {"Races": {}}}})),
                         "/2025.json", "'Races' is dict, expected a list"),
    "result without Driver": (_break_results(_del("Driver")), "offset=4", "missing key 'Driver'"),
    "result without position": (_break_results(_del("position")), "offset=4", "missing key 'position'"),
    "non-numeric points": (_break_results(_set("points", "twenty-five")), "offset=4",
                           "'points' is 'twenty-five', expected a number"),
    "non-numeric grid": (_break_results(_set("grid", "P3")), "offset=4", "'grid' is 'P3', expected a whole number"),
    "bad date": (_reply_on("2025.json", Reply(200, {"MRData": {"limit": "100", "offset": "0", "total": "1", "RaceTable": {
        "Races": [json.loads((FIXTURES / "2025_schedule.json").read_text())["MRData"]["RaceTable"]["Races"][0]
                  | {"date": "16/03/2025"}]}}})), "/2025.json", "race 2025 R1: 'date' is '16/03/2025'"),
    # Australia is already stored and would not be written, but a broken response is not trusted.
    "bad row in a race not needed": (_break_results(lambda races: races[0]["Results"][0].update(laps="x")), "offset=4",
                                     "race 2025 R1 result P8 (leclerc): 'laps' is 'x'"),
    "unknown driver": (_break_results(_set("Driver", {"driverId": "nobody"})), "offset=4",
                       "unknown driver 'nobody': not in the store"),
    "unknown constructor": (_break_results(_set("Constructor", {"constructorId": "brawn_gp2"})), "offset=4",
                            "unknown constructor 'brawn_gp2'"),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
def test_a_bad_response_changes_nothing_and_is_logged(api, jolpica, store, case):
    install, url_part, expected = FAILURES[case]
    install(api, jolpica)
    before = store_fingerprint(store)
    with pytest.raises(SourceError) as err:
        import_new_races(store, client_for(jolpica, timeout=(1.0, 0.3), retries=1), BAHRAIN_QUALI_DAY)
    assert expected in str(err.value), str(err.value)
    assert url_part in str(err.value)
    assert_failed_and_unchanged(store, before, url_part)


@pytest.mark.timeout(30)
def test_a_server_trickling_its_headers_fails_the_import_within_the_deadline(api, jolpica, store):
    api.route("/ergast/f1/2025.json", Reply(200, {}, trickle_headers_s=1.0))
    before = store_fingerprint(store)
    with pytest.raises(SourceError, match="timed out: no complete response within the 2 s deadline"):
        import_new_races(store, client_for(jolpica, timeout=(1.0, 5.0), deadline_s=2.0), AFTER_R3)
    assert_failed_and_unchanged(store, before, "/2025.json")


def test_an_error_names_the_race_and_row(api, jolpica, store):
    # The page at offset 4 holds Australia's last two rows and China's first two.
    _break_results(_set("laps", "many", index=1))(api, jolpica)
    with pytest.raises(SourceError) as err:
        import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    assert "/2025/results.json?limit=100&offset=4: race 2025 R2 result P2 (norris): 'laps' is 'many'" in str(err.value)


# --- results that cannot be true: refused with the URL, race and driver, nothing written ---------

def _alter(kind: str, round_: int, list_key: str, mutate):
    """Serve /2025/{kind}.json (season-level) with race `round_`'s rows changed by `mutate(rows)`."""
    def install(api: FakeApi, jolpica: FakeJolpica) -> None:
        def handler(seen: Seen) -> Reply:
            reply = jolpica.handle(seen)
            for race in reply.body["MRData"]["RaceTable"]["Races"]:
                if race["round"] == str(round_):
                    mutate(race[list_key])
            return reply
        api.route(f"/ergast/f1/2025/{kind}.json", handler)
    return install


def _q(index: int, session: str, lap: str):
    return _alter("qualifying", 3, "QualifyingResults", lambda rows: rows[index].update({session: lap}))


IMPLAUSIBLE = {
    "two drivers with the same position": (
        _alter("results", 2, "Results", lambda rows: rows[1].update(position="1")),
        ["/2025/results.json", "race 2025 R2 result P1 (piastri) and race 2025 R2 result P1 (norris)",
         "same classification order (1)"]),
    "one driver twice in a race": (
        _alter("results", 3, "Results", lambda rows: rows[4].update(Driver=rows[0]["Driver"])),
        ["/2025/results.json", "race 2025 R3 result P1 (max_verstappen) and race 2025 R3 result P5 (max_verstappen)",
         "same driver (max_verstappen)"]),
    "a qualifying lap of 0.001 s": (
        _q(1, "Q3", "0:00.001"),
        ["/2025/qualifying.json", "race 2025 R3 qualifying P2 (norris)", "Q3 lap '0:00.001' (0.001 s) cannot be true"]),
    "a qualifying lap of 0 s": (
        _q(0, "Q1", "0:00.000"),
        ["/2025/qualifying.json", "race 2025 R3 qualifying P1 (max_verstappen)", "Q1 lap '0:00.000' (0 s)"]),
    "a qualifying lap of 16 hours": (
        _q(5, "Q2", "960:00.000"),
        ["/2025/qualifying.json", "race 2025 R3 qualifying P6 (antonelli)", "Q2 lap '960:00.000' (57600 s)",
         "expected 40 to 300 s"]),
    "points no race gives": (
        _alter("results", 3, "Results", lambda rows: rows[0].update(points="250")),
        ["/2025/results.json", "race 2025 R3 result P1 (max_verstappen)", "points 250 cannot be true"]),
}


@pytest.mark.parametrize("case", IMPLAUSIBLE, ids=list(IMPLAUSIBLE))
def test_results_that_cannot_be_true_are_refused(api, jolpica, store, case):
    install, fragments = IMPLAUSIBLE[case]
    install(api, jolpica)
    before = store_fingerprint(store)
    with pytest.raises(SourceError) as err:
        import_new_races(store, client_for(jolpica), BAHRAIN_QUALI_DAY)
    for fragment in fragments:
        assert fragment in str(err.value), str(err.value)
    assert_failed_and_unchanged(store, before, fragments[0])


def test_a_per_race_response_for_another_race_is_refused(api, jolpica, store):
    def japan_instead(seen: Seen) -> Reply:
        return jolpica.handle(Seen("/ergast/f1/2025/3/results.json", seen.params, seen.at))
    api.route("/ergast/f1/2025/2/results.json", japan_instead)
    before = store_fingerprint(store)
    with pytest.raises(SourceError, match="the response holds race 2025 R3, but 2025 R2 was asked for") as err:
        # Only China is missing, and no re-checks: one request per race.
        import_new_races(store, client_for(jolpica), dt.date(2025, 3, 24), recheck_last=0)
    assert "/2025/2/results.json" in str(err.value)
    assert_failed_and_unchanged(store, before, "/2025/2/results.json")


def test_429_with_retry_after_is_waited_out_and_the_import_succeeds(api, jolpica, store):
    api.route("/ergast/f1/2025.json", Reply(429, "Too Many Requests", {"Retry-After": "1"}),
              lambda seen: jolpica.handle(seen))
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert run.rows_added["results"] == 12 + 1  # with round 1's missing row, found by its re-check
    schedule_hits = [s.at for s in api.seen if s.path.endswith("/2025.json")]
    assert len(schedule_hits) == 2 and schedule_hits[1] - schedule_hits[0] >= 0.95


def test_500s_are_retried_and_the_import_succeeds(api, jolpica, store):
    api.route("/ergast/f1/2025/results.json", Reply(502, "Bad Gateway"), Reply(500, ""),
              lambda seen: jolpica.handle(seen))
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert run.rows_added["results"] == 12 + 1  # with round 1's missing row, found by its re-check


# --- the real snapshot ---------------------------------------------------------------------------

CANADA_2026 = ["2026_schedule.json", "2026_5_results.json", "2026_5_qualifying.json", "2026_5_sprint.json"]


def _without_round(store: Store, table: str, season: int, round_: int) -> tuple:
    return store.read(
        f"SELECT count(*) AS n, coalesce(sum(hash(t)), 0) AS h FROM {table} t WHERE NOT (season = ? AND round = ?)",
        [season, round_],
    ).iloc[0].tolist()


def test_canada_2026_lands_on_the_real_snapshot_and_nothing_else_changes(api, snapshot_store):
    store = snapshot_store
    fake = FakeJolpica(api, *CANADA_2026)
    assert store.last_race_with_results().label == "2026 R4 Miami Grand Prix"
    before = store_fingerprint(store)
    rest_before = {t: _without_round(store, t, 2026, 5) for t in ("results", "qualifying", "sprint_results")}

    run = import_new_races(store, client_for(fake), dt.date(2026, 5, 26))

    # Season-level: cheaper than Canada plus the re-checks of rounds 1-4 one by one. This server
    # knows only Canada, so the stored rounds are kept (and the log says the API listed none).
    assert api_paths(api) == ["/2026.json", "/2026/results.json", "/2026/qualifying.json", "/2026/sprint.json"]
    assert run.rows_added == {"races": 0, "results": 22, "sprint_results": 22, "qualifying": 22}
    assert run.rows_corrected == {} and "2026 R4 results: the API lists none now; the store's 22 kept" in run.message
    after = store_fingerprint(store)
    changed = {t for t in before if before[t] != after[t]}
    assert changed == {"results", "qualifying", "sprint_results"}
    for table, rest in rest_before.items():
        assert _without_round(store, table, 2026, 5) == rest
    assert store.last_race_with_results().label == "2026 R5 Canadian Grand Prix"
    podium = store.read("SELECT driver_ref FROM results WHERE season=2026 AND round=5 AND position<=3 "
                        "ORDER BY position")["driver_ref"].tolist()
    assert podium == ["russell", "antonelli", "norris"]
    assert store.scalar("SELECT count(*) FROM results WHERE season=2026 AND round=5 AND position IS NULL") == 3
    assert store.scalar("SELECT min(q3_s) FROM qualifying WHERE season=2026 AND round=5") == pytest.approx(72.313)
    # Every driver is one the snapshot already knew from the 2026 entries.
    assert store.scalar("SELECT count(*) FROM drivers") == before["drivers"][0]

    again = import_new_races(store, client_for(fake), dt.date(2026, 5, 26))
    assert again.total_added == 0 and store_fingerprint(store) == after


def test_a_driver_id_the_api_renamed_stays_the_stores_driver(api, jolpica, store):
    # the API now calls Verstappen 'verstappen': same person (birth date and surname), new id
    for kind, list_key in (("results", "Results"), ("qualifying", "QualifyingResults")):
        for row in jolpica.race(kind, 2025, 3)[list_key]:
            if row["Driver"]["driverId"] == "max_verstappen":
                row["Driver"] = {**row["Driver"], "driverId": "verstappen", "familyName": "VERSTAPPEN"}
            # a new id with a surname the store knows, born on another day, is someone else
            if row["Driver"]["driverId"] == "norris":
                row["Driver"] = {**row["Driver"], "driverId": "norris_jr", "dateOfBirth": "2009-01-02"}
    run = import_new_races(store, client_for(jolpica), AFTER_R3)
    assert store.scalar("SELECT count(*) FROM drivers WHERE driver_ref = 'verstappen'") == 0
    assert store.rows("SELECT DISTINCT driver_ref FROM results WHERE round = 3 AND position = 1") == [("max_verstappen",)]
    assert store.scalar("SELECT count(*) FROM qualifying WHERE round = 3 AND driver_ref = 'max_verstappen'") == 1
    said = "driver id 'verstappen' is 'max_verstappen' of the store (same birth date and surname)"
    assert said in run.summary() and said in last_run(store)["message"]
    assert store.rows("SELECT driver_ref FROM results WHERE round = 3 AND driver_ref LIKE 'norris%'") == [("norris_jr",)]
    assert "norris_jr" not in run.summary()

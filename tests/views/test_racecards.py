"""Race cards: a circuit's own clock, found from its coordinates, and the start times fans read."""
from __future__ import annotations

import datetime as dt

from f1core.views import racecards
from f1core.views.racecards import Circuit


def at_utc(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)


def test_circuits_of_the_snapshot_get_their_time_zone(snapshot_store):
    zones = {ref: str(racecards.circuit(snapshot_store, ref).timezone)
             for ref in ("villeneuve", "albert_park", "baku", "vegas", "silverstone")}
    assert zones == {"villeneuve": "America/Toronto", "albert_park": "Australia/Melbourne", "baku": "Asia/Baku",
                     "vegas": "America/Los_Angeles", "silverstone": "Europe/London"}


def test_the_start_is_told_in_local_time_with_utc_beside_it(snapshot_store):
    montreal = racecards.circuit(snapshot_store, "villeneuve")
    assert (racecards.start_text(at_utc("2026-05-24 20:00"), True, montreal)
            == "Sun 24 May 2026, 16:00 local time (20:00 UTC)")
    # summer time ends between May and November: the same UTC hour is an hour earlier on the track
    assert "15:00 local time" in racecards.start_text(at_utc("2026-11-01 20:00"), True, montreal)


def test_a_night_race_keeps_the_local_day_and_names_the_utc_one(snapshot_store):
    vegas = racecards.circuit(snapshot_store, "vegas")
    assert (racecards.start_text(at_utc("2026-11-22 04:00"), True, vegas)
            == "Sat 21 Nov 2026, 20:00 local time (04:00 UTC Sun)")


def test_without_coordinates_or_a_start_time_it_says_what_it_knows():
    nowhere = Circuit("new_track", "New Street Circuit", None, None, None, None)
    assert nowhere.timezone is None and nowhere.local_time(at_utc("2026-05-24 20:00")) is None
    assert racecards.start_text(at_utc("2026-05-24 20:00"), True, nowhere) == "Sun 24 May 2026, 20:00 UTC"
    assert racecards.start_text(at_utc("2026-05-24 20:00"), True, None) == "Sun 24 May 2026, 20:00 UTC"
    assert (racecards.start_text(at_utc("2026-05-24 12:00"), False, nowhere)
            == "Sun 24 May 2026, start time not announced yet")


def test_qualifying_start_says_whether_its_time_is_announced(snapshot_store):
    start, announced = racecards.qualifying_start(snapshot_store, 2026, 5)
    assert start == at_utc("2026-05-23 20:00") and announced
    with snapshot_store.transaction() as cur:
        cur.execute("UPDATE races SET quali_time = NULL WHERE season = 2026 AND round = 5")
    start, announced = racecards.qualifying_start(snapshot_store, 2026, 5)
    assert start == at_utc("2026-05-23 12:00") and not announced
    assert racecards.qualifying_start(snapshot_store, 1950, 1) is None  # the old calendar has no day for it

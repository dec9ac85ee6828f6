"""Who may change data and models (`f1core.admin`): the machine-itself rule, the throttle on
password guesses, and server details put in words for visitors."""
from __future__ import annotations

import logging

import pytest

from f1core import admin
from f1core.admin import Throttle, is_local_request, redact_server_details
from f1core.config import load_settings

BROWSER = [("Host", "localhost:8501"), ("User-Agent", "Mozilla/5.0"), ("Origin", "http://localhost:8501")]


@pytest.mark.parametrize("peer, headers", [
    ("127.0.0.1", BROWSER),
    ("::1", [("host", "[::1]:8501")]),
    ("127.0.0.1", [("host", "127.0.0.1:8501")]),
    ("::ffff:127.0.0.1", [("Host", "127.0.0.1:8765")]),  # what Streamlit 1.67 reports for Chromium on 127.0.0.1
])
def test_a_browser_on_the_machine_itself_is_local(peer, headers):
    assert is_local_request(peer, headers)


@pytest.mark.parametrize("peer, headers, why", [
    (None, BROWSER, "no connection (a script, a test)"),
    ("10.1.2.3", BROWSER, "another machine"),
    ("172.17.0.1", [("host", "localhost:8501")], "Docker's gateway: the visitor is outside the container"),
    ("127.0.0.1", BROWSER + [("X-Forwarded-For", "203.0.113.9")], "a proxy on the machine forwards a visitor"),
    ("127.0.0.1", [("host", "127.0.0.1:8501"), ("forwarded", "for=203.0.113.9")], "a proxy (RFC 7239)"),
    ("127.0.0.1", [("host", "f1.example.org")], "asked for by a public name: a proxy, or DNS rebinding"),
    ("127.0.0.1", [("user-agent", "x")], "no Host header at all"),
    ("not-an-ip", BROWSER, "an address that does not parse"),
    ("::ffff:10.0.0.7", BROWSER, "an IPv4 visitor seen through a dual-stack socket"),
])
def test_anything_else_is_not_local(peer, headers, why):
    assert not is_local_request(peer, headers), why


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_wrong_passwords_make_the_next_try_wait_longer_then_lock_the_session(caplog):
    clock = Clock()
    throttle = Throttle(clock=clock)
    caplog.set_level(logging.WARNING, logger="f1core.admin")
    assert throttle.failed("s1") is None, "a first typo costs nothing"
    waits = []
    for _ in range(3):
        clock.now += 100  # long after any pause: only the count matters
        refusal = throttle.failed("s1")
        assert refusal is not None and not refusal.locked
        waits.append(refusal.seconds)
        clock.now += refusal.seconds / 2
        assert throttle.refusal("s1") is not None, "a try during the pause is refused unchecked"
    assert waits == sorted(waits) and waits[0] < waits[-1], f"the pause grows: {waits}"
    clock.now += 100
    locked = throttle.failed("s1")  # the fifth wrong try
    assert locked.locked and locked.seconds == pytest.approx(throttle.lockout_s)
    clock.now += throttle.lockout_s - 1
    assert throttle.refusal("s1").locked
    assert throttle.refusal("s2") is None, "another session is not locked by this one"
    clock.now += 2
    assert throttle.refusal("s1") is None, "the lockout ends"
    assert "locked out for 15 min" in caplog.text and "wrong try" in caplog.text


def test_new_sessions_do_not_reset_the_count_of_the_process():
    clock = Clock()
    throttle = Throttle(clock=clock)
    for i in range(throttle.process_tries - 1):
        clock.now += 100
        throttle.failed(f"session-{i}")  # one guess per fresh session
    clock.now += 100
    assert not (throttle.refusal("fresh") or admin.Refusal(False, 0)).locked
    throttle.failed("one-more")
    refusal = throttle.refusal("a-brand-new-session")
    assert refusal is not None and refusal.locked, "the whole process is locked"


def test_the_process_pauses_everyone_after_a_few_wrong_tries_in_a_row():
    clock = Clock()
    throttle = Throttle(clock=clock)
    for i in range(throttle.process_free_tries):
        throttle.failed(f"s{i}")
    assert throttle.refusal("someone-else") is None, "a few typos of different visitors slow nobody"
    throttle.failed("another")
    assert throttle.refusal("someone-else") is not None


def test_a_right_password_starts_the_count_again():
    clock = Clock()
    throttle = Throttle(clock=clock)
    for _ in range(throttle.session_tries - 1):
        clock.now += 100
        throttle.failed("s1")
    throttle.succeeded("s1")
    clock.now += 100
    assert throttle.failed("s1") is None, "the count restarted: a typo is free again"


def test_the_throttle_forgets_the_oldest_sessions_beyond_its_bound():
    throttle = Throttle(clock=Clock(), max_keys=3, process_tries=10**6, process_free_tries=10**6)
    for i in range(10):
        throttle.failed(f"s{i}")
    assert len(throttle._records) == 3


def test_server_details_are_put_in_words_for_visitors(tmp_path):
    settings = load_settings({"F1_DB": "/srv/f1/data/f1.duckdb", "F1_MODELS": "/srv/f1/models",
                              "F1_SNAPSHOT": "/srv/dumps/ergast", "JOLPICA_URL": "http://10.0.0.5:8000/ergast/f1"},
                             secrets_path=None)
    cases = {
        "the models folder /srv/f1/models is full: free space": "the models folder is full: free space",
        "model v0002: artifact /srv/f1/models/v0002/model.pkl cannot be read (x)":
            "model v0002: artifact cannot be read (x)",
        "could not reach http://10.0.0.5:8000/ergast/f1/2026.json?limit=100 (refused)":
            "could not reach the Jolpica API (refused)",
        "there is no store at /srv/f1/data/f1.duckdb: check F1_DB": "there is no store at the store file: check F1_DB",
        "ergast-csv:/srv/dumps/ergast": "ergast-csv:the snapshot",
        "[Errno 13] Permission denied: '/etc/f1/secret'": "[Errno 13] Permission denied: 'a path on the server'",
        "see https://elsewhere.example/x": "see a web address",
        "rain 0.5 and/or 1/2 of the grid": "rain 0.5 and/or 1/2 of the grid",
    }
    for raw, shown in cases.items():
        assert redact_server_details(raw, settings) == shown

"""The HTTP layer against a real local server: retries, Retry-After, timeouts, broken bodies, rate limit."""
from __future__ import annotations

import socket
import threading
import time

import pytest

from f1core.ingest.http import HttpClient, RateLimiter, SourceError, get_json
from f1core.ingest.runs import IngestError
from tests.ingest.apiserver import FakeApi, Reply

FAST = dict(backoff_factor=0.0, timeout=(1.0, 1.0), deadline_s=5.0)


@pytest.fixture
def api():
    with FakeApi() as server:
        yield server


def client(retries: int = 2, **kw) -> HttpClient:
    return HttpClient(retries=retries, **{**FAST, **kw})


def test_returns_the_json_body_and_sends_params(api):
    api.route("/data.json", Reply(200, {"MRData": {"total": "1"}}))
    assert client().get_json(f"{api.base_url}/data.json", {"limit": 100, "offset": 0}) == {"MRData": {"total": "1"}}
    assert api.seen[0].params == {"limit": "100", "offset": "0"}


def test_module_level_get_json_works_without_a_session(api):
    api.route("/x.json", Reply(200, [1, 2, 3]))
    assert get_json(f"{api.base_url}/x.json", timeout=(1.0, 1.0)) == [1, 2, 3]


def test_server_errors_are_retried_then_succeed(api):
    api.route("/flaky.json", Reply(500, "oops"), Reply(503, "busy"), Reply(200, {"ok": True}))
    assert client(retries=3).get_json(f"{api.base_url}/flaky.json") == {"ok": True}
    assert api.paths() == ["/flaky.json"] * 3


def test_persistent_server_error_names_the_url_and_status(api):
    api.route("/down.json", Reply(500, "Internal Server Error"))
    with pytest.raises(SourceError) as err:
        client(retries=2).get_json(f"{api.base_url}/down.json", {"offset": 30})
    message = str(err.value)
    assert f"{api.base_url}/down.json?offset=30" in message
    assert "HTTP 500" in message and "Internal Server Error" in message
    assert len(api.seen) == 3  # the first try and two retries
    assert isinstance(err.value, IngestError)


def test_404_is_not_retried(api):
    with pytest.raises(SourceError, match="HTTP 404"):
        client(retries=3).get_json(f"{api.base_url}/nowhere.json")
    assert len(api.seen) == 1


def test_429_waits_for_retry_after_then_succeeds(api):
    api.route("/limited.json", Reply(429, "slow down", {"Retry-After": "1"}), Reply(200, {"ok": 1}))
    assert client().get_json(f"{api.base_url}/limited.json") == {"ok": 1}
    first, second = api.seen
    assert second.at - first.at >= 0.95


def test_an_absurd_retry_after_is_capped_so_nothing_hangs(api):
    api.route("/limited.json", Reply(429, "", {"Retry-After": "3600"}), Reply(200, {"ok": 1}))
    started = time.monotonic()
    assert client(retry_after_max=1).get_json(f"{api.base_url}/limited.json") == {"ok": 1}
    assert time.monotonic() - started < 3


def test_a_slow_server_times_out_with_a_clear_error(api):
    api.route("/slow.json", Reply(200, {"late": True}, delay_s=3.0))
    started = time.monotonic()
    with pytest.raises(SourceError, match="timed out") as err:
        client(retries=1, timeout=(1.0, 0.2)).get_json(f"{api.base_url}/slow.json")
    assert time.monotonic() - started < 1.5
    assert f"{api.base_url}/slow.json" in str(err.value)
    assert len(api.seen) == 2  # read timeouts are retried too


def test_a_body_trickling_in_hits_the_overall_deadline(api):
    # Each piece arrives well within the read timeout, so only the deadline can stop this.
    api.route("/trickle.json", Reply(200, {"data": "x" * 400}, trickle_s=0.15))
    started = time.monotonic()
    with pytest.raises(SourceError, match="deadline|timed out"):
        client(retries=0, timeout=(1.0, 1.0), deadline_s=0.5).get_json(f"{api.base_url}/trickle.json")
    assert time.monotonic() - started < 1.5


@pytest.mark.timeout(30)
def test_headers_trickling_a_byte_a_second_hit_the_one_deadline(api):
    # Every byte comes well within the read timeout, so only a deadline over the whole request
    # (connecting, headers, body) can stop this; the body's own deadline never starts.
    api.route("/slow-headers.json", Reply(200, {"ok": True}, trickle_headers_s=1.0))
    with pytest.raises(SourceError, match="timed out: no complete response within the 2 s deadline") as err:
        client(retries=2, timeout=(1.0, 5.0), deadline_s=2.0).get_json(f"{api.base_url}/slow-headers.json")
    assert f"{api.base_url}/slow-headers.json" in str(err.value)
    seen = api.seen[0]
    assert seen.answered.wait(10)
    assert seen.sent < seen.header_bytes, (seen.sent, seen.header_bytes)  # hung up inside the headers
    assert len(api.seen) == 1  # and no retry: the deadline covers retries as well


@pytest.fixture
def names(monkeypatch):
    """Host names for the tests: `hangs.test` never resolves, `two.test` has a dead address
    before the live one; other names resolve as usual."""
    real = socket.getaddrinfo
    release = threading.Event()

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hangs.test":
            release.wait(30)  # a resolver that never answers (let go when the test ends)
            raise socket.gaierror("no answer")
        if host == "two.test":
            return real("127.0.0.2", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield
    release.set()


def test_a_host_lookup_that_hangs_hits_the_deadline(api, names):
    port = api.base_url.rsplit(":", 1)[1]
    started = time.monotonic()
    with pytest.raises(SourceError, match="looking up hangs.test did not finish within the deadline"):
        client(retries=2, deadline_s=1.0).get_json(f"http://hangs.test:{port}/x.json")
    assert time.monotonic() - started < 5
    assert api.seen == []


def test_every_address_of_a_host_is_tried_and_the_name_is_kept(api, names):
    api.route("/x.json", Reply(200, {"ok": 1}))
    port = api.base_url.rsplit(":", 1)[1]
    assert client(retries=0).get_json(f"http://two.test:{port}/x.json") == {"ok": 1}
    assert [s.host for s in api.seen] == [f"two.test:{port}"]


def test_malformed_json_is_reported_with_the_url(api):
    api.route("/bad.json", Reply(200, '{"MRData": {"total": "3",'))
    with pytest.raises(SourceError, match="not valid JSON") as err:
        client().get_json(f"{api.base_url}/bad.json")
    assert f"{api.base_url}/bad.json" in str(err.value)


def test_a_body_cut_short_is_reported(api):
    api.route("/cut.json", Reply(200, {"MRData": {"RaceTable": {"Races": [{"round": str(i)} for i in range(50)]}}},
                                 truncate_to=40))
    with pytest.raises(SourceError) as err:
        client(retries=0).get_json(f"{api.base_url}/cut.json")
    assert f"{api.base_url}/cut.json" in str(err.value)
    assert "cut short" in str(err.value) or "not valid JSON" in str(err.value)


def test_an_empty_body_is_an_error(api):
    api.route("/empty.json", Reply(200, b""))
    with pytest.raises(SourceError, match="empty"):
        client().get_json(f"{api.base_url}/empty.json")


def test_nobody_listening_is_an_error_not_a_hang():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again when the block ends: nothing listens there
    with pytest.raises(SourceError, match=f"127.0.0.1:{port}"):
        client(retries=1).get_json(f"http://127.0.0.1:{port}/x.json")


def test_rate_limiter_spaces_a_burst_from_several_threads(api):
    api.route("/r.json", Reply(200, {"ok": 1}))
    http = client(rate_per_s=4.0)

    def burst(n: int) -> None:
        for _ in range(n):
            http.get_json(f"{api.base_url}/r.json")

    threads = [threading.Thread(target=burst, args=(3,)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    arrivals = sorted(s.at for s in api.seen)
    assert len(arrivals) == 9
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # Arrival times carry a little scheduling jitter; the span is the strict check.
    assert min(gaps) >= 0.25 * 0.7, gaps
    assert arrivals[-1] - arrivals[0] >= 8 * 0.25 - 0.05
    assert arrivals[-1] - arrivals[0] < 8 * 0.25 + 0.6  # limited, not stalled


def test_retried_attempts_also_wait_for_the_rate_limiter(api):
    api.route("/flaky.json", Reply(503, ""), Reply(503, ""), Reply(200, {"ok": 1}))
    started = time.monotonic()
    client(retries=3, rate_per_s=5.0).get_json(f"{api.base_url}/flaky.json")
    elapsed = time.monotonic() - started
    # three requests at 5 per second, no back-off: the two retries waited 0.2 s each. Timed at the
    # client: on a busy machine the server thread can note an arrival late and blur the gaps.
    assert len(api.seen) == 3 and elapsed >= 0.4 - 0.02, elapsed


def test_rate_limiter_rejects_nonsense():
    with pytest.raises(ValueError):
        RateLimiter(0)


# 3600 s is waited 30 s at most (then asked again), which is still past a 20 s deadline
@pytest.mark.parametrize("asked, deadline_s", [("5", 1.0), ("3600", 20.0)])
def test_a_retry_after_past_the_deadline_fails_at_once_saying_rate_limited(api, asked, deadline_s):
    api.route("/limited.json", Reply(429, "slow down", {"Retry-After": asked}), Reply(200, {"ok": 1}))
    started = time.monotonic()
    with pytest.raises(SourceError) as err:
        client(retries=2, deadline_s=deadline_s).get_json(f"{api.base_url}/limited.json")
    assert time.monotonic() - started < 1  # nothing slept into a sure failure
    message = str(err.value)
    assert f"/limited.json: rate limited: the server asks to wait {asked} s before asking again" in message
    assert "timed out" not in message and "try again later" in message
    assert len(api.seen) == 1


def test_a_server_down_for_maintenance_is_not_called_rate_limiting(api):
    api.route("/down.json", Reply(503, "maintenance", {"Retry-After": "600"}), Reply(200, {"ok": 1}))
    with pytest.raises(SourceError, match=r"/down.json: unavailable \(HTTP 503\): the server asks to wait 600 s"):
        client(retries=2, deadline_s=5.0).get_json(f"{api.base_url}/down.json")

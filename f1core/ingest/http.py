"""HTTP for the JSON sources: retries with backoff, a rate limiter, and nothing that can hang.

Every request has a connect and a read timeout and one deadline for all of it: looking up the
host, connecting, the headers, the body and any retries. A read timeout alone does not stop a
server that trickles a byte a second (each byte restarts it), in the headers as well as in the
body, so a watchdog shuts the request's sockets down when the deadline passes. Failures of any kind (status, timeout, broken
connection, truncated or non-JSON body) become `SourceError` naming the URL, so the ingestion log
says which request broke.

Past 400 lines on purpose: one HTTP client with its rate limit, retries and single deadline;
the deadline's watchdog and the retry loop only make sense side by side.
"""
from __future__ import annotations

import ipaddress
import json
import os
import socket
import threading
import time
from typing import Any, Mapping

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.util.connection import allowed_gai_family
from urllib3.util.retry import Retry

from f1core.ingest.runs import IngestError

RETRY_STATUSES = (429, 500, 502, 503, 504)
DEFAULT_TIMEOUT = (5.0, 30.0)  # (connect, read) seconds
DEFAULT_DEADLINE_S = 90.0  # from connecting to the last byte of the body, retries included
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5  # urllib3 sleeps 0, 2*f, 4*f ... between retries, capped at backoff_max
DEFAULT_BACKOFF_MAX = 10.0
DEFAULT_RETRY_AFTER_MAX = 30  # a server asking for longer is waited this long, then asked again
MAX_BODY_BYTES = 50 * 1024 * 1024
USER_AGENT = "f1-prediction-dashboard (+https://github.com/; open source F1 predictions)"


class SourceError(IngestError):
    """A remote source answered with something unusable, or did not answer. Names the URL."""


class SourceUnreachable(SourceError):
    """No answer at all: no connection (no internet, a firewall, a wrong address) or a timeout."""


class RateLimiter:
    """At most `rate_per_s` requests per second across all threads, spaced evenly.

    Even spacing rather than a burst bucket: Jolpica counts bursts, and an importer making a few
    hundred requests gains nothing from sending four at once.
    """

    def __init__(self, rate_per_s: float):
        if rate_per_s <= 0:
            raise ValueError("rate_per_s must be positive")
        self.interval = 1.0 / rate_per_s
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> None:
        # Reserve a slot under the lock, sleep outside it, so waiting threads queue in order
        # without holding each other up longer than their own slot.
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


class _RateLimited(Exception):
    """The server asked to be left alone (Retry-After) for longer than the request may still take."""

    def __init__(self, asked: str, status: int):
        super().__init__(asked, status)
        self.asked, self.status = asked, status


class _DeadlinePassed(Exception):
    """Raised inside urllib3 when connecting or waiting to retry would pass the request's deadline.
    Deliberately neither an OSError nor a urllib3 error, so urllib3 does not retry it."""


class _Deadline:
    """One request's deadline over every socket the request uses. When it passes, the sockets are
    shut down, which ends a blocking read at once however slowly the server sends. Each socket is
    watched through a duplicate of its descriptor that only this object closes, so a shutdown can
    never reach a descriptor the process has since reused for something else."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.at = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._watched: list[socket.socket] = []
        self._finished = False
        self._timer = threading.Timer(max(0.0, seconds), self._expire)
        self._timer.daemon = True
        self._timer.start()

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            if self._finished:
                return
            if self.expired:
                raise _DeadlinePassed("the deadline passed before the request was sent")
            try:
                self._watched.append(socket.socket(fileno=os.dup(sock.fileno())))
            except OSError:
                pass  # already closed: nothing left to hang on

    def _expire(self) -> None:
        with self._lock:
            if self._finished:
                return
            self.expired = True
            for sock in self._watched:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def finish(self) -> None:
        self._timer.cancel()
        with self._lock:
            self._finished = True
            for sock in self._watched:
                sock.close()
            self._watched.clear()


# The deadline of the request this thread is making: urllib3 makes the connections of a request on
# the calling thread, so the connection classes below find it here.
_current = threading.local()


def _active_deadline() -> _Deadline | None:
    return getattr(_current, "deadline", None)


def _addresses(host: str, port: int, seconds: float) -> list[str] | None:
    """The host's addresses, looked up within `seconds` (getaddrinfo has no time limit of its
    own, so it runs on a daemon thread that is left behind if it hangs). None when the lookup
    failed: connecting by name then reports the failure the usual way."""
    found: dict[str, Any] = {}

    def look_up() -> None:
        try:
            found["infos"] = socket.getaddrinfo(host, port, allowed_gai_family(), socket.SOCK_STREAM)
        except OSError:
            pass

    worker = threading.Thread(target=look_up, name=f"dns-{host}", daemon=True)
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise _DeadlinePassed(f"looking up {host} did not finish within the deadline")
    infos = found.get("infos")
    return list(dict.fromkeys(info[4][0] for info in infos)) if infos else None


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False


class _Watched:
    """Connection mixin: new sockets and reused ones are put under the active request's deadline,
    and neither looking up the host nor connecting waits longer than what is left of it."""

    def _new_conn(self):  # type: ignore[no-untyped-def]
        deadline = _active_deadline()
        if deadline is None:
            return super()._new_conn()  # type: ignore[misc]
        left = deadline.remaining()
        if left <= 0:
            raise _DeadlinePassed("the deadline passed before connecting")
        if not isinstance(self.timeout, (int, float)) or self.timeout > left:
            self.timeout = left
        name = self._dns_host  # type: ignore[attr-defined]
        addresses = None if _is_address(name) else _addresses(name, self.port, left)  # type: ignore[attr-defined]
        if not addresses:
            sock = super()._new_conn()  # type: ignore[misc]
        else:
            # each address in turn, as urllib3 would; the Host header and TLS keep the name
            for i, address in enumerate(addresses):
                self._dns_host = address
                try:
                    sock = super()._new_conn()  # type: ignore[misc]
                    break
                except (NewConnectionError, ConnectTimeoutError):
                    if i == len(addresses) - 1:
                        raise
                finally:
                    self._dns_host = name
        deadline.watch(sock)
        return sock

    def request(self, *args: Any, **kwargs: Any) -> None:
        deadline = _active_deadline()
        if deadline is not None and self.sock is not None:  # type: ignore[attr-defined]
            deadline.watch(self.sock)  # type: ignore[attr-defined]
        super().request(*args, **kwargs)  # type: ignore[misc]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


_WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class _WatchedAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **kwargs: Any):  # type: ignore[no-untyped-def]
        manager = super().proxy_manager_for(proxy, **kwargs)
        if not proxy.lower().startswith("socks"):  # SOCKS proxies bring connection classes of their own
            manager.pool_classes_by_scheme = _WATCHED_POOLS
        return manager


class _LimitedRetry(Retry):
    """urllib3's Retry, with retried attempts also taking a rate-limiter slot (a retry after a zero
    backoff would otherwise go out straight away, past the limiter), and no wait that would end
    after the request's deadline: the request fails then instead of sleeping into a sure timeout."""

    limiter: RateLimiter | None = None

    def new(self, **kw: Any) -> "_LimitedRetry":
        retry = super().new(**kw)
        retry.limiter = self.limiter
        return retry

    def sleep(self, response: Any = None) -> None:
        deadline = _active_deadline()
        if deadline is not None:
            header = response.headers.get("Retry-After") if self.respect_retry_after_header and response else None
            # a server asking for longer than `retry_after_max` is asked again after that long
            wait = self.get_retry_after(response) if header else self.get_backoff_time()
            if wait >= deadline.remaining():
                if header:
                    raise _RateLimited(header, response.status)
                raise _DeadlinePassed(f"waiting {wait:g} s to retry would pass the deadline")
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.wait()


def make_session(
    retries: int = DEFAULT_RETRIES,
    backoff_factor: float = DEFAULT_BACKOFF,
    backoff_max: float = DEFAULT_BACKOFF_MAX,
    retry_after_max: int = DEFAULT_RETRY_AFTER_MAX,
    limiter: RateLimiter | None = None,
) -> requests.Session:
    """A Session that retries GETs on 429/5xx and connection errors, honouring Retry-After."""
    retry = _LimitedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        other=0,
        redirect=3,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=frozenset({"GET"}),
        backoff_factor=backoff_factor,
        backoff_max=backoff_max,
        retry_after_max=retry_after_max,
        respect_retry_after_header=True,
        # Give the last response back instead of raising, so the error can say what the server said.
        raise_on_status=False,
    )
    retry.limiter = limiter
    session = requests.Session()
    adapter = _WatchedAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = USER_AGENT
    session.headers["Accept"] = "application/json"
    return session


def _describe(url: str, params: Mapping[str, Any] | None) -> str:
    if not params:
        return url
    return requests.Request("GET", url, params=params).prepare().url or url


def _read_body(response: requests.Response, where: str, until: float, max_bytes: int = MAX_BODY_BYTES) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # read1 returns whatever has arrived instead of waiting for a full chunk, so the deadline is
    # also checked between the pieces of a body that trickles in.
    while True:
        chunk = response.raw.read1(64 * 1024, decode_content=True)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(f"{where}: response larger than {max_bytes} bytes")
        if time.monotonic() > until:
            raise _DeadlinePassed("mid-body")
    return b"".join(chunks)


def _too_slow(where: str, deadline: _Deadline, when: str) -> SourceError:
    return SourceError(
        f"{where}: timed out: no complete response within the {deadline.seconds:g} s deadline "
        f"(connecting, headers and body together; it passed {when}); the server is too slow or stalled"
    )


def get_body(
    url: str,
    params: Mapping[str, Any] | None = None,
    *,
    session: requests.Session | None = None,
    timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
    deadline_s: float = DEFAULT_DEADLINE_S,
    limiter: RateLimiter | None = None,
    max_bytes: int = MAX_BODY_BYTES,
) -> bytes:
    """GET `url` and return its body. Raises SourceError naming the URL when the server does not
    answer 200 after the session's retries, does not finish answering within `deadline_s` (one
    deadline for looking up, connecting, headers, body and retries), sends more than `max_bytes`
    or a body that is cut short. Without a session, a fresh retrying one is used for this call."""
    where = _describe(url, params)
    own_session = session is None
    session = session or make_session(limiter=limiter)
    if limiter is not None:
        limiter.wait()  # queueing for a slot is not the server's time
    deadline = _Deadline(deadline_s)
    outer = _active_deadline()
    _current.deadline = deadline
    try:
        try:
            response = session.get(url, params=params, timeout=timeout, stream=True)
        except _RateLimited as exc:
            asked = exc.asked.strip()
            why = "rate limited" if exc.status == 429 else f"unavailable (HTTP {exc.status})"
            raise SourceError(
                f"{where}: {why}: the server asks to wait {asked + ' s' if asked.isdigit() else 'until ' + asked} "
                f"before asking again (Retry-After), longer than this request may take (its deadline is "
                f"{deadline.seconds:g} s); not fetched now, try again later") from None
        except _DeadlinePassed as exc:
            raise _too_slow(where, deadline, str(exc)) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            if deadline.expired:
                raise _too_slow(where, deadline, "waiting for the response headers") from exc
            raise _failure(where, exc, "waiting for the response") from exc
        with response:
            if response.status_code != 200:
                snippet = _snippet(response, deadline.at)
                raise SourceError(
                    f"{where}: HTTP {response.status_code} {response.reason or ''}".rstrip()
                    + (" after retries" if response.status_code in RETRY_STATUSES else "")
                    + (f": {snippet}" if snippet else "")
                )
            try:
                body = _read_body(response, where, deadline.at, max_bytes)
            except _DeadlinePassed:
                raise _too_slow(where, deadline, "mid-body") from None
            except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
                if deadline.expired:
                    raise _too_slow(where, deadline, "mid-body") from exc
                raise _failure(where, exc, "reading the response (cut short?)") from exc
            if deadline.expired:
                # The watchdog's shutdown ends a body early the way a dropped connection does.
                raise _too_slow(where, deadline, "mid-body")
    finally:
        deadline.finish()
        _current.deadline = outer
        if own_session:
            session.close()
    return body


def get_json(url: str, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
    """GET `url` and return its JSON (see `get_body` for the options and the errors); a body that
    is empty or not JSON is a SourceError naming the URL."""
    body = get_body(url, params, **options)
    if not body.strip():
        raise SourceError(f"{_describe(url, params)}: empty response body")
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        tail = body[-60:].decode("utf-8", "replace")
        raise SourceError(
            f"{_describe(url, params)}: the response is not valid JSON ({exc}); it ends with {tail!r} (truncated?)"
        ) from exc


def _failure(where: str, exc: BaseException, doing: str) -> SourceError:
    # requests reports a read timeout after retries as a ConnectionError wrapping urllib3's
    # ReadTimeoutError, so look at the text as well as the type.
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, requests.exceptions.Timeout) or "timed out" in text.lower():
        return SourceUnreachable(f"{where}: timed out {doing} ({text})")
    if isinstance(exc, (requests.exceptions.ConnectionError, ConnectionError)):
        return SourceUnreachable(f"{where}: failed {doing} ({text})")
    return SourceError(f"{where}: failed {doing} ({text})")


def _snippet(response: requests.Response, until: float) -> str:
    try:
        # An error page gets two seconds at most: it only decorates the message.
        body = _read_body(response, response.url, min(until, time.monotonic() + 2.0))
    except (_DeadlinePassed, SourceError, requests.RequestException, urllib3.exceptions.HTTPError):
        return ""
    return " ".join(body[:200].decode("utf-8", "replace").split())


class HttpClient:
    """A session, a rate limiter and timeouts bundled for one source."""

    def __init__(
        self,
        session: requests.Session | None = None,
        *,
        rate_per_s: float | None = None,
        timeout: tuple[float, float] | float = DEFAULT_TIMEOUT,
        deadline_s: float = DEFAULT_DEADLINE_S,
        retries: int = DEFAULT_RETRIES,
        backoff_factor: float = DEFAULT_BACKOFF,
        retry_after_max: int = DEFAULT_RETRY_AFTER_MAX,
    ):
        self.limiter = RateLimiter(rate_per_s) if rate_per_s else None
        self.session = session or make_session(
            retries=retries, backoff_factor=backoff_factor, retry_after_max=retry_after_max, limiter=self.limiter,
        )
        self.timeout = timeout
        self.deadline_s = deadline_s
        self.requests_made = 0

    def get_json(self, url: str, params: Mapping[str, Any] | None = None) -> Any:
        self.requests_made += 1
        return get_json(
            url, params, session=self.session, timeout=self.timeout, deadline_s=self.deadline_s, limiter=self.limiter,
        )

    def close(self) -> None:
        self.session.close()


class ApiClient:
    """Base of the source clients: a base URL over an `HttpClient`, counting its requests."""

    def __init__(self, base_url: str, session: requests.Session | None = None, *, rate_per_s: float | None,
                 timeout: tuple[float, float] | float = DEFAULT_TIMEOUT, retries: int = DEFAULT_RETRIES,
                 backoff_factor: float = DEFAULT_BACKOFF, deadline_s: float = DEFAULT_DEADLINE_S):
        self.base_url = base_url
        self.http = HttpClient(session, rate_per_s=rate_per_s, timeout=timeout, deadline_s=deadline_s,
                               retries=retries, backoff_factor=backoff_factor)

    @property
    def requests_made(self) -> int:
        return self.http.requests_made

    def close(self) -> None:
        self.http.close()

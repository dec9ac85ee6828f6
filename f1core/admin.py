"""Who may change data and models, without Streamlit: whether a request comes from the machine
itself, and the throttle on admin password guesses.

The app's rule (pages/_widgets.require_admin): with F1_ADMIN_PASSWORD set, everyone must give it;
without it, only a browser on the server's own machine may refresh, retrain or roll back, so a
fresh deployment is safe before anyone thinks of setting a password.
"""
from __future__ import annotations

import ipaddress
import logging
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

log = logging.getLogger(__name__)

# A proxy in front of the app adds these: the peer is then the proxy, whoever the visitor is.
_FORWARDING_HEADERS = {"x-forwarded-for", "x-forwarded-host", "x-real-ip", "forwarded", "x-original-forwarded-for"}
_LOCAL_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def is_local_request(peer: str | None, headers: Iterable[tuple[str, str]]) -> bool:
    """True only when the browser talks to the server from the same machine: the connection's
    peer is a loopback address, no proxy forwarded the request, and the browser asked for the
    server by a local name (a page on another site cannot pass itself off as local by resolving
    its own name to 127.0.0.1). Unknown peers (no connection: scripts, tests) are not local."""
    if not peer or not _is_loopback(peer.split("%", 1)[0]):
        return False
    host = None
    for name, value in headers:
        name = name.lower()
        if name in _FORWARDING_HEADERS:
            return False
        if name == "host":
            host = value.strip().lower()
    if host is None:
        return False
    if host.startswith("["):  # [::1]:8501
        host = host.split("]", 1)[0] + "]"
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host in _LOCAL_NAMES or _is_loopback(host)


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    # a dual-stack server sees an IPv4 client as ::ffff:127.0.0.1, which Python 3.11 does not
    # call loopback by itself
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_loopback or bool(mapped and mapped.is_loopback)


def monotonic() -> float:
    """The throttle's clock (a test may replace it)."""
    return time.monotonic()


# -- the throttle on password guesses --------------------------------------------------------------

@dataclass(frozen=True)
class Refusal:
    """Why an attempt was not checked, and for how many more seconds."""
    locked: bool  # True: the lockout after too many tries; False: the pause after a wrong one
    seconds: float


@dataclass
class _Record:
    failures: int = 0
    not_before: float = 0.0  # monotonic seconds
    locked_until: float = 0.0


@dataclass
class Throttle:
    """Wrong passwords slow the next try down and end in a lockout, per key (a session) and for
    the whole process at once (so opening new sessions does not reset the count). It never
    sleeps: an attempt made too early is refused unchecked, with how long to wait.

    The first `free_tries` wrong tries in a row cost nothing (a typo); after the k-th a key waits
    `base_delay_s * 2**(k - free_tries - 1)` seconds (at most `max_delay_s`): 1, 2, 4 s...
    `session_tries` wrong tries lock the key, `process_tries` (across all keys, in a row without a
    right one; the process pauses likewise after `process_free_tries`) lock everyone, each for
    `lockout_s`."""

    session_tries: int = 5
    free_tries: int = 1
    process_tries: int = 20
    process_free_tries: int = 3  # typos of different visitors do not slow each other down
    lockout_s: float = 15 * 60
    base_delay_s: float = 1.0
    max_delay_s: float = 30.0
    clock: Callable[[], float] | None = None  # None: `monotonic` of this module, read at each call
    max_keys: int = 10_000  # keys kept; the oldest are dropped (a flood of sessions cannot fill memory)
    _records: dict[str, _Record] = field(default_factory=dict, repr=False)
    _process: _Record = field(default_factory=_Record, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _now(self) -> float:
        return float((self.clock or monotonic)())

    def refusal(self, key: str) -> Refusal | None:
        """None when `key` may try a password now; otherwise why not and for how long."""
        now = self._now()
        with self._lock:
            record = self._records.get(key, _Record())
            for rec in (self._process, record):
                if rec.locked_until > now:
                    return Refusal(True, rec.locked_until - now)
            wait = max(self._process.not_before, record.not_before) - now
            return Refusal(False, wait) if wait > 0 else None

    def failed(self, key: str, who: str = "") -> Refusal | None:
        """Count a wrong password for `key`; returns the wait it now faces (a lockout when it has
        just been locked). Logged, so an operator sees guessing in the server log."""
        now = self._now()
        with self._lock:
            record = self._records.pop(key, None) or _Record()
            self._records[key] = record  # most recently used last
            while len(self._records) > self.max_keys:
                self._records.pop(next(iter(self._records)))
            record.failures += 1
            self._process.failures += 1
            for rec, free in ((record, self.free_tries), (self._process, self.process_free_tries)):
                if rec.failures > free:
                    rec.not_before = now + min(self.base_delay_s * 2 ** (rec.failures - free - 1), self.max_delay_s)
            locked = []
            if record.failures >= self.session_tries:
                record.locked_until, record.failures = now + self.lockout_s, 0
                locked.append("this session")
            if self._process.failures >= self.process_tries:
                self._process.locked_until, self._process.failures = now + self.lockout_s, 0
                locked.append("every session")
            process_failures = self._process.failures
        if locked:
            log.warning("admin password: wrong %s; %s locked out for %.0f min", who or key,
                        " and ".join(locked), self.lockout_s / 60)
        else:
            log.warning("admin password: wrong try %d by %s (%d in a row across sessions)",
                        record.failures, who or key, process_failures)
        return self.refusal(key)

    def succeeded(self, key: str) -> None:
        """A right password: the session's and the process's counts start again (a lockout in
        force is not lifted: `refusal` is checked before any password)."""
        with self._lock:
            self._records.pop(key, None)
            self._process.failures = 0
            self._process.not_before = 0.0


# -- server details, for the admin only --------------------------------------------------------------

# An absolute path as it appears in a message: starts after a space, a quote or a bracket.
# (Run after web addresses are replaced, so the slashes of "https://" are gone by then.)
_ABSOLUTE_PATH = re.compile(r"(?<![\w.~/])/[^\s'\"`()<>,;\[\]]+")
# words that already say what a path following them is: the path itself is then left out
_NOUNS = {"folder", "store", "file", "files", "snapshot", "cache", "artifact", "api", "url", "directory"}
_WEB_ADDRESS = re.compile(r"\bhttps?://[^\s'\"`()<>,;\[\]]+", re.IGNORECASE)


def redact_server_details(text: str, settings) -> str:
    """`text` with the server's paths and the configured API addresses put in words ("the store
    file", "the models folder", "the Jolpica API", "a path on the server", ...), for visitors who
    are not the admin. Files inside a known folder become "a file in the models folder"."""
    named: list[tuple[str, str]] = []
    for value, words in ((settings.db_path, "the store file"), (settings.models_dir, "the models folder"),
                         (settings.snapshot, "the snapshot"), (settings.weather, "the weather files"),
                         (settings.fastf1_cache, "the FastF1 cache")):
        if value is None:
            continue
        forms = {str(value)}
        try:
            forms.add(str(Path(value).resolve()))
        except (OSError, RuntimeError):
            pass
        # a bare relative name ("models") is an ordinary word too: only forms with a slash
        named += [(form.rstrip("/"), words) for form in forms if "/" in form]
    for url, words in ((settings.jolpica_url, "the Jolpica API"), (settings.open_meteo_url, "the Open-Meteo API")):
        if url:
            named.append((url.rstrip("/"), words))
    named.sort(key=lambda pair: len(pair[0]), reverse=True)  # the most specific first

    def name_of(match: re.Match) -> str:
        token = match.group(0)
        bare = token.rstrip(".:")
        trail = token[len(bare):]
        # "the models folder /srv/models is full" reads best as "the models folder is full"
        noun = re.search(r"(\w+)\s+$", match.string[:match.start()])
        if noun and noun.group(1).lower() in _NOUNS:
            return "\0" + trail  # the space before it goes too (below)
        for form, words in named:
            if bare == form:
                return words + trail
            if bare.startswith(form + "/") or bare.startswith(form + "?"):
                return (words if form.startswith("http") else f"a file in {words}") + trail
        return ("a web address" if bare.lower().startswith("http") else "a path on the server") + trail

    text = _WEB_ADDRESS.sub(name_of, text)
    text = _ABSOLUTE_PATH.sub(name_of, text)
    return re.sub(r"\s*\0", "", text)

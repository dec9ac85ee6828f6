"""Who is asking: whether this session may do and see what only the admin may, the words for
everyone else, and the process's throttle on admin password guesses. `pages._widgets.require_admin`
draws the password field; the rules themselves are in `f1core.admin` (no Streamlit)."""
from __future__ import annotations

from typing import Any

import streamlit as st

from pages._resources import get_settings

ADMIN_OK = "_f1_admin_ok"  # set in the session by pages._widgets.require_admin once the password is right

ERROR_LIMIT = 600  # characters of an error's reason shown on a page


def request_is_local() -> bool:
    """True when this session's browser runs on the server's own machine
    (`f1core.admin.is_local_request` on the connection Streamlit reports: `st.context.ip_address`
    is None for a loopback peer, and `st.context.headers` holds the handshake's headers; both
    are empty without a browser, which is then not local)."""
    from f1core.admin import is_local_request

    try:
        headers = st.context.headers
        pairs = [(name, value) for name in headers for value in headers.get_all(name)]
        ip = st.context.ip_address
    except Exception:  # no session (a script, a test without a browser)
        return False
    if not pairs:
        return False
    return is_local_request(ip or "127.0.0.1", pairs)  # Streamlit reports a loopback peer as None


def client_description() -> str:
    """The visitor's address for the server log ("local" for the server's own machine)."""
    try:
        return st.context.ip_address or ("local" if st.context.headers else "no browser")
    except Exception:
        return "no browser"


def is_admin() -> bool:
    """Whether this session may see and do what only the admin may: with F1_ADMIN_PASSWORD set,
    once the password was given in this session; without it, a browser on the server's machine."""
    if get_settings().admin_password:
        return bool(st.session_state.get(ADMIN_OK))
    return request_is_local()


def for_visitor(text: str) -> str:
    """`text` as the admin sees it, or with server paths and the configured API addresses put
    in words for everyone else (a visitor has no use for them, and they map the server)."""
    if is_admin():
        return text
    from f1core.admin import redact_server_details

    return redact_server_details(text, get_settings())


def say_refused(refusal: Any, wrong: bool = False) -> None:
    lead = "Wrong admin password. " if wrong else ""
    if refusal.locked:
        minutes = max(1, round(refusal.seconds / 60))
        st.error(f"{lead}Too many wrong admin passwords: admin actions are locked for about {minutes} min. "
                 "The attempts are in the server log.", icon=":material/lock_clock:")
    else:
        st.error(f"{lead}Wait {max(1, round(refusal.seconds))} s before trying the admin password again "
                 "(each wrong try makes the pause longer).", icon=":material/hourglass_top:")


@st.cache_resource(show_spinner=False, max_entries=1)
def password_throttle() -> Any:
    """The process's one throttle on admin password guesses, shared by every session."""
    from f1core.admin import Throttle

    return Throttle()

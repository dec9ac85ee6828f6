"""The widgets pages share: tables with CSV downloads, plain-words errors, the admin check, the
refresh controls and status, the notices for an empty store or a missing model, and the retrain
button with its progress.

Past 400 lines on purpose: every widget more than one page draws, each short, kept together so
pages have one place to import them from.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import pandas as pd
import streamlit as st

from f1core.config import SettingsError
from f1core.ingest.runs import IngestError
from f1core.progress import Progress
from f1core.store import Store, StoreError
from f1core.views.explain import input_value, why_ahead
from pages import _admin
from pages._admin import ADMIN_OK, ERROR_LIMIT
from pages._resources import field_contributions, get_engine, get_refresher, get_settings, get_store, log, today
from pages._style import pct, pcts

_ADMIN_SESSION = "_f1_admin_session"  # this session's key in the password throttle
_ADMIN_TRIED = "_f1_admin_tried"  # per password field: a digest of the wrong value already counted
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")
# The browser's markdown links bare addresses (http://…, www.…, name@host) whatever their escapes:
# an invisible word joiner inside each keeps them text
_BARE_LINK = re.compile(r"(?i)(:/)(/)|(www)(\.)|()(@)")
WORD_JOINER = "\u2060"


def escape_markdown(text: object, limit: int = 60) -> str:
    """`text` as literal characters in Streamlit markdown, cut to `limit`: values echoed from a link
    or a file can then never become a link, an image, a colour or a heading."""
    raw = str(text)
    raw = raw if len(raw) <= limit else raw[:limit] + "…"
    raw = _BARE_LINK.sub(lambda m: WORD_JOINER.join(g for g in m.groups() if g is not None), raw.replace("\n", " "))
    return _MARKDOWN_SPECIAL.sub(r"\\\1", raw)


# -- tables -------------------------------------------------------------------------------------

class LinkChoices:
    """The values a shared link (the page's query parameters) asks for, each checked against the
    page's choices; what cannot be used is collected, echoed escaped, and said once by `warn`."""

    def __init__(self) -> None:
        self.params = st.query_params
        self.notices: list[str] = []

    def get(self, name: str, allowed: list, cast=str, unusable: str = "is not one of the choices"):
        """The link's `name` cast and checked, or None when absent or not in `allowed`."""
        raw = self.params.get(name)
        if raw is None:
            return None
        try:
            value = cast(raw)
        except ValueError:
            value = None
        if value not in allowed:
            self.notices.append(f"{name}={escape_markdown(raw)} {unusable}")
            return None
        return value

    def rewrite(self, link: dict[str, str]) -> None:
        """Make the address bar say what the page shows, so a copied link gives the same view."""
        if {k: self.params.get(k) for k in link} != link:
            st.query_params.from_dict(link)

    def warn(self) -> None:
        if self.notices:
            st.warning("Parts of the link could not be used: " + "; ".join(self.notices) + ".",
                       icon=":material/link_off:")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def download_csv(df: pd.DataFrame, filename: str, label: str = "Download CSV") -> None:
    """A download button for `df` as CSV. Clicking it does not rerun the page."""
    st.download_button(label, df.to_csv(index=False).encode("utf-8"), file_name=filename, mime="text/csv",
                       key=f"download_{_slug(filename)}", icon=":material/download:", on_click="ignore")


def show_table(df: pd.DataFrame, filename: str, *, columns: list[str] | None = None,
               column_config: dict | None = None, height: int | str = "auto",
               formats: dict[str, Callable[[float], str]] | None = None) -> None:
    """A table with a CSV download of all its columns (including ones not shown); a missing value
    shows as a dash, not as "None". `formats`: how a column's values read, where one printf format
    cannot say it (a tiny chance as "<1%"); the table still sorts by the values."""
    st.dataframe(df.style.format(formats) if formats else df, hide_index=True, width="stretch", height=height,
                 column_order=columns, column_config=column_config, placeholder="—")
    download_csv(df, filename)


# -- errors and admin ---------------------------------------------------------------------------

_PLAIN_ERRORS = (IngestError, StoreError, SettingsError, OSError)
# The engine's own errors already say what and where in plain words; matched by name so that
# importing this module does not load the model libraries on every page.
_PLAIN_ERROR_NAMES = {"NotEnoughData", "NoModel", "RegistryError", "RetrainInProgress", "PredictionError",
                      "ScenarioError"}


def friendly_error(exc: BaseException, context: str) -> None:
    """Tell the user in plain words that `context` (e.g. "load the standings") failed; the
    traceback goes to the server log, never to the page. The reason is shown as literal text
    (an exception can carry what a link or a file said), and without server paths or addresses
    for visitors who are not the admin."""
    log.error("could not %s", context, exc_info=exc)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if isinstance(exc, _PLAIN_ERRORS) or names & _PLAIN_ERROR_NAMES:
        reason = escape_markdown(_admin.for_visitor(str(exc)), limit=ERROR_LIMIT)
    else:
        reason = (f"an unexpected problem ({escape_markdown(type(exc).__name__)}). The details are in the "
                  "server log; reloading the page may help")
    st.error(f"Could not {context}: {reason}", icon=":material/error:")


def require_admin(action_name: str, key: str | None = None) -> bool:
    """True when the user may `action_name` (e.g. "refresh the data"). With F1_ADMIN_PASSWORD set
    this asks for it once per session, with wrong tries throttled (`f1core.admin.Throttle`: a
    growing pause, then a lockout, per session and for the whole process; never a sleep). Without
    it, only a browser on the server's own machine may (`pages._admin.request_is_local`); anyone else reads
    that admin actions are off here. `key` tells apart two places of one page that ask for the
    same action (the password field is then `admin_password_{key}`)."""
    expected = get_settings().admin_password
    if not expected:
        if _admin.request_is_local():
            return True
        st.caption(f":material/lock: Admin actions are off on this deployment, so you cannot {action_name} "
                   "here. They work from the server's own machine, or everywhere once the operator sets "
                   "an admin password (F1_ADMIN_PASSWORD).")
        return False
    if st.session_state.get(ADMIN_OK):
        return True
    field_key = f"admin_password_{key or _slug(action_name)}"
    given = st.text_input(f"Admin password to {action_name}", type="password", key=field_key,
                          help="This deployment protects actions that change data or models (F1_ADMIN_PASSWORD).")
    throttle = _admin.password_throttle()
    session = st.session_state.setdefault(_ADMIN_SESSION, secrets.token_hex(8))
    if not given:
        refusal = throttle.refusal(session)
        if refusal is not None and refusal.locked:
            _admin.say_refused(refusal)
        return False
    # Each rerun of the page sees the field's value again: count a wrong value once, not per rerun.
    digest = hashlib.sha256(f"{field_key}\0{given}".encode("utf-8")).hexdigest()
    tried = st.session_state.setdefault(_ADMIN_TRIED, {})
    refusal = throttle.refusal(session)
    if refusal is not None:  # too soon, or locked out: the value is not even compared
        _admin.say_refused(refusal, wrong=tried.get(field_key) == digest)
        return False
    if tried.get(field_key) == digest:
        st.error("Wrong admin password.", icon=":material/lock:")
        return False
    if hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        throttle.succeeded(session)
        st.session_state[ADMIN_OK] = True
        tried.clear()
        return True
    tried[field_key] = digest
    refusal = throttle.failed(session, who=f"session {session} ({_admin.client_description()})")
    if refusal is not None and refusal.locked:
        _admin.say_refused(refusal, wrong=True)
    else:
        st.error("Wrong admin password.", icon=":material/lock:")
    return False


# -- refresh and freshness ----------------------------------------------------------------------

def _ago(moment: dt.datetime | None) -> str:
    if moment is None:
        return "never"
    seconds = (dt.datetime.now(dt.timezone.utc) - moment).total_seconds()
    if seconds < 90:
        return "just now"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min ago"
    if seconds < 129600:
        return f"{seconds / 3600:.0f} h ago"
    return f"{seconds / 86400:.0f} days ago"


def refresh_now_button(key: str) -> None:
    """A "Refresh now" button that asks the background refresher for a run (admin-protected);
    greyed out while a refresh runs."""
    refresher = get_refresher()
    if refresher.running:
        st.button("Refresh now", key=key, icon=":material/refresh:", disabled=True,
                  help="A refresh is running now; this page updates when it is done.")
        return
    if not require_admin("refresh the data", key=key):
        return
    if st.button("Refresh now", key=key, icon=":material/refresh:"):
        before = refresher.status().last_finished_at
        if not refresher.trigger():
            st.info("A refresh is already running.", icon=":material/sync:")
            return
        # Give the thread a moment to take the run, so the rerun below shows it running
        # (and polls) rather than idle.
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline and not refresher.running \
                and refresher.status().last_finished_at == before:
            time.sleep(0.05)
        st.rerun()


def refresh_status_panel() -> None:
    """The background refresh: running or idle, current step, last success and problems. While a
    refresh runs (or the first one of the process is due) it updates itself every 2 s, and when
    a run finishes it reruns the whole page so everything shows the new data."""
    refresher = get_refresher()
    seen = refresher.status()
    seen_version = get_store().data_version()
    waiting = seen.running or seen.last_finished_at is None

    @st.fragment(run_every=2 if waiting else None)
    def panel() -> None:
        status = refresher.status()
        # Redraw everything as soon as new rows land (a bootstrap's snapshot lands in seconds,
        # long before the API steps of the same refresh give up offline), and when a run ends.
        if (status.last_finished_at != seen.last_finished_at and not status.running) \
                or get_store().data_version() != seen_version:
            st.rerun(scope="app")
        if status.running:
            st.markdown(f":material/sync: **Refreshing now** — "
                        f"{escape_markdown(_admin.for_visitor(status.current_step or 'starting'), 120)}")
        elif status.last_finished_at is None:
            st.markdown(":material/schedule: **No refresh has finished in this server process yet.**")
        else:
            st.markdown(f":material/check_circle: **Idle** — last refresh finished {_ago(status.last_finished_at)}"
                        + (f"; data up to {status.data_as_of}" if status.data_as_of else ""))
        st.caption(f"Last success: {_ago(status.last_success_at)} · rows added by the last run: "
                   f"{status.rows_added:,} · runs every {get_settings().refresh_hours:g} h (F1_REFRESH_HOURS)")
        failed = [s.source for s in status.steps if not s.ok]
        if status.last_error and (status.last_success_at is None or status.last_error_at >= status.last_success_at):
            what = ", ".join(failed) if failed else "the refresh itself"
            st.warning(f"The last refresh ({_ago(status.last_error_at)}) failed for: **{what}**. Data from "
                       "the other sources is unaffected; a failed step changes nothing and is retried "
                       "on the next refresh.", icon=":material/warning:")
        if status.steps or status.last_error:
            with st.expander("Details of the last refresh"):
                for step in status.steps:
                    st.markdown(f"{':material/check:' if step.ok else ':material/close:'} **{step.source}**")
                    st.text(_admin.for_visitor(step.message))
                if not status.steps and status.last_error:
                    st.text(_admin.for_visitor(status.last_error))

    panel()


OFFLINE_START = """To start without internet, load an offline dump of the F1 history (Ergast-format CSVs, the
Kaggle "Formula 1 Race Data" set, and optionally the weather CSVs):

```bash
F1_SNAPSHOT=path/to/ergast F1_WEATHER=path/to/weather ./scripts/run.sh
```

or, with the app stopped, `python -m f1core ingest --snapshot path/to/ergast --weather path/to/weather`."""


def empty_store_notice() -> None:
    """Say in plain words why there is no race data yet and what to do: the store is being filled
    (with the step it is at), or the source could not be reached (no internet), or it failed;
    how to start from an offline dump; a button to try again now. Redraws by itself while a
    refresh runs."""
    refresher = get_refresher()

    def filling() -> bool:
        return refresher.running or (refresher.started and refresher.status().last_finished_at is None)

    @st.fragment(run_every=2 if filling() else None)
    def notice() -> None:
        status = refresher.status()
        if not get_store().is_empty():
            st.rerun(scope="app")
        if filling():
            settings = get_settings()
            source = ("the offline dump set in F1_SNAPSHOT" if settings.snapshot else
                      "the history dump at F1_SNAPSHOT_URL, then the Jolpica F1 API" if settings.snapshot_url else
                      "the Jolpica F1 API")
            st.info(f"**Filling the data store** from {source}: a few seconds from a dump, a few minutes from the "
                    "API. This page updates by itself.", icon=":material/hourglass_top:")
            if status.current_step:
                st.caption(f"Now: {escape_markdown(status.current_step, 120)}")
            return
        failed = [o for o in status.steps if not o.ok]
        if any(o.unreachable for o in failed):
            unreachable = " or ".join(dict.fromkeys(o.source for o in failed if o.unreachable))
            st.warning("**No internet access to the F1 data service.** This server could not reach "
                       f"{unreachable}, so there is no race data yet.", icon=":material/cloud_off:")
        elif failed:
            st.warning(f"**There is no race data yet**: reading {failed[0].source} failed "
                       f"({escape_markdown(failed[0].message, 160)}).", icon=":material/error:")
        elif status.last_finished_at is not None:
            st.info("**There is no race data yet**: the last refresh found nothing to load.",
                    icon=":material/database:")
        else:
            st.info("**There is no race data yet.** The app fills its store from the Jolpica F1 API when it "
                    "starts (or from an offline dump set in F1_SNAPSHOT).", icon=":material/database:")
        st.markdown(OFFLINE_START)
        if require_admin("try the API again", key="empty_store_retry") and st.button(
                "Try again now", key="empty_store_retry_button", icon=":material/refresh:"):
            refresher.trigger()
            st.rerun()

    notice()


def require_data(full: bool = False) -> Store:
    """The store, or (when it holds no races) a notice and the end of the page: in full on the
    Overview and the Data page (`full`), one line pointing there on the others."""
    store = get_store()
    if store.is_empty():
        if full:
            empty_store_notice()
        else:
            st.info("**No race data yet.** The Overview says why, and how to load it.", icon=":material/database:")
            if (Path(__file__).resolve().parent / "overview.py").is_file():
                try:
                    st.page_link("pages/overview.py", label="Go to the Overview", icon=":material/arrow_forward:")
                except Exception:  # a page run on its own (tests) has no router to link through
                    pass
        st.stop()
    return store


def freshness_banner() -> None:
    """One line on how fresh the data is; a warning with a refresh button when races that have
    been run are missing their results."""
    store = get_store()
    if store.is_empty():
        return  # the page shows the empty-store notice
    day = today()
    last = store.last_race_with_results()
    missing = store.races_missing_results(day)
    if missing:
        names = ", ".join(r.label for r in missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
        st.warning(
            f"**Results are missing for {len(missing)} race{'s' if len(missing) > 1 else ''} already run** "
            f"({names}). Everything here stops at {last.label if last else 'no race'}; "
            "predictions for those races are not checked yet.",
            icon=":material/update:",
        )
        refresh_now_button("freshness_refresh")
        return
    upcoming = store.next_races(day, 1)
    nxt = f" · next: {upcoming[0].label}, {upcoming[0].date:%-d %b %Y}" if upcoming else ""
    demo = (f" · :material/event: demo date {day:%-d %b %Y} (F1_TODAY): the calendar follows it; the times "
            "things were computed follow the server's clock") if get_settings().today else ""
    st.caption(f":material/database: Data up to {last.label} ({last.date:%-d %b %Y}){nxt}{demo}")


def computed_at(moment) -> str:
    """When something was computed, on the server's clock, labelled so when a demo date
    (F1_TODAY) moves the calendar: '1 Dec 2026, 10:33 UTC (server clock)'."""
    text = f"{pd.Timestamp(moment):%-d %b %Y, %H:%M} UTC"
    return text + (" (server clock)" if get_settings().today else "")


@contextmanager
def progress_status(label: str) -> Iterator[tuple[Any, Progress]]:
    """An expanded `st.status` box with a progress bar and a line for the current step; yields
    the box and a `progress(message, fraction)` callback for the engine's long jobs."""
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)
        line = st.empty()

        def progress(message: str, fraction: float | None = None) -> None:
            if fraction is not None:
                bar.progress(min(max(fraction, 0.0), 1.0))
            line.caption(message)

        yield status, progress


def retrain_with_progress(key: str) -> Any:
    """The Retrain button (admin-protected): trains a challenger, compares it with the champion and
    shows each step and the decision with its reasons. Returns the decision, or None."""
    from f1core.engine.lifecycle import RetrainInProgress

    lifecycle = get_engine().lifecycle
    if lifecycle.retraining:
        st.button("Retrain", key=key, icon=":material/model_training:", disabled=True,
                  help="A retrain is running now.")
        st.info("A retrain is already running; this page shows the new model when it is done.",
                icon=":material/hourglass_top:")
        return None
    if not require_admin("retrain the model", key=key):
        return None
    if not st.button("Retrain", key=key, icon=":material/model_training:", type="primary"):
        return None
    with progress_status("Retraining…") as (status, progress):
        try:
            decision = lifecycle.retrain(progress)
        except RetrainInProgress as exc:
            status.update(label="A retrain is already running", state="error")
            st.info(str(exc), icon=":material/hourglass_top:")
            return None
        except Exception as exc:
            status.update(label="Retraining failed", state="error")
            friendly_error(exc, "retrain the model")
            return None
        verdict = "promoted to champion" if decision.promoted else "kept pending (champion unchanged)"
        status.update(label=f"{decision.challenger} {verdict} in {decision.seconds:.0f} s", state="complete")
        for reason in decision.reasons:
            st.markdown(f"- {reason}")
    st.cache_data.clear()
    return decision


def require_model() -> Any:
    """The engine with a champion model, or a notice (and the end of the page): the first model
    is being trained in the background, or the user may train it now."""
    engine = get_engine()
    if engine.registry.champion_version():
        return engine
    refresher = get_refresher()
    if engine.lifecycle.retraining or refresher.running:
        # the background upkeep trains the first model right after the data lands
        @st.fragment(run_every=2)
        def wait_for_model() -> None:
            if engine.registry.champion_version():
                st.rerun(scope="app")
            st.info("**Training the first model** from the data in the store (a minute or two). This page "
                    "updates by itself when it is ready.", icon=":material/model_training:")
            step = refresher.status().current_step
            if step:
                st.caption(f"Now: {escape_markdown(step, 120)}")

        wait_for_model()
    else:
        st.info("**There is no trained model yet.** Train one now (under a minute); the app also "
                "trains one by itself after the data is loaded.", icon=":material/model_training:")
        if retrain_with_progress("require_model_train"):
            st.rerun()
    st.stop()


# -- the model served -------------------------------------------------------------------------

def model_fallback_notice(engine: Any) -> bool:
    """A warning when the model served is not the champion because the champion's file cannot be
    loaded (`Engine.fallback_now`). Returns True when it warned."""
    try:
        fallback = engine.fallback_now()
    except Exception as exc:  # the notice is advisory: never let it break a page
        log.warning("could not check the champion's model file: %s", exc)
        return False
    if fallback is None:
        return False
    champion, served, reason = fallback
    why = escape_markdown(_admin.for_visitor(reason), limit=ERROR_LIMIT)
    if served:
        st.warning(f"**The champion model {escape_markdown(champion)} cannot be loaded, so predictions come from "
                   f"{escape_markdown(served)}**, the newest version that loads. Reason: {why}. An admin can roll "
                   "back or retrain on the Models page.", icon=":material/warning:")
    else:
        st.error(f"**No model can be loaded**: the champion {escape_markdown(champion)} cannot be read and no "
                 f"other version loads. Reason: {why}. An admin can retrain on the Models page; the "
                 "background upkeep also retrains after the next refresh.", icon=":material/error:")
    return True


def why_favourite(table: pd.DataFrame, season: int, round_: int, before: bool, key: str) -> None:
    """An expander under a race's chances: what puts the favourite ahead of the runner-up (`before`:
    the grid is the qualifying model's prediction). Drawn only once opened: it needs the model's
    trees, which the page otherwise need not load."""
    ranked = table.sort_values("p_win", ascending=False)
    if len(ranked) < 2:
        return
    first, second = ranked.iloc[0], ranked.iloc[1]
    code_a, code_b = escape_markdown(first["code"]), escape_markdown(second["code"])
    box = st.expander(f"Why {code_a} rather than {code_b}?", key=key, on_change="rerun", icon=":material/help:")
    if not box.open:
        return
    with box:
        try:
            with st.spinner("Weighing the inputs…"):
                edge = why_ahead(*field_contributions(season, round_), first["driver_ref"], second["driver_ref"])
        except Exception as exc:
            friendly_error(exc, "explain the favourite")
            return
        name_a, name_b = escape_markdown(first["driver_name"]), escape_markdown(second["driver_name"])
        win_a, win_b = pcts(first["p_win"], second["p_win"])
        dnf_a, dnf_b = pcts(first["p_dnf"], second["p_dnf"])
        st.markdown(f"When both finish, the model has **{name_a}** ahead of **{name_b}** in "
                    f"{pct(edge.p_ahead_if_both_finish)} of races. Their chances to win ({win_a} against "
                    f"{win_b}) also count how likely each is to retire: {dnf_a} against {dnf_b}.")
        lines = []
        for _, r in edge.reasons.iterrows():
            label = r["input"] + (", predicted" if before and r["feature"] == "grid" else "")
            lines.append(f"- **{escape_markdown(label, limit=120)}**: {code_a} "
                         f"{escape_markdown(input_value(r['feature'], r['ahead_value']))}, {code_b} "
                         f"{escape_markdown(input_value(r['feature'], r['behind_value']))}, counts for "
                         f"{code_a if r['edge'] > 0 else code_b} (weight {abs(r['edge']):.2f})")
        st.markdown("\n".join(lines))
        st.caption(f"The {len(edge.reasons)} inputs whose parts of the model's race strength differ most between "
                   f"{code_a} and {code_b}. Weight is on a log scale: 0.7 doubles the odds of finishing ahead of "
                   "the other. These are the model's reasons, not the sport's; the Models page (Why this "
                   "prediction?) breaks down any driver's prediction.")

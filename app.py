"""F1 Predictions: the router. `streamlit run app.py`.

Registers the pages of `pages/` that exist (others are being written), starts the background
refresh once per server process, and shows how fresh the data is above every page.
"""
from __future__ import annotations

import time
from pathlib import Path

import streamlit as st
from streamlit.logger import get_logger

st.set_page_config(page_title="F1 Predictions", page_icon="🏎️", layout="wide")

from f1core.ingest.refresh import FIRST_REFRESH_DELAY_S, Refresher  # noqa: E402  (set_page_config must come first)
from pages._resources import evict_superseded_data, get_engine, get_refresher  # noqa: E402
from pages._widgets import freshness_banner, friendly_error  # noqa: E402

PAGES_DIR = Path(__file__).resolve().parent / "pages"
# Streamlit's own logger: `--logger.level info` prints it beside Streamlit's messages
PAGE_TIMES = get_logger("f1.page_times")

# (section, file, title, icon), in menu order; the first existing page of the list is the default.
PAGE_LAYOUT = [
    ("Predictions", "overview.py", "Overview", ":material/dashboard:"),
    ("Predictions", "season.py", "Season", ":material/emoji_events:"),
    ("Predictions", "upcoming.py", "Upcoming races", ":material/event_upcoming:"),
    ("Predictions", "what_if.py", "What-if", ":material/tune:"),
    ("How good is it", "past_races.py", "Past races", ":material/history:"),
    ("How good is it", "accuracy.py", "Accuracy", ":material/target:"),
    ("How good is it", "drift.py", "Drift", ":material/trending_down:"),
    ("How good is it", "models.py", "Models", ":material/model_training:"),
    ("Explore", "drivers.py", "Drivers & teams", ":material/groups:"),
    ("Explore", "compare.py", "Head to head", ":material/compare_arrows:"),
    ("Explore", "data.py", "Data", ":material/database:"),
]


@st.cache_resource(show_spinner=False, max_entries=1)
def start_background_refresh() -> Refresher:
    """Once per server process, not per session: the refresher's thread bootstraps an empty store,
    or trains the first model of a store without one, at once; a store with data and a model is
    refreshed a minute after start-up (so the first visitors do not share the CPU with it) and then
    every F1_REFRESH_HOURS."""
    refresher = get_refresher()
    ready = not refresher.store.is_empty() and get_engine().registry.champion_version()
    refresher.start(first_delay_s=FIRST_REFRESH_DELAY_S if ready else 0)
    return refresher


def navigation_pages() -> dict[str, list[st.Page]]:
    sections: dict[str, list[st.Page]] = {}
    default_taken = False
    for section, filename, title, icon in PAGE_LAYOUT:
        if not (PAGES_DIR / filename).is_file():
            continue
        sections.setdefault(section, []).append(
            st.Page(f"pages/{filename}", title=title, icon=icon, default=not default_taken))
        default_taken = True
    return sections


page = st.navigation(navigation_pages())
try:
    start_background_refresh()
    evict_superseded_data()  # a refresh landed new data: the caches of the old version go
    freshness_banner()
except Exception as exc:  # a broken store must not hide the page; the page explains what it can
    friendly_error(exc, "check the data store")
started = time.perf_counter()
try:
    page.run()
finally:  # the server time of every page run, for operators and the load benchmark
    PAGE_TIMES.info("page %s ran in %.0f ms", page.url_path or "overview", (time.perf_counter() - started) * 1000)

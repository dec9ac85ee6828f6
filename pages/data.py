"""Data: where the numbers come from, how fresh they are, and the button to update them.

Server paths and the configured API addresses are the admin's business (`pages._admin.is_admin`):
other visitors see what each source is and how it fared, not where it lives."""
from __future__ import annotations

import streamlit as st

from f1core.admin import redact_server_details
from f1core.views import insights
from pages._admin import is_admin
from pages._resources import cached_query, get_settings, get_store
from pages._widgets import (
    empty_store_notice,
    escape_markdown,
    friendly_error,
    refresh_now_button,
    refresh_status_panel,
    show_table,
)

st.title("Data")
st.caption("Where the numbers come from, how fresh they are, and how to bring them up to date.")

settings = get_settings()
store = get_store()
admin = is_admin()

if store.is_empty():
    empty_store_notice()
else:
    st.subheader("Background refresh")
    refresh_status_panel()
refresh_now_button("data_refresh")

try:
    st.subheader("Sources")
    sources = cached_query(insights.source_summary, settings)
    if not admin:
        sources = sources.drop(columns=["value"])
    show_table(sources, "sources.csv", height="content",
               column_config={"last success": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
                              "last failure": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")})
    if not admin:
        st.caption("Where each source is read from (files on the server, API addresses) is shown to the admin only.")

    st.subheader("Ingestion log")
    st.caption("Every import and refresh step is recorded, whether its data landed or not. "
               "A failed run changes no data. Times are UTC.")
    log = cached_query(insights.ingestion_log, 50)
    if log.empty:
        st.write("No ingestion has run yet.")
    else:
        if not admin:  # sources and messages name the files and addresses a step read
            log = log.assign(**{column: [redact_server_details(v, settings) if isinstance(v, str) else v
                                         for v in log[column]] for column in ("source", "message")})
        show_table(log, "ingestion_log.csv",
                   columns=["run", "source", "outcome", "started", "seconds", "rows added", "message"],
                   column_config={"outcome": st.column_config.TextColumn(width="small"),
                                  "started": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm:ss"),
                                  "message": st.column_config.TextColumn(width="large")})

    st.subheader("Store")
    rows = cached_query(insights.table_rows)
    # paths as literal text: a backtick or an underscore in one must not turn into markdown
    where = f"DuckDB file {escape_markdown(settings.db_path, limit=300)} · " if admin else ""
    models = f" · models in {escape_markdown(settings.models_dir, limit=300)}" if admin else ""
    st.caption(f"{where}schema version {store.schema_version()} · {rows['rows'].sum():,} rows in all{models}")
    show_table(rows, "table_rows.csv", height="content")
except Exception as exc:
    friendly_error(exc, "read the data store")

"""Data: where the numbers come from, how fresh they are, and the button to update them."""
from __future__ import annotations

import streamlit as st

from f1core.views import insights
from pages._resources import cached_query, get_settings, get_store
from pages._widgets import empty_store_notice, friendly_error, refresh_now_button, refresh_status_panel, show_table

st.title("Data")
st.caption("Where the numbers come from, how fresh they are, and how to bring them up to date.")

settings = get_settings()
store = get_store()

if store.is_empty():
    empty_store_notice()
else:
    st.subheader("Background refresh")
    refresh_status_panel()
refresh_now_button("data_refresh")

try:
    st.subheader("Sources")
    show_table(cached_query(insights.source_summary, settings), "sources.csv", height="content",
               column_config={"last success": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm"),
                              "last failure": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm")})

    st.subheader("Ingestion log")
    st.caption("Every import and refresh step is recorded, whether its data landed or not. "
               "A failed run changes no data. Times are UTC.")
    log = cached_query(insights.ingestion_log, 50)
    if log.empty:
        st.write("No ingestion has run yet.")
    else:
        show_table(log, "ingestion_log.csv",
                   columns=["run", "source", "outcome", "started", "seconds", "rows added", "message"],
                   column_config={"outcome": st.column_config.TextColumn(width="small"),
                                  "started": st.column_config.DatetimeColumn(format="D MMM YYYY, HH:mm:ss"),
                                  "message": st.column_config.TextColumn(width="large")})

    st.subheader("Store")
    rows = cached_query(insights.table_rows)
    st.caption(f"DuckDB file `{settings.db_path}` · schema version {store.schema_version()} · "
               f"{rows['rows'].sum():,} rows in all · models in `{settings.models_dir}`")
    show_table(rows, "table_rows.csv", height="content")
except Exception as exc:
    friendly_error(exc, "read the data store")

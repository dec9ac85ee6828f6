"""The look of the pages: team colours, the house chart layout and how probabilities are written.
Colours and fonts otherwise follow the Streamlit theme (`.streamlit/config.toml`)."""
from __future__ import annotations

import textwrap

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

NEUTRAL_COLOR = "#9AA0A6"

# Team colours by constructorRef: the official ones as FastF1 lists them, with FastF1's own
# choice where official colours clash on one grid (Alpine pink beside three blue teams) and
# Cadillac's near-black lightened so it shows on the dark theme. Older teams are approximations.
TEAM_COLORS: dict[str, str] = {
    # 2024-2026 grid
    "red_bull": "#3671C6", "mclaren": "#FF8000", "ferrari": "#E80020", "mercedes": "#27F4D2",
    "aston_martin": "#229971", "alpine": "#FF87BC", "williams": "#64C4FF", "rb": "#6692FF",
    "sauber": "#52E252", "haas": "#B6BABD", "audi": "#FF2D00", "cadillac": "#8E8E93",
    # earlier names of today's teams
    "alphatauri": "#4E7C9B", "toro_rosso": "#469BFF", "alfa": "#B12039", "racing_point": "#F596C8",
    "force_india": "#F596C8", "renault": "#FFF500", "lotus_f1": "#FFB800", "brawn": "#B8FD6E",
    "bmw_sauber": "#6CA0DC", "honda": "#E8E8E8", "bar": "#C9C9C9", "jaguar": "#0E8A4A",
    "stewart": "#F0F0F0", "benetton": "#00A86B", "toyota": "#CC1F30", "jordan": "#F9D71C",
    "spyker": "#FF7F00", "spyker_mf1": "#FF7F00", "mf1": "#D33B3B", "super_aguri": "#D32F2F",
    "minardi": "#8A8A8A", "prost": "#2A52BE", "arrows": "#FF8C00", "tyrrell": "#1F6FD1",
    "ligier": "#0055A4", "marussia": "#C3002F", "manor": "#C3002F", "virgin": "#D4001F",
    "caterham": "#0B8F4A", "lotus_racing": "#0B8F4A", "hrt": "#A6904F", "team_lotus": "#FFD200",
}


def team_color(constructor_ref: str | None) -> str:
    return TEAM_COLORS.get(constructor_ref or "", NEUTRAL_COLOR)


def style_figure(fig: go.Figure, *, height: int = 440, title: str | None = None) -> go.Figure:
    """The house layout for every chart: compact margins, the legend in rows above the plot (beside
    it would squeeze the plot on a phone; below, it collides with long axis labels), a hover label
    per point. Colours and fonts follow the Streamlit theme (see `show_chart`)."""
    fig.update_layout(
        height=height,
        title=dict(text=title, x=0, xanchor="left") if title else None,
        margin=dict(l=8, r=8, t=48 if title else 16, b=8),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0, xanchor="left", title=None,
                    font=dict(size=12), itemwidth=30),
        hoverlabel=dict(namelength=-1),
        font=dict(size=13),
    )
    return fig


def show_chart(fig: go.Figure, key: str | None = None) -> None:
    st.plotly_chart(fig, width="stretch", theme="streamlit", key=key,
                    config={"displaylogo": False, "scrollZoom": False,
                            "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]})


def pct(p: float | None, digits: int = 0) -> str:
    """A probability for people: '37%', '<1%' for tiny non-zero chances, '—' when unknown."""
    if p is None or pd.isna(p):
        return "—"
    if 0 < p < 0.005:
        return "<1%"
    return f"{p * 100:.{digits}f}%"


def chance_formats(*columns: str) -> dict:
    """`show_table` formats for columns of chances in percent (0-100), read as `pct` reads them."""
    return {c: (lambda v: pct(v / 100)) for c in columns}


def pcts(*ps: float | None) -> list[str]:
    """`pct` of each, with a decimal when two different chances would otherwise read the same (a
    favourite at 32% and a winner "also at 32%" who was ranked below him)."""
    shown = [pct(p) for p in ps]
    known = [(p, s) for p, s in zip(ps, shown) if p is not None and not pd.isna(p)]
    if any(a != b and sa == sb for i, (a, sa) in enumerate(known) for b, sb in known[i + 1:]):
        return [pct(p, 1) for p in ps]
    return shown


LABEL_WIDTH = 34  # characters per line of a bar chart's category label: a phone keeps room for the bars


def wrap_labels(labels, width: int = LABEL_WIDTH) -> list[str]:
    """Category labels broken into lines of at most `width` characters (Plotly's <br>)."""
    return ["<br>".join(textwrap.wrap(str(label), width)) or str(label) for label in labels]


def bar_rows_height(labels: list[str], *, base: int = 90, minimum: int = 300) -> int:
    """Height of a horizontal bar chart whose category labels may run over several lines."""
    lines = sum(label.count("<br>") + 1 for label in labels)
    return max(minimum, base + 10 * len(labels) + 16 * lines)

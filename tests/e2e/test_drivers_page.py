"""The Drivers & teams page in a real browser: tables and the rating chart, redrawn per season."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, go_to, open_page, poll, wait_for_app_run

pytestmark = pytest.mark.e2e


def choose_season(page, season: int) -> None:
    box = page.get_by_role("combobox", name="Season")
    box.click()
    box.fill(str(season))
    page.get_by_role("option", name=str(season), exact=True).click()
    wait_for_app_run(page)


def svg_texts(page, selector: str) -> list[str]:
    """Texts of the rating chart's SVG elements (`inner_text` does not apply to SVG)."""
    chart = page.locator('[data-testid="stPlotlyChart"]:visible').first
    chart.locator(selector).first.wait_for(state="attached")
    return chart.locator(selector).evaluate_all("nodes => nodes.map(n => n.textContent)")


def chart_ticks(page, differing_from: list[str] | None = None) -> list[str]:
    """The x tick labels of the rating chart; with `differing_from`, wait until the chart has been
    redrawn with other ones."""
    return poll(page, lambda: svg_texts(page, ".xtick text"), lambda ticks: ticks != differing_from)


def test_drivers_page_shows_standings_and_tabs(app_server, page):
    open_page(page, app_server)
    go_to(page, "Drivers & teams")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Drivers & teams"
    assert page.get_by_role("tab").all_inner_texts() == ["Standings", "Ratings", "Recent form", "Teammates"]
    assert page.get_by_text("After round 4, Miami Grand Prix.").is_visible()
    assert page.locator('[data-testid="stDataFrame"]:visible').count() == 2  # drivers and constructors
    for tab in ("Recent form", "Teammates"):
        page.get_by_role("tab", name=tab).click()
        assert page.locator('[data-testid="stDataFrame"]:visible').count() == 1
    assert_no_error(page)


def test_changing_the_season_redraws_the_rating_chart(app_server, page):
    open_page(page, app_server)
    go_to(page, "Drivers & teams")
    page.get_by_role("tab", name="Ratings").click()
    ticks_2026 = chart_ticks(page)
    assert ticks_2026[-1] == "R5 next" and len(ticks_2026) == 5

    choose_season(page, 2021)
    page.get_by_role("tab", name="Ratings").click()
    ticks_2021 = chart_ticks(page, differing_from=ticks_2026)
    assert len(ticks_2021) == 22 and "next" not in ticks_2021[-1]
    assert_no_error(page)

    page.get_by_role("radio", name="Teams").click()
    wait_for_app_run(page)
    legend = svg_texts(page, ".legendtext")
    assert "Mercedes" in legend and "Red Bull" in legend
    assert_no_error(page)

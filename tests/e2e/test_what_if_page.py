"""The What-if page in a real browser: the rain slider redraws the chances, and a shared link
reproduces its scenario in the controls."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, go_to, open_page, poll, wait_for_app_run

pytestmark = pytest.mark.e2e


def metric_values(page, count: int | None = None) -> list[str]:
    """The values of the chance-to-win cards; with `count`, wait until that many are drawn (a tab
    that has just loaded can still be drawing its cards after the run reports finished)."""
    return poll(page, lambda: page.locator('[data-testid="stMetricValue"]').all_inner_texts(),
                lambda values: count is None or len(values) == count)


def chart_labels(page, differing_from: list[str] | None = None) -> list[str]:
    """The text labels of the win-chance chart's bars (what-if chances); with `differing_from`,
    wait until Plotly has redrawn them."""
    chart = page.locator('[data-testid="stPlotlyChart"]').first
    chart.locator(".bartext").first.wait_for(state="attached")
    return poll(page, lambda: chart.locator(".bartext").evaluate_all("nodes => nodes.map(n => n.textContent)"),
                lambda labels: labels != differing_from)


def test_rain_slider_redraws_the_chances(app_server, page):
    open_page(page, app_server)
    go_to(page, "What-if")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "What-if"
    assert page.get_by_text("This is the race as it is").is_visible()
    assert page.get_by_role("combobox", name="Race").input_value() == "2026 R5 Canadian Grand Prix · next race"
    before_metrics, before_chart = metric_values(page), chart_labels(page)

    rain = page.get_by_role("slider", name="Share of the race in rain")
    assert rain.get_attribute("aria-valuetext") == "dry"
    rain.focus()
    page.keyboard.press("End")  # all the way to a wet race
    wait_for_app_run(page)
    assert rain.get_attribute("aria-valuetext") == "wet all race"
    assert_no_error(page)
    assert metric_values(page) != before_metrics
    assert chart_labels(page, differing_from=before_chart) != before_chart
    assert page.get_by_text("rain=1", exact=False).first.is_visible()  # the link follows
    assert "rain=1" in page.url


def test_a_shared_link_reproduces_the_scenario(app_server, page):
    open_page(page, app_server, "what_if?season=2026&round=4&rain=0.6&air_temp=33&slots=hamilton:1")
    assert_no_error(page)
    assert not page.locator('[data-testid="stAlertContentWarning"]').count()
    assert page.get_by_role("combobox", name="Race").input_value() == "2026 R4 Miami Grand Prix · result known"
    slider = lambda name: page.get_by_role("slider", name=name)  # noqa: E731
    assert slider("Share of the race in rain").get_attribute("aria-valuetext") == "60% in rain"
    assert slider("Air temperature (°C)").get_attribute("aria-valuetext") == "33.0 °C"
    assert page.get_by_text("Moves: HAM to P1").is_visible()
    code = page.locator('[data-testid="stCode"]').first.inner_text()
    assert "season=2026&round=4&rain=0.6&air_temp=33&slots=hamilton:1" in code.replace("\n", "")
    assert page.get_by_text("What-if for 2026 R4 Miami Grand Prix").is_visible()

    # the same link in a fresh tab gives the same numbers
    shown = metric_values(page, count=4)
    assert len(shown) == 4 and all(v.endswith("%") for v in shown)
    other = page.context.new_page()
    open_page(other, app_server, "what_if?season=2026&round=4&rain=0.6&air_temp=33&slots=hamilton:1")
    assert metric_values(other, count=4) == shown
    other.close()


def test_a_link_naming_an_unknown_driver_warns(app_server, page):
    open_page(page, app_server, "what_if?season=2026&round=4&slots=nobody:3")
    assert_no_error(page)
    warning = page.locator('[data-testid="stAlertContentWarning"]').first.inner_text()
    assert "“nobody” is not in the field" in warning
    assert page.get_by_text("This is the race as it is").is_visible()

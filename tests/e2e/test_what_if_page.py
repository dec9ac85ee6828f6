"""The What-if page in a real browser: the rain slider redraws the chances, and a shared link
reproduces its scenario in the controls."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e

LINK = "what_if?season=2026&round=4&rain=0.6&air_temp=33&slots=hamilton:1"


def metric_values(page):
    """The values of the chance-to-win cards."""
    return page.locator('[data-testid="stMetricValue"]')


def chart_labels(page):
    """The text labels of the win-chance chart's bars (what-if chances); SVG, so expect reads
    their textContent."""
    return page.locator('[data-testid="stPlotlyChart"]').first.locator(".bartext")


def test_rain_slider_redraws_the_chances(app_server, page):
    open_page(page, app_server)
    go_to(page, "What-if")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("What-if")
    expect(page.get_by_text("This is the race as it is")).to_be_visible()
    expect(page.get_by_role("combobox", name="Race")).to_have_value("2026 R5 Canadian Grand Prix · next race")
    # the cards and Plotly's bars can still be drawing after the run reports finished
    expect(metric_values(page)).to_have_count(4)
    expect(chart_labels(page).first).to_be_attached()
    before_metrics = metric_values(page).all_inner_texts()
    before_chart = chart_labels(page).all_text_contents()

    rain = page.get_by_role("slider", name="Share of the race in rain")
    expect(rain).to_have_attribute("aria-valuetext", "dry")
    rain.focus()
    page.keyboard.press("End")  # all the way to a wet race
    wait_for_app_run(page)
    expect(rain).to_have_attribute("aria-valuetext", "wet all race")
    assert_no_error(page)
    expect(metric_values(page)).not_to_have_text(before_metrics)
    expect(chart_labels(page)).not_to_have_text(before_chart)  # Plotly has redrawn the bars
    expect(page.get_by_text("rain=1", exact=False).first).to_be_visible()  # the link follows
    expect(page).to_have_url(re.compile(r"rain=1"))


def test_a_shared_link_reproduces_the_scenario(app_server, page):
    open_page(page, app_server, LINK)
    assert_no_error(page)
    expect(page.locator('[data-testid="stAlertContentWarning"]')).to_have_count(0)
    expect(page.get_by_role("combobox", name="Race")).to_have_value("2026 R4 Miami Grand Prix · result known")
    slider = lambda name: page.get_by_role("slider", name=name)  # noqa: E731
    expect(slider("Share of the race in rain")).to_have_attribute("aria-valuetext", "60% in rain (fully wet)")
    expect(slider("Air temperature (°C)")).to_have_attribute("aria-valuetext", "33.0 °C")
    expect(page.get_by_text("Moves: HAM to P1")).to_be_visible()
    expect(page.locator('[data-testid="stCode"]').first).to_contain_text(LINK.split("?")[1])
    expect(page.get_by_text("What-if for 2026 R4 Miami Grand Prix")).to_be_visible()

    # the same link in a fresh tab gives the same numbers
    shown = metric_values(page)
    expect(shown).to_have_count(4)  # drawn, possibly after the run reported finished
    expect(shown).to_have_text([re.compile(r"%$")] * 4)
    numbers = shown.all_inner_texts()
    other = page.context.new_page()
    open_page(other, app_server, LINK)
    expect(metric_values(other)).to_have_text(numbers)
    other.close()


def test_a_link_naming_an_unknown_driver_warns(app_server, page):
    open_page(page, app_server, "what_if?season=2026&round=4&slots=nobody:3")
    assert_no_error(page)
    expect(page.locator('[data-testid="stAlertContentWarning"]').first).to_contain_text("“nobody” is not in the field")
    expect(page.get_by_text("This is the race as it is")).to_be_visible()

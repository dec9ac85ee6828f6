"""The Accuracy page in a real browser: the headline beside its baseline, and the other mode."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e

HEADLINE = ["Winner picked", "Winner in top 3 picks", "Winner log loss", "Finishing-order Spearman"]


def test_accuracy_page_shows_the_headline_and_switches_mode(app_server, page):
    open_page(page, app_server)
    go_to(page, "Accuracy")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Accuracy")
    labels = page.locator('[data-testid="stMetricLabel"]:visible')
    for i, label in enumerate(HEADLINE):  # the first four cards
        expect(labels.nth(i)).to_have_text(label)
    expect(page.get_by_text("vs grid", exact=False).first).to_be_visible()
    charts = page.locator('[data-testid="stPlotlyChart"]:visible')
    expect(charts.first).to_be_visible()  # the season chart

    page.get_by_role("radio", name="Before qualifying").click()
    wait_for_app_run(page)
    assert_no_error(page)
    expect(page.get_by_text("Before qualifying: the grid is the qualifying model's prediction.")).to_be_visible()
    expect(page.get_by_text("vs form", exact=False).first).to_be_visible()

    for tab in ("Over time", "Calibration", "Qualifying", "Live track record"):
        page.get_by_role("tab", name=tab).click()  # only the open tab runs: a click reruns the page
        wait_for_app_run(page)
        assert_no_error(page)
    expect(page.get_by_text("No live track record yet.")).to_be_visible()
    page.get_by_role("tab", name="Calibration").click()
    wait_for_app_run(page)
    expect(charts).to_have_count(2)  # the diagram and the counts
    # one season's diagram (the backtest here is the 2026 races)
    box = page.get_by_role("combobox", name="Season")
    box.click()
    page.get_by_role("option", name="2026", exact=True).click()
    wait_for_app_run(page)
    assert_no_error(page)
    expect(page.get_by_text("Every driver in every race of 2026", exact=False)).to_be_visible()
    expect(charts).to_have_count(2)

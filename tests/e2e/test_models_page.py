"""The Models page in a real browser: the registry, and the explanation chart redrawn for the
driver picked."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def test_models_page_shows_the_registry(app_server, page):
    open_page(page, app_server)
    go_to(page, "Models")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Models")
    expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text("v0001")
    page.get_by_role("tab", name="Versions & history").click()  # only the open tab runs: a click reruns
    wait_for_app_run(page)
    expect(page.locator('[data-testid="stDataFrame"]:visible')).to_have_count(2)  # versions and history
    page.get_by_role("tab", name="Retrain & roll back").click()
    wait_for_app_run(page)
    expect(page.get_by_role("button", name="Retrain")).to_be_visible()  # no admin password on this server
    assert_no_error(page)


def test_choosing_a_driver_draws_his_explanation(app_server, page):
    open_page(page, app_server)
    go_to(page, "Models")
    page.get_by_role("tab", name="Why this prediction?").click()
    wait_for_app_run(page)
    chart = page.locator('[data-testid="stPlotlyChart"]:visible').first
    title = chart.locator(".gtitle").first  # SVG: expect reads its textContent
    expect(title).to_have_text(re.compile(r"^Why "))
    before = title.text_content()

    box = page.get_by_role("combobox", name="Driver")
    box.click()
    options = page.get_by_role("option")
    expect(options.first).to_be_visible()
    option = options.last  # the outsider of the field
    code = option.inner_text().split(" · ")[0]
    option.click()
    wait_for_app_run(page)
    assert_no_error(page)
    expect(title).not_to_have_text(before)  # Plotly has redrawn it
    expect(title).to_have_text(f"Why {code}: what moved his prediction")
    expect(chart.locator(".waterfalllayer .point")).to_have_count(12)  # ten inputs, the other inputs together, and the total

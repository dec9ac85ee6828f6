"""The Drift page in a real browser: the suggestion and both charts."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def test_drift_page_shows_the_suggestion_and_charts(app_server, page):
    open_page(page, app_server)
    go_to(page, "Drift")
    assert_no_error(page)
    expect(page.locator("h1").first).to_have_text("Drift")
    verdict = page.locator('[data-testid="stAlert"]').first
    expect(verdict).to_contain_text(re.compile("Retraining is suggested|No retraining needed for drift|The inputs have moved"))
    charts = page.locator('[data-testid="stPlotlyChart"]')
    expect(charts.nth(1).locator(".scatterlayer .trace").first).to_be_attached()
    expect(charts).to_have_count(2)

    page.get_by_role("radio", name="KL").click()
    wait_for_app_run(page)
    assert_no_error(page)
    expect(charts.nth(1).locator(".ytitle").first).to_have_text(re.compile(r"^KL"))  # Plotly redraws it

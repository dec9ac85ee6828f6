"""The Drift page in a real browser: the suggestion and both charts."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def test_drift_page_shows_the_suggestion_and_charts(app_server, page):
    open_page(page, app_server)
    go_to(page, "Drift")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Drift"
    verdict = page.locator('[data-testid="stAlert"]').first.inner_text()
    assert "Retraining is suggested" in verdict or "No retraining needed for drift" in verdict
    charts = page.locator('[data-testid="stPlotlyChart"]')
    charts.nth(1).locator(".scatterlayer .trace").first.wait_for(state="attached")
    assert charts.count() == 2

    page.get_by_role("radio", name="KL").click()
    wait_for_app_run(page)
    assert_no_error(page)
    title = charts.nth(1).locator(".ytitle").first.text_content()
    assert title.startswith("KL")

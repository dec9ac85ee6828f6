"""The Models page in a real browser: the registry, and the explanation chart redrawn for the
driver picked."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, go_to, open_page, poll, wait_for_app_run

pytestmark = pytest.mark.e2e


def chart_title(page, differing_from: str | None = None) -> str:
    """The title of the explanation chart; with `differing_from`, wait until Plotly has redrawn it."""
    chart = page.locator('[data-testid="stPlotlyChart"]:visible').first
    chart.locator(".gtitle").first.wait_for(state="attached")
    return poll(page, lambda: chart.locator(".gtitle").first.text_content(), lambda t: t != differing_from)


def test_models_page_shows_the_registry(app_server, page):
    open_page(page, app_server)
    go_to(page, "Models")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Models"
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "v0001"
    page.get_by_role("tab", name="Versions & history").click()  # only the open tab runs: a click reruns
    wait_for_app_run(page)
    assert page.locator('[data-testid="stDataFrame"]:visible').count() == 2  # versions and history
    page.get_by_role("tab", name="Retrain & roll back").click()
    wait_for_app_run(page)
    assert page.get_by_role("button", name="Retrain").is_visible()  # no admin password on this server
    assert_no_error(page)


def test_choosing_a_driver_draws_his_explanation(app_server, page):
    open_page(page, app_server)
    go_to(page, "Models")
    page.get_by_role("tab", name="Why this prediction?").click()
    wait_for_app_run(page)
    before = chart_title(page)
    assert before.startswith("Why ")

    box = page.get_by_role("combobox", name="Driver")
    box.click()
    options = page.get_by_role("option")
    options.first.wait_for()
    option = options.nth(options.count() - 1)  # the outsider of the field
    code = option.inner_text().split(" · ")[0]
    option.click()
    wait_for_app_run(page)
    assert_no_error(page)
    after = chart_title(page, differing_from=before)
    assert after == f"Why {code}: what moved his prediction"
    bars = page.locator('[data-testid="stPlotlyChart"]:visible').first.locator(".waterfalllayer .point")
    assert bars.count() == 12  # ten inputs, the other inputs together, and the total

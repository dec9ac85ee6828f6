"""The Accuracy page in a real browser: the headline beside its baseline, and the other mode."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import assert_no_error, go_to, open_page, wait_for_app_run

pytestmark = pytest.mark.e2e


def metric_labels(page) -> list[str]:
    return page.locator('[data-testid="stMetricLabel"]:visible').all_inner_texts()


def test_accuracy_page_shows_the_headline_and_switches_mode(app_server, page):
    open_page(page, app_server)
    go_to(page, "Accuracy")
    assert_no_error(page)
    assert page.locator("h1").first.inner_text() == "Accuracy"
    labels = [text.strip() for text in metric_labels(page)]
    assert labels[:4] == ["Winner picked", "Winner in top 3 picks", "Winner log loss", "Finishing-order Spearman"]
    assert page.get_by_text("vs grid", exact=False).first.is_visible()
    assert page.locator('[data-testid="stPlotlyChart"]:visible').count() >= 1  # the season chart

    page.get_by_role("radio", name="Before qualifying").click()
    wait_for_app_run(page)
    assert_no_error(page)
    assert page.get_by_text("Before qualifying: the grid is the qualifying model's prediction.").is_visible()
    assert page.get_by_text("vs form", exact=False).first.is_visible()

    for tab in ("Over time", "Calibration", "Qualifying", "Live track record"):
        page.get_by_role("tab", name=tab).click()  # only the open tab runs: a click reruns the page
        wait_for_app_run(page)
        assert_no_error(page)
    assert page.get_by_text("No live track record yet.").is_visible()
    page.get_by_role("tab", name="Calibration").click()
    wait_for_app_run(page)
    assert page.locator('[data-testid="stPlotlyChart"]:visible').count() == 2  # the diagram and the counts

"""Values from a What-if link and from exception messages are shown as literal text: a crafted
link cannot put a clickable link, a remote image or a colour into the app's own warning boxes."""
from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.pages.conftest import run_page, shown, texts


def open_link(params: dict[str, str]) -> AppTest:
    return run_page("what_if.py", timeout=120, link=params)


CRAFTED = {
    "a link": ({"season": "[x](http://evil)", "round": "5"}, "[x](http://evil)"),
    "a remote image": ({"season": "2026", "round": "5", "grid": "![](http://evil/img.png)"},
                       "![](http://evil/img.png)"),
    "a colour": ({"season": "2026", "round": "5", "rain": ":red[alarm]"}, ":red[alarm]"),
    "a driver named like a link": ({"season": "2026", "round": "5", "slots": "[x](evil.example):3"},
                                   "[x](evil.example)"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_what_if_links_show_literally(with_model, case):
    params, markup = CRAFTED[case]
    at = open_link(params)
    assert not at.exception
    warning = texts(at.warning)
    assert "This link could not be used in full" in warning
    assert markup not in warning, "the markup reached the markdown as it was"
    assert markup in shown(at.warning), "and the reader sees it as typed"


def test_a_five_thousand_digit_slot_is_refused_in_a_short_line(with_model):
    at = open_link({"season": "2026", "round": "5", "slots": "hamilton:" + "9" * 5000})
    assert not at.exception
    warning = shown(at.warning)
    assert "is outside 1 to" in warning and len(warning) < 1000


def raise_crafted_error():
    from f1core.engine.scenario import ScenarioError
    from pages._widgets import friendly_error

    friendly_error(ScenarioError("driver [x](http://evil) ![](http://evil/img.png) :red[boom] # big"),
                   "run the what-if")


def test_exception_text_in_an_error_box_shows_literally(app_env, mini_db):
    app_env(mini_db)
    at = AppTest.from_function(raise_crafted_error).run()
    assert not at.exception
    error = texts(at.error)
    for markup in ("[x](http://evil)", "![](http", ":red[boom]"):
        assert markup not in error
    assert "driver [x](http://evil) ![](http://evil/img.png) :red[boom] # big" in shown(at.error)

"""The app's caches stay bounded: every cache names its limits, and a new data version empties
what was cached for the old one (`benchmarks/bench_memory.py` shows the server's memory)."""
from __future__ import annotations


def test_every_cache_of_the_app_is_bounded():
    """Each `st.cache_data` / `st.cache_resource` in app.py and pages/ names `max_entries`, and the
    shared data caches of pages/_resources.py a `ttl` as well."""
    import ast

    from tests.conftest import REPO

    unbounded = []
    for path in [REPO / "app.py", *sorted((REPO / "pages").glob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr not in ("cache_data", "cache_resource"):
                continue
            names = {k.arg for k in node.keywords}
            if "max_entries" not in names or (path.name == "_resources.py" and node.func.attr == "cache_data"
                                               and "ttl" not in names):
                unbounded.append(f"{path.name}:{node.lineno}")
    assert unbounded == []


def test_a_new_data_version_empties_the_cached_data_of_the_old_one(app_env, mini_db):
    from f1core.ingest.weather_csv import import_weather
    from pages import _resources
    from tests.conftest import FIXTURES

    app_env(mini_db)
    calls = []

    def counted(store):
        calls.append(store.data_version())
        return len(calls)

    store = _resources.get_store()
    _resources.evict_superseded_data()  # the version this process has seen
    old = store.data_version()
    _resources.cached_query(counted)
    _resources.cached_query(counted)
    assert calls == [old], "cached"
    assert not _resources.evict_superseded_data(), "nothing new: nothing emptied"
    with store.transaction() as cur:  # a small ingestion run: the weather of one race again, as new rows
        cur.execute("DELETE FROM weather_observed WHERE season = 2024 AND round = 1")
    import_weather(store, FIXTURES / "weather_mini")
    assert store.data_version() != old
    assert _resources.evict_superseded_data()
    # the old version's entry is gone: asking for it computes again
    _resources._cached_call(f"{counted.__module__}.{counted.__qualname__}", str(store.path), old, (), (),
                            _fn=counted, _leading=(store,))
    assert len(calls) == 2

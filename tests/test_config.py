"""Settings: the environment, overridden by .streamlit/secrets.toml, and a plain error for every
value that cannot be used."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from f1core.config import DEFAULT_JOLPICA_URL, SettingsError, load_settings


def test_defaults_with_an_empty_environment(tmp_path):
    s = load_settings({}, secrets_path=tmp_path / "absent.toml")
    assert s.db_path == Path("data/f1.duckdb") and s.models_dir == Path("models")
    assert s.snapshot is None and s.weather is None and s.today is None and s.admin_password is None
    assert s.snapshot_url is None  # bootstrapping from a download is opt-in
    assert s.jolpica_url == DEFAULT_JOLPICA_URL and s.refresh_hours == 6 and s.train_from is None


def test_secrets_override_the_environment(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('F1_ADMIN_PASSWORD = "from-secrets"\nF1_TODAY = "2026-05-20"\nF1_REFRESH_HOURS = 2\n'
                       '[connections.other]\nF1_DB = "ignored.duckdb"\n')
    env = {"F1_ADMIN_PASSWORD": "from-env", "F1_TODAY": "2024-01-01", "F1_DB": "env.duckdb",
           "JOLPICA_URL": "http://127.0.0.1:8000/ergast/f1/"}
    s = load_settings(env, secrets_path=secrets)
    assert s.admin_password == "from-secrets" and s.today == dt.date(2026, 5, 20) and s.refresh_hours == 2
    assert s.db_path == Path("env.duckdb")  # a nested table is not a setting
    assert s.jolpica_url == "http://127.0.0.1:8000/ergast/f1"  # no trailing slash


def test_blank_values_count_as_unset(tmp_path):
    s = load_settings({"F1_SNAPSHOT": "  ", "F1_ADMIN_PASSWORD": ""}, secrets_path=tmp_path / "absent.toml")
    assert s.snapshot is None and s.admin_password is None


@pytest.mark.parametrize("env, message", [
    ({"F1_TODAY": "20 May 2026"}, "F1_TODAY='20 May 2026' is not a date like 2026-05-10"),
    ({"F1_REFRESH_HOURS": "often"}, "F1_REFRESH_HOURS='often' is not a number"),
    ({"F1_REFRESH_HOURS": "0"}, "F1_REFRESH_HOURS must be positive"),
    ({"F1_SNAPSHOT_URL": "/data/dump.zip"}, r"F1_SNAPSHOT_URL='/data/dump.zip' is not an http\(s\) address"),
    ({"F1_TRAIN_FROM": "twenty"}, "F1_TRAIN_FROM='twenty' is not a season like 2014"),
])
def test_unusable_values_are_named(tmp_path, env, message):
    with pytest.raises(SettingsError, match=message):
        load_settings(env, secrets_path=tmp_path / "absent.toml")


def test_a_broken_secrets_file_is_named(tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("F1_TODAY = 2026-05-20 = oops\n")
    with pytest.raises(SettingsError, match=f"{secrets}: not valid TOML"):
        load_settings({}, secrets_path=secrets)

"""Settings: environment variables, overridden by `.streamlit/secrets.toml` when it holds the same key.

Both the app and the command line read settings here, so a deployment configured through
Streamlit secrets behaves the same as one configured through the environment.
"""
from __future__ import annotations

import datetime as dt
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

DEFAULT_JOLPICA_URL = "https://api.jolpi.ca/ergast/f1"
DEFAULT_OPEN_METEO_URL = "https://api.open-meteo.com/v1/forecast"
SECRETS_FILE = Path(".streamlit/secrets.toml")


class SettingsError(ValueError):
    """A setting has a value that cannot be used."""


@dataclass(frozen=True)
class Settings:
    db_path: Path
    snapshot: Path | None
    weather: Path | None
    jolpica_url: str
    open_meteo_url: str
    fastf1_cache: Path
    refresh_hours: float
    today: dt.date | None
    admin_password: str | None
    models_dir: Path
    train_from: int | None = None
    snapshot_url: str | None = None  # an Ergast-format dump (.zip) to bootstrap an empty store from


def _read_secrets(path: Path) -> dict[str, object]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML ({exc})") from exc
    return {k: v for k, v in data.items() if not isinstance(v, dict)}


def load_settings(env: dict[str, str] | None = None, secrets_path: Path | None = SECRETS_FILE) -> Settings:
    env = dict(os.environ if env is None else env)
    values: dict[str, object] = dict(env)
    if secrets_path is not None:
        values.update(_read_secrets(secrets_path))

    def get(name: str) -> str | None:
        value = values.get(name)
        if value is None or str(value).strip() == "":
            return None
        return str(value).strip()

    today = None
    if get("F1_TODAY"):
        try:
            today = dt.date.fromisoformat(get("F1_TODAY"))
        except ValueError as exc:
            raise SettingsError(f"F1_TODAY={get('F1_TODAY')!r} is not a date like 2026-05-10") from exc
    try:
        refresh_hours = float(get("F1_REFRESH_HOURS") or 6)
    except ValueError as exc:
        raise SettingsError(f"F1_REFRESH_HOURS={get('F1_REFRESH_HOURS')!r} is not a number") from exc
    if refresh_hours <= 0:
        raise SettingsError("F1_REFRESH_HOURS must be positive")

    def path_or_none(name: str) -> Path | None:
        value = get(name)
        return Path(value).expanduser() if value else None

    train_from = None
    if get("F1_TRAIN_FROM"):
        try:
            train_from = int(get("F1_TRAIN_FROM"))
        except ValueError as exc:
            raise SettingsError(f"F1_TRAIN_FROM={get('F1_TRAIN_FROM')!r} is not a season like 2014") from exc

    snapshot_url = get("F1_SNAPSHOT_URL")
    if snapshot_url and not snapshot_url.lower().startswith(("http://", "https://")):
        raise SettingsError(f"F1_SNAPSHOT_URL={snapshot_url!r} is not an http(s) address of a zipped dump")
    return Settings(
        db_path=Path(get("F1_DB") or "data/f1.duckdb").expanduser(),
        snapshot=path_or_none("F1_SNAPSHOT"),
        weather=path_or_none("F1_WEATHER"),
        jolpica_url=(get("JOLPICA_URL") or DEFAULT_JOLPICA_URL).rstrip("/"),
        open_meteo_url=get("OPEN_METEO_URL") or DEFAULT_OPEN_METEO_URL,
        fastf1_cache=Path(get("FASTF1_CACHE") or "data/fastf1-cache").expanduser(),
        refresh_hours=refresh_hours,
        today=today,
        admin_password=get("F1_ADMIN_PASSWORD"),
        models_dir=Path(get("F1_MODELS") or "models").expanduser(),
        train_from=train_from,
        snapshot_url=snapshot_url,
    )

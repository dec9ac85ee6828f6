"""Checking what a JSON source sends, before anything of it is stored.

Ergast sends numbers as strings; JSON numbers are accepted too. Every failure names the URL and
the item, because "invalid literal for int()" alone does not tell anyone which race broke.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any

from f1core.ingest.http import SourceError


def fail(url: str, where: str, message: str) -> SourceError:
    return SourceError(f"{url}: {where}: {message}")


def json_obj(d: Any, key: str, url: str, where: str, required: bool = True) -> dict | None:
    if not isinstance(d, dict):
        raise fail(url, where, "is not a JSON object")
    value = d.get(key)
    if value is None:
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if not isinstance(value, dict):
        raise fail(url, where, f"{key!r} is {type(value).__name__}, expected an object")
    return value


def json_list(d: dict, key: str, url: str, where: str) -> list:
    if key not in d:
        raise fail(url, where, f"missing key {key!r}")
    value = d[key]
    if not isinstance(value, list):
        raise fail(url, where, f"{key!r} is {type(value).__name__}, expected a list")
    return value


def json_text(d: dict, key: str, url: str, where: str, required: bool = False) -> str | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if not isinstance(value, str):
        raise fail(url, where, f"{key!r} is {value!r}, expected text")
    return value


def json_int(d: dict, key: str, url: str, where: str, required: bool = False) -> int | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise fail(url, where, f"{key!r} is {value!r}, expected a whole number")
    if isinstance(value, int):
        return value
    if not re.fullmatch(r"\s*-?\d+\s*", value):
        raise fail(url, where, f"{key!r} is {value!r}, expected a whole number")
    return int(value)


def json_float(d: dict, key: str, url: str, where: str, required: bool = False) -> float | None:
    value = d.get(key)
    if value is None or value == "":
        if required:
            raise fail(url, where, f"missing key {key!r}")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise fail(url, where, f"{key!r} is {value!r}, expected a number")
    try:
        number = float(value)
    except ValueError:
        raise fail(url, where, f"{key!r} is {value!r}, expected a number") from None
    if not math.isfinite(number):
        raise fail(url, where, f"{key!r} is {value!r}, expected a finite number")
    return number


def json_date(d: dict, key: str, url: str, where: str, required: bool = False) -> dt.date | None:
    value = json_text(d, key, url, where, required)
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise fail(url, where, f"{key!r} is {value!r}, expected a date like 2024-03-02") from None


_TIME = re.compile(r"^(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:Z|[+-]00:?00)?$")


def json_time(d: dict, key: str, url: str, where: str) -> str | None:
    value = json_text(d, key, url, where)
    if value is None:
        return None
    m = _TIME.match(value)
    if not m or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
        raise fail(url, where, f"{key!r} is {value!r}, expected a UTC time like 15:00:00Z")
    return f"{m[1]}:{m[2]}:{m[3]}"

"""What "today" is: the real date, or `F1_TODAY` for demos and tests."""
from __future__ import annotations

import datetime as dt


def today(override: dt.date | None = None) -> dt.date:
    return override or dt.datetime.now(dt.timezone.utc).date()


def now(override: dt.date | None = None) -> dt.datetime:
    """The current UTC moment; with an override, that day at the current time of day,
    so countdowns still tick in a demo pinned to a date."""
    real = dt.datetime.now(dt.timezone.utc)
    if override is None:
        return real
    return dt.datetime.combine(override, real.timetz())

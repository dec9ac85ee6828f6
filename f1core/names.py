"""How drivers are named on screen. The rule lives in the store's `driver_labels` view (the
official code, else the first three letters of the surname); `with_driver_labels` fills the
names of drivers the store does not know by the same rule, the last word of the driverRef
standing in for the surname ('max_verstappen' -> 'VER'). `plural` words a count."""
from __future__ import annotations

import unicodedata

import pandas as pd


def plural(n: int, word: str) -> str:
    """'1 race', '3 races'."""
    return f"{n} {word if n == 1 else word + 's'}"


def fallback_code(driver_ref: str) -> str:
    surname = str(driver_ref).rsplit("_", 1)[-1]
    plain = unicodedata.normalize("NFKD", surname).encode("ascii", "ignore").decode()
    return plain[:3].upper()


def with_driver_labels(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with `code` and `driver_name` filled for every row (from its driver_ref where the
    store had no label)."""
    out = table.copy()
    for col in ("code", "driver_name"):
        if col not in out:
            out[col] = None
    out["code"] = out["code"].fillna(out["driver_ref"].map(fallback_code))
    out["driver_name"] = out["driver_name"].fillna(out["driver_ref"])
    return out

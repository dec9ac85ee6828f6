"""How drivers are named on screen. The rule lives in the store's `driver_labels` view (the
official code, else the first three letters of the surname); `with_driver_labels` fills the
names of drivers the store does not know by the same rule, the last word of the driverRef
standing in for the surname ('max_verstappen' -> 'VER'), and lengthens codes two drivers of one
table share ('PANI', 'PANT' for Panis and Pantano in 2004). `plural` words a count."""
from __future__ import annotations

import unicodedata

import pandas as pd


def plural(n: int, word: str) -> str:
    """'1 race', '3 races'."""
    return f"{n} {word if n == 1 else word + 's'}"


def _plain(word: str) -> str:
    return unicodedata.normalize("NFKD", str(word)).encode("ascii", "ignore").decode().upper()


def fallback_code(driver_ref: str) -> str:
    return _plain(str(driver_ref).rsplit("_", 1)[-1])[:3]


def _distinct_codes(codes: pd.Series, surnames: pd.Series, refs: pd.Series) -> pd.Series:
    """Codes that tell apart the drivers of one table: a code two drivers share (codes made of a
    surname's first three letters collide 157 times within a season of the history) takes more
    letters of the surname until it is unique, or the driverRef when the surnames are the same."""
    out = codes.copy()
    for n in [*range(4, 12), None]:
        clash = out.map(refs.groupby(out).nunique()).gt(1)
        if not clash.any():
            break
        out[clash] = refs[clash] if n is None else surnames[clash].map(lambda s: _plain(s)[:n])
    return out


def with_driver_labels(table: pd.DataFrame) -> pd.DataFrame:
    """`table` with `code` and `driver_name` filled for every row (from its driver_ref where the
    store had no label)."""
    out = table.copy()
    for col in ("code", "driver_name"):
        if col not in out:
            out[col] = None
    out["code"] = out["code"].fillna(out["driver_ref"].map(fallback_code))
    out["driver_name"] = out["driver_name"].fillna(out["driver_ref"])
    surnames = out["driver_name"].str.split().str[-1]
    out["code"] = _distinct_codes(out["code"], surnames, out["driver_ref"])
    return out

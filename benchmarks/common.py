"""What the benchmarks share: the repository on the import path, and where the real snapshot is
(`../shared/data` beside the repository, as in the tests)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
SHARED_DATA = REPO.parent / "shared" / "data"


def snapshot_arguments(parser: argparse.ArgumentParser, weather: bool = True) -> None:
    """--snapshot (the Ergast-format dump) and, with `weather`, --weather (the weather CSVs)."""
    parser.add_argument("--snapshot", type=Path, default=SHARED_DATA / "ergast")
    if weather:
        parser.add_argument("--weather", type=Path, default=SHARED_DATA / "weather")

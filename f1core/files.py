"""Files written whole or not at all: a temporary file beside the target, flushed to disk, then
renamed over it. A crash, a full disk or a second writer never leaves a half-written model, index
or cache file, and a failed write leaves no temporary file behind."""
from __future__ import annotations

import os
import pickle
import threading
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically (the folder must exist)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_pickle(path: Path, obj: object) -> None:
    atomic_write(path, pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))


def read_pickle(path: Path) -> object:
    with open(path, "rb") as fh:
        return pickle.load(fh)

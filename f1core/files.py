"""Files written whole or not at all: a temporary file beside the target, flushed to disk, then
renamed over it. A crash, a full disk or a second writer never leaves a half-written model, index
or cache file, and a failed write leaves no temporary file behind."""
from __future__ import annotations

import errno
import hashlib
import os
import pickle
import threading
from pathlib import Path

# The errors a write gets when the disk (or the user's quota on it) has no room left.
_NO_ROOM = {errno.ENOSPC, errno.EDQUOT}


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


def code_hash(*modules) -> str:
    """A short hash of the source of `modules`: part of cache keys, so results computed by older
    code are never served as if the new code had made them."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(Path(module.__file__).read_bytes())
    return digest.hexdigest()[:12]


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in blocks (a model file is a few MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_disk_full(exc: BaseException) -> bool:
    """True when `exc` (or what caused it) says the disk or the quota has no room left."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.errno in _NO_ROOM:
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False

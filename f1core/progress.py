"""One way for long jobs to say how far they are: `progress(message, fraction)`.

Ingestion, training, backtests and the background refresh all report through this shape, so the
command line prints, the refresh status shows and the pages draw a bar from the same calls.
`fraction` is the share done (0 to 1) when the job knows it, None when it only has news.
"""
from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, message: str, fraction: float | None = None) -> None: ...


def silent(message: str, fraction: float | None = None) -> None:
    """A Progress that tells no one."""


def within(progress: Progress | None, start: float, end: float, prefix: str = "") -> Progress:
    """A Progress for one part of a job that runs from `start` to `end` of the whole: the part
    reports 0..1 and the whole sees start..end, its messages led by `prefix`."""
    outer = progress or silent

    def report(message: str, fraction: float | None = None) -> None:
        outer(f"{prefix}{message}", None if fraction is None else start + (end - start) * fraction)

    return report


def steps(progress: Progress | None, what: str, done: int, total: int) -> None:
    """Report step `done` of `total` of `what` ('race model: block 3/31')."""
    (progress or silent)(f"{what} {done}/{total}", done / total if total else 1.0)

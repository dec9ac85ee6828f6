"""An Ergast-format dump fetched over HTTP (F1_SNAPSHOT_URL): the whole history in one download.

A host that starts with an empty disk (Streamlit Community Cloud after every restart) would
otherwise rebuild the store from the Jolpica API, which its rate limits confine to the seasons
since 2014. A zip of the Ergast CSV tables (for instance the TracingInsights "RaceData" release,
refreshed after every Grand Prix) brings 1950 onwards at once; the API then adds the races the dump
does not have yet. The download is checked like any dump: a body that is not a zip, or a zip whose
tables are truncated or inconsistent, is refused with the URL named and nothing written.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from f1core.files import atomic_write
from f1core.ingest.ergast_csv import load_dump
from f1core.ingest.http import SourceError, get_body
from f1core.ingest.runs import IngestError, RunResult, ingestion_run
from f1core.store import Store

MAX_DOWNLOAD_BYTES = 200 * 1024 * 1024  # the full dump with lap times is a few tens of MB zipped
DOWNLOAD_DEADLINE_S = 300.0
ZIP_MAGIC = b"PK\x03\x04"


def import_dump_from_url(store: Store, url: str, workdir: Path, progress: Callable[[str], None] | None = None,
                         max_bytes: int = MAX_DOWNLOAD_BYTES, deadline_s: float = DOWNLOAD_DEADLINE_S) -> RunResult:
    """Download the dump at `url` into `workdir` and load it (one transaction, recorded in the
    ingestion log as `ergast-url:<url>`); the downloaded file is removed afterwards."""
    with ingestion_run(store, f"ergast-url:{url}") as run:
        if progress:
            progress("downloading the history dump")
        body = get_body(url, deadline_s=deadline_s, max_bytes=max_bytes)
        if not body.startswith(ZIP_MAGIC):
            raise SourceError(f"{url}: not a zip file (it starts with {body[:24]!r})")
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / "downloaded-dump.zip"
        try:
            atomic_write(path, body)
            del body
            load_dump(run, path, progress)
            run.notes = [note.replace(str(path), f"the dump from {url}") for note in run.notes]
        except IngestError as exc:  # name the download, not the file it was kept in for the reading
            raise IngestError(str(exc).replace(str(path), f"the dump from {url}")) from exc
        finally:
            path.unlink(missing_ok=True)
    return run

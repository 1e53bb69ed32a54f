"""Blob leak checks without a restart (used by test_cancellation.py and test_load_fault.py).

A committed blob is a file `<data_dir>/blobs/blobs/xx/<32 hex>`; it is referenced when the
metadata (`<data_dir>/meta.sqlite3`) names it in `segments.blob` (an object's manifest) or in
`parts.blob` (a part of an upload in progress). Anything else under `<data_dir>/blobs` that is
not a committed blob is a temporary file (`tmp/<id>.tmp`, a write in progress or a leftover).

The metadata is read with a separate read-only SQLite connection (`mode=ro`; the database is in
WAL mode, so this reader sees the last committed state and never blocks the server's writer).

Blobs freed by a delete or an overwrite are deleted asynchronously, and a GET in progress holds a
lease that defers the deletion, so a blob may be unreferenced for a moment without being leaked:
`unreferenced_blobs` polls until the answer is empty or `settle` seconds have passed. Call it
once no request is in flight (clients done), otherwise a PUT between its blob commit and its
metadata commit shows up as unreferenced.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

# The naming of committed blobs (as in test_multipart_lib.blob_files): blobs/xx/<32 hex>.
_BLOB_NAME = re.compile(r"[0-9a-f]{32}")
_BLOB_DIR = re.compile(r"[0-9a-f]{2}")


def meta_path(server) -> Path:
    return Path(server.data_dir) / "meta.sqlite3"


def blob_ids_on_disk(server) -> set[str]:
    """Ids of the committed blob files under <data_dir>/blobs."""
    root = Path(server.data_dir) / "blobs"
    if not root.exists():
        return set()
    return {p.name for p in root.rglob("*")
            if p.is_file() and _BLOB_DIR.fullmatch(p.parent.name) and _BLOB_NAME.fullmatch(p.name)
            and p.parent.name == p.name[:2]}


def temporary_files(server) -> list[Path]:
    """Every file under <data_dir>/blobs that is not a committed blob (tmp/*.tmp, strays)."""
    root = Path(server.data_dir) / "blobs"
    if not root.exists():
        return []
    return sorted(p for p in root.rglob("*")
                  if p.is_file() and not (_BLOB_DIR.fullmatch(p.parent.name)
                                          and _BLOB_NAME.fullmatch(p.name)
                                          and p.parent.name == p.name[:2]))


def referenced_blobs(server) -> set[str]:
    """Blob ids the committed metadata references (object segments and upload parts)."""
    uri = f"file:{meta_path(server)}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        conn.execute("PRAGMA query_only = 1")
        rows = conn.execute("SELECT blob FROM segments UNION SELECT blob FROM parts").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def _unreferenced_once(server) -> list[str]:
    # Files first, metadata second: a blob committed and referenced after the listing is not
    # in the listing; one referenced before it is in the metadata read after it.
    on_disk = blob_ids_on_disk(server)
    return sorted(on_disk - referenced_blobs(server))


def unreferenced_blobs(server, settle: float = 5.0, interval: float = 0.1) -> list[str]:
    """Committed blob files that no metadata references, after waiting up to `settle` seconds
    for asynchronous deletions and leases to finish. [] means no leak."""
    deadline = time.monotonic() + settle
    while True:
        leaked = _unreferenced_once(server)
        if not leaked or time.monotonic() >= deadline:
            return leaked
        time.sleep(interval)


def leftover_temporary_files(server, settle: float = 5.0, interval: float = 0.1) -> list[Path]:
    """Temporary files still present after waiting up to `settle` seconds."""
    deadline = time.monotonic() + settle
    while True:
        left = temporary_files(server)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(interval)


def dangling_references(server) -> list[str]:
    """Blob ids the metadata references but that have no file (data loss: must be [])."""
    return sorted(referenced_blobs(server) - blob_ids_on_disk(server))


def leak_report(server, settle: float = 5.0) -> dict:
    """{'unreferenced': [...], 'temporary': [...], 'dangling': [...], 'blobs': n, 'referenced': n}"""
    unreferenced = unreferenced_blobs(server, settle)
    temporary = leftover_temporary_files(server, settle=1.0 if unreferenced else settle)
    return {
        "unreferenced": unreferenced,
        "temporary": [str(p) for p in temporary],
        "dangling": dangling_references(server),
        "blobs": len(blob_ids_on_disk(server)),
        "referenced": len(referenced_blobs(server)),
    }

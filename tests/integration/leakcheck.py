"""Blob leak checks without a restart (used by test_cancellation.py and test_load_fault.py).

The blob store is asked through the supported hook, `tessera blobs unreferenced --grace 0`
(committed blobs no metadata references, and temporary leftovers of writes that never
committed) and `tessera blobs list` (every committed blob), instead of counting files: the
answer does not depend on the store's on-disk layout. Both open the data dir read-only beside
the running server (SQLite in WAL mode: the reader never blocks the server's writer) and start
no sweep.

The metadata's own view (`referenced_blobs`, for the dangling-reference check) is read with a
separate read-only SQLite connection (`mode=ro`).

Blobs freed by a delete or an overwrite are deleted asynchronously, and a GET in progress holds a
lease that defers the deletion, so a blob may be unreferenced for a moment without being leaked:
`unreferenced_blobs` polls until the answer is empty or `settle` seconds have passed. Call it
once no request is in flight (clients done), otherwise a PUT between its blob commit and its
metadata commit shows up as unreferenced (with grace 0 nothing is too young to be reported).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from pathlib import Path


def meta_path(server) -> Path:
    return Path(server.data_dir) / "meta.sqlite3"


def _blobs_command(server, *args: str) -> dict:
    """Runs `tessera blobs <args> --data-dir <data_dir>` and returns its JSON answer."""
    # The test run's own TESSERA_* variables (TESSERA_BIN...) are not server settings.
    env = {k: v for k, v in os.environ.items() if not k.startswith("TESSERA_")}
    done = subprocess.run(
        [str(server.binary), "blobs", *args, "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, env=env, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"tessera blobs {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return json.loads(done.stdout)


def check(server) -> dict:
    """`tessera blobs unreferenced --grace 0`: {'unreferenced': [{'id',...}], 'temporary':
    [{'name',...}], 'listed': n}."""
    return _blobs_command(server, "unreferenced", "--grace", "0")


def blob_ids_on_disk(server) -> set[str]:
    """Ids of every committed blob, as the blob store lists them."""
    return {b["id"] for b in _blobs_command(server, "list")["blobs"]}


def temporary_files(server) -> list[str]:
    """Names of the blob store's temporary leftovers (writes in progress or abandoned)."""
    return sorted(t["name"] for t in check(server)["temporary"])


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
    # The command lists blobs first and reads the metadata second: a blob committed and
    # referenced after the listing is not in the listing; one referenced before it is seen so.
    return sorted(b["id"] for b in check(server)["unreferenced"])


def unreferenced_blobs(server, settle: float = 5.0, interval: float = 0.1) -> list[str]:
    """Committed blobs that no metadata references, after waiting up to `settle` seconds
    for asynchronous deletions and leases to finish. [] means no leak."""
    deadline = time.monotonic() + settle
    while True:
        leaked = _unreferenced_once(server)
        if not leaked or time.monotonic() >= deadline:
            return leaked
        time.sleep(interval)


def leftover_temporary_files(server, settle: float = 5.0, interval: float = 0.1) -> list[str]:
    """Temporary leftovers still present after waiting up to `settle` seconds."""
    deadline = time.monotonic() + settle
    while True:
        left = temporary_files(server)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(interval)


def dangling_references(server) -> list[str]:
    """Blob ids the metadata references but the blob store does not list (data loss: must be [])."""
    return sorted(referenced_blobs(server) - blob_ids_on_disk(server))


def leak_report(server, settle: float = 5.0) -> dict:
    """{'unreferenced': [...], 'temporary': [...], 'dangling': [...], 'blobs': n, 'referenced': n}"""
    unreferenced = unreferenced_blobs(server, settle)
    temporary = leftover_temporary_files(server, settle=1.0 if unreferenced else settle)
    return {
        "unreferenced": unreferenced,
        "temporary": temporary,
        "dangling": dangling_references(server),
        "blobs": len(blob_ids_on_disk(server)),
        "referenced": len(referenced_blobs(server)),
    }

"""Embeddings kept beside the knowledge file, so a restart does not re-embed every stored incident.

Why a sidecar file and not the JSON record: 100k incidents x 384 float32 are 150 MB of binary, ~4x that
as JSON text, and the record is rewritten whole on each write. The sidecar
`<knowledge file>.vectors/<model id>.f32` is append-only: fixed-size rows of (sha256 of the text, vector),
so remembering one incident appends 1.6 KB and a changed text simply gets a new row. It is a cache: rows
are looked up by content hash, a torn last row (a crash mid-append) is ignored, an unreadable file is
rebuilt, and another model writes its own file. When stale rows outnumber live ones it is compacted.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import structlog
from numpy.typing import NDArray

from agent.knowledge.embedder import Embedder

log = structlog.get_logger("agent.knowledge")
KEY_BYTES = 32
QUERY_CACHE_SIZE = 32
APPEND_EVERY = 2048  # texts embedded between two appends to the file


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class VectorCache:
    """Content hash → vector for one embedder, in memory and in one append-only file."""

    def __init__(self, folder: Path, embedder: Embedder) -> None:
        self.embedder = embedder
        self.path = folder / f"{embedder.model_id}.f32"
        self._rows: dict[bytes, NDArray[np.float32]] = {}
        self._queries: OrderedDict[str, NDArray[np.float32]] = OrderedDict()
        self.embedded = 0  # texts embedded by this process (a restart that re-embeds shows here)
        self._load()

    def vectors(self, texts: list[str]) -> NDArray[np.float32]:
        """One unit-length row per text, embedding (and appending) only the texts not seen before."""
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts, strict=True):
            if key not in self._rows:
                missing.setdefault(key, text)
        pending = list(missing.items())
        for start in range(0, len(pending), APPEND_EVERY):  # a start-up killed mid-way keeps what it did
            chunk = pending[start : start + APPEND_EVERY]
            fresh = self.embedder.embed([text for _, text in chunk])
            self.embedded += len(chunk)
            self._append([key for key, _ in chunk], fresh)
        if not keys:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([self._rows[k] for k in keys])

    def query(self, text: str) -> NDArray[np.float32]:
        """A query's vector, kept in memory for the next few searches (a diagnosis searches runbooks
        and incidents with the same text), never written."""
        vector = self._queries.pop(text, None)
        if vector is None:
            vector = self.embedder.embed([text])[0]
        self._queries[text] = vector
        while len(self._queries) > QUERY_CACHE_SIZE:
            self._queries.popitem(last=False)
        return vector

    def compact(self, live: list[str]) -> None:
        """Rewrite the file with only the rows of `live` texts, when stale rows outnumber them."""
        keep = {text_key(t) for t in live}
        if len(self._rows) <= 2 * max(len(keep), 1):
            return
        self._rows = {k: v for k, v in self._rows.items() if k in keep}
        self._rewrite()

    # ------------------------------------------------------------------ the file
    def _row_dtype(self, dimension: int) -> np.dtype:
        return np.dtype([("key", f"S{KEY_BYTES}"), ("vector", "<f4", (dimension,))])

    def _load(self) -> None:
        if not self.path.exists():
            return
        try:
            raw = self.path.read_bytes()
            dimension = int(self.path.stem.rsplit("-", 1)[1])
            dtype = self._row_dtype(dimension)
            whole = len(raw) - len(raw) % dtype.itemsize
            if whole < len(raw):  # a torn last row: cut off, so the next append starts on a row boundary
                os.truncate(self.path, whole)
            rows = np.frombuffer(raw[:whole], dtype=dtype)
        except (OSError, ValueError, IndexError) as exc:
            log.warning("vector_cache_unreadable", path=str(self.path), error=type(exc).__name__)
            return
        self._rows = {bytes(r["key"]).ljust(KEY_BYTES, b"\0"): r["vector"].copy() for r in rows}
        log.info("vector_cache_loaded", path=str(self.path), vectors=len(self._rows))

    def _append(self, keys: list[bytes], vectors: NDArray[np.float32]) -> None:
        rows = np.zeros(len(keys), dtype=self._row_dtype(vectors.shape[1]))
        rows["key"] = keys
        rows["vector"] = vectors
        for key, vector in zip(keys, vectors, strict=True):
            self._rows[key] = vector
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as handle:
                handle.write(rows.tobytes())
        except OSError as exc:  # a cache: the vectors are still used, only re-embedded after a restart
            log.warning("vector_cache_not_written", path=str(self.path), error=type(exc).__name__)

    def _rewrite(self) -> None:
        keys = list(self._rows)
        if not keys:
            self.path.unlink(missing_ok=True)
            return
        vectors = np.stack([self._rows[k] for k in keys])
        rows = np.zeros(len(keys), dtype=self._row_dtype(vectors.shape[1]))
        rows["key"] = keys
        rows["vector"] = vectors
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(rows.tobytes())
            os.replace(tmp, self.path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            log.warning("vector_cache_not_compacted", path=str(self.path), error=type(exc).__name__)

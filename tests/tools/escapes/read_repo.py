# tries: read the repository's files (by absolute path, and by climbing out of the work dir)
# expect: blocked
import json
import os
from pathlib import Path

repo = json.loads(Path("params.json").read_text())["repo"]
for path in (f"{repo}/pyproject.toml", "../main/pyproject.toml", "../../pyproject.toml"):
    try:
        with open(path) as f:
            print(f"ESCAPED: read {path}: {f.read(40)!r}")
    except OSError as exc:
        print(f"BLOCKED: {path}: {exc.strerror}")
print("BLOCKED: / holds only", sorted(os.listdir("/")))

# tries: read the host's environment (a secret the host process holds) and other secrets
# expect: blocked
import json
import os
from pathlib import Path

name = json.loads(Path("params.json").read_text())["secret_name"]
print("environment:", dict(os.environ))
if name in os.environ:
    print(f"ESCAPED: {name} is visible")
else:
    print(f"BLOCKED: {name} not in the environment")
for path in ("/proc/1/environ", "/proc/self/environ", "/proc/1/cmdline"):
    try:
        with open(path, "rb") as f:
            data = f.read()
        print(f"BLOCKED: {path} holds only {data[:200]!r}")  # the host checks the secret
    except OSError as exc:
        print(f"BLOCKED: {path}: {exc.strerror}")

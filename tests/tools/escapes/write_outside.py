# tries: write outside the work dir: the host's /tmp, /usr, / and /etc
# expect: blocked
import json
from pathlib import Path

host_file = json.loads(Path("params.json").read_text())["host_tmp_file"]
# /tmp inside is the sandbox's own work dir: this write lands there, and the host checks that
# nothing appeared in its /tmp
with open(host_file, "w") as f:
    f.write("escape")
print("BLOCKED: /tmp is the sandbox's own directory (the host checks its /tmp)")
for path in ("/usr/podium-escape", "/podium-escape", "/etc/podium-escape", "/dev/podium-escape"):
    try:
        with open(path, "w") as f:
            f.write("escape")
        print(f"ESCAPED: wrote {path}")
    except OSError as exc:
        print(f"BLOCKED: {path}: {exc.strerror}")

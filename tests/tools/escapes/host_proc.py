# tries: see host processes in /proc (the test process, PID 1's root), and /sys
# expect: blocked
import json
import os
from pathlib import Path

host_pid = json.loads(Path("params.json").read_text())["host_pid"]
pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
print(f"BLOCKED: /proc shows only the sandbox's {len(pids)} processes {pids[:10]}")
if len(pids) > 5:
    print("ESCAPED: /proc shows many processes")
for path in ("/proc/1/root/etc", f"/proc/{host_pid}/root/etc", "/proc/1/cwd", "/sys/class"):
    try:
        print(f"ESCAPED: {path} lists {os.listdir(path)[:5]}")
    except OSError as exc:
        print(f"BLOCKED: {path}: {exc.strerror}")

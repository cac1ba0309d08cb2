# tries: outlive the sandbox: a new session, a double fork, a daemon that sleeps for a minute
# expect: blocked
import json
import os
import sys
import time
from pathlib import Path

marker = json.loads(Path("params.json").read_text())["marker"]
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        # the host looks for this marker in every process's command line after the run
        os.execv(sys.executable, [sys.executable, "-c", f"import time; time.sleep(60)  # {marker}"])
    os._exit(0)
time.sleep(0.2)
print("BLOCKED: the daemon started; the host checks that it died with the sandbox")

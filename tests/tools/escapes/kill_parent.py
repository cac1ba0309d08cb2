# tries: kill the sandbox's supervisor (PID 1, the parent) and every process it can signal
# expect: blocked
import os
import signal

for pid, sig in ((os.getppid(), signal.SIGKILL), (1, signal.SIGTERM), (1, signal.SIGINT)):
    try:
        os.kill(pid, sig)
    except OSError as exc:
        print(f"BLOCKED: kill({pid}, {sig.name}): {exc.strerror}")
try:
    os.kill(-1, signal.SIGKILL)  # every process it may signal, except itself
except OSError as exc:
    print(f"BLOCKED: kill(-1): {exc.strerror}")
os.sched_yield()
print(f"BLOCKED: still supervised; parent is {os.getppid()}")

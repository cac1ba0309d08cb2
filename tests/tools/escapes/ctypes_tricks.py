# tries: raw syscalls through ctypes: setuid(0), unshare a user namespace, mount, ptrace PID 1
# expect: blocked
import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)
CLONE_NEWUSER, CLONE_NEWNS, PTRACE_ATTACH = 0x10000000, 0x00020000, 16
calls = {
    "setuid(0)": lambda: libc.setuid(0),
    "unshare(NEWUSER)": lambda: libc.unshare(CLONE_NEWUSER),
    "unshare(NEWNS)": lambda: libc.unshare(CLONE_NEWNS),
    "mount(proc)": lambda: libc.mount(b"none", b"/work", b"tmpfs", 0, None),
    "remount / rw": lambda: libc.mount(None, b"/", None, 0x20 | 0x1000, None),  # REMOUNT|BIND
    "ptrace(ATTACH, 1)": lambda: libc.ptrace(PTRACE_ATTACH, 1, None, None),
    "chroot(/)": lambda: libc.chroot(b"/"),
}
for name, call in calls.items():
    if call() == 0:
        print(f"ESCAPED: {name} worked")
    else:
        print(f"BLOCKED: {name}: {os.strerror(ctypes.get_errno())}")

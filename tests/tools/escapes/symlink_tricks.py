# tries: symlinks and hard links in the work dir pointing at host files, for the file report
# expect: blocked
import os

links = {"shadow": "/etc/shadow", "repo": "/work/../root", "proc_root": "/proc/1/root/etc/passwd"}
for name, target in links.items():
    os.symlink(target, name)
    try:
        with open(name) as f:
            print(f"ESCAPED: read {target} through a symlink: {f.read(40)!r}")
    except OSError as exc:
        print(f"BLOCKED: {name} -> {target}: {exc.strerror}")
try:
    os.link("/usr/bin/python3", "python_hardlink")
    print("ESCAPED: hard link to a host file")
except OSError as exc:
    print(f"BLOCKED: hard link: {exc.strerror}")
os.mkdir("sub")
os.symlink("/etc", "sub/etc")
print("BLOCKED: the host checks that the file report shows no linked content")

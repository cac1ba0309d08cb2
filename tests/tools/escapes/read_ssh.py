# tries: read SSH keys in ~/.ssh, /root/.ssh and /home/*/.ssh
# expect: blocked
import glob
import os

paths = [os.path.expanduser("~/.ssh"), "/root/.ssh", *glob.glob("/home/*/.ssh")]
for path in paths:
    try:
        print(f"ESCAPED: {path} lists {os.listdir(path)}")
    except OSError as exc:
        print(f"BLOCKED: {path}: {exc.strerror}")

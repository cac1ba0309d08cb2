# tries: read /etc/shadow and /etc/passwd (host password hashes and accounts)
# expect: blocked
for path in ("/etc/shadow", "/etc/passwd", "/etc/hostname"):
    try:
        with open(path) as f:
            print(f"ESCAPED: read {path}: {f.read(40)!r}")
    except OSError as exc:
        print(f"BLOCKED: {path}: {exc.strerror}")

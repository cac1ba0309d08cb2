# tries: resolve names through DNS (a way to leak data even where TCP is blocked)
# expect: blocked
import socket

for name in ("example.com", "leak-some-data.example.org"):
    try:
        print(f"ESCAPED: {name} is {socket.getaddrinfo(name, 80)[0][4]}")
    except OSError as exc:
        print(f"BLOCKED: {name}: {exc}")

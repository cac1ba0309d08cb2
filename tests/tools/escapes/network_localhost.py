# tries: reach the host: a TCP listener on 127.0.0.1, an abstract unix socket, the internet
# expect: blocked
import json
import socket
from pathlib import Path

params = json.loads(Path("params.json").read_text())
for address in (("127.0.0.1", params["port"]), ("1.1.1.1", 443), ("10.0.2.2", 80)):
    try:
        socket.create_connection(address, timeout=2).close()
        print(f"ESCAPED: connected to {address}")
    except OSError as exc:
        print(f"BLOCKED: {address}: {exc}")
with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
    try:
        unix.connect("\0" + params["abstract_socket"])
        print("ESCAPED: connected to the host's abstract unix socket")
    except OSError as exc:
        print(f"BLOCKED: abstract unix socket: {exc}")

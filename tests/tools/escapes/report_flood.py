# tries: keep the file report from coming back: 30,000 files, a 3,000-level tree, odd names
# expect: blocked
import os

for i in range(30_000):
    open(f"f{i}", "w").close()
open(os.fsdecode(b"bad-\xff-name"), "w").close()
for _ in range(3000):
    os.mkdir("d")
    os.chdir("d")
open("deepest.txt", "w").close()
print("BLOCKED: the host checks that the report came back, cut")

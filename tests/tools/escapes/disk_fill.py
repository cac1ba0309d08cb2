# tries: fill the disk with many files, each under the file-size limit
# expect: limit:disk
n = 0
while True:
    with open(f"fill-{n}.bin", "wb") as f:
        f.write(b"\0" * 1024 * 1024)
    n += 1

# tries: write one file larger than the file-size limit
# expect: limit:file_size
with open("big.bin", "wb") as f:
    while True:
        f.write(b"x" * 1024 * 1024)

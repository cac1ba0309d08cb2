# tries: allocate memory without end
# expect: limit:memory
hoard = []
while True:
    hoard.append(bytearray(16 * 1024 * 1024))

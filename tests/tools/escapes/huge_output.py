# tries: flood stdout
# expect: limit:output
while True:
    print("y" * 10000)

# tries: spin the CPU forever
# expect: limit:cpu_time
while True:
    pass

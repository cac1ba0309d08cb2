# tries: a fork bomb (every process forks forever)
# expect: limit:processes
import os

while True:
    os.fork()

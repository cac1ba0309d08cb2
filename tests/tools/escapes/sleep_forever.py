# tries: hang without using CPU (only the wall-time limit can stop it)
# expect: limit:wall_time
import time

time.sleep(3600)

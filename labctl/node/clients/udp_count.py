#!/usr/bin/env python3
"""Count UDP datagrams arriving on a port until none came for IDLE seconds.

Usage: udp_count.py PORT [IDLE] — prints the count (recvfrom, no acknowledgement).
"""

import socket
import sys

port = int(sys.argv[1])
idle = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
sd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sd.bind(("", port))
sd.settimeout(30)  # wait up to 30 s for the first datagram
count = 0
try:
    while True:
        sd.recvfrom(2048)
        count += 1
        sd.settimeout(idle)
except TimeoutError:
    pass
finally:
    sd.close()
print(count)

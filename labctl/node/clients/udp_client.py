#!/usr/bin/env python3
"""The course's UDP client (socket, sendto, close): no connect, no handshake.

Usage: udp_client.py [HOST] [PORT] [MESSAGE] [COUNT]
"""

import socket  # Import module socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "localhost"  # Hostname of Server
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 50000  # Port number of Server
MESSAGE = sys.argv[3] if len(sys.argv) > 3 else "Hello World"  # Message
COUNT = int(sys.argv[4]) if len(sys.argv) > 4 else 1

# Create socket and return socket descriptor
sd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(COUNT):
    sd.sendto(MESSAGE.encode(), (HOST, PORT))  # Send message to socket
sd.close()  # Close socket
print(f"Sent {COUNT} datagram(s) to {HOST}:{PORT}")

#!/usr/bin/env python3
"""The course's TCP echo client (socket, connect, send, recv, close).

Usage: tcp_client.py [HOST] [PORT] [MESSAGE] [--hold SECONDS] [--abort]
  --hold   keep the connection open (ESTABLISHED) this long before closing
  --abort  close with RST instead of FIN (SO_LINGER with a zero timeout)
"""

import argparse
import socket  # Import module socket
import struct
import time

parser = argparse.ArgumentParser()
parser.add_argument("host", nargs="?", default="localhost")  # Hostname of Server
parser.add_argument("port", nargs="?", type=int, default=50007)  # Port number of server
parser.add_argument("message", nargs="?", default="Hello, world")
parser.add_argument("--hold", type=float, default=0)
parser.add_argument("--abort", action="store_true")
args = parser.parse_args()

# Create socket and return socket descriptor
sd = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Connect with server socket (the three-way handshake happens here)
sd.connect((args.host, args.port))
sd.send(args.message.encode())  # Send data
data = sd.recv(1024)  # Receive data
print("Received:", repr(data.decode()), flush=True)
time.sleep(args.hold)
if args.abort:
    # Linger on, with a zero timeout: close() discards the connection with RST.
    sd.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
sd.close()  # Close socket (FIN, or RST with --abort)

#!/usr/bin/env python3
"""The course's TCP echo client (seeds: socket, connect, send, recv, close).

Usage: tcp_client.py [HOST] [PORT] [MESSAGE]
"""

import socket  # Import module socket
import sys

HOST = sys.argv[1] if len(sys.argv) > 1 else "localhost"  # Hostname of Server
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 50007  # Port number of server
MESSAGE = sys.argv[3] if len(sys.argv) > 3 else "Hello, world"

# Create socket and return socket descriptor
sd = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
# Connect with server socket (the three-way handshake happens here)
sd.connect((HOST, PORT))
sd.send(MESSAGE.encode())  # Send data
data = sd.recv(1024)  # Receive data
sd.close()  # Close socket (FIN)
# Print out received data
print("Received:", repr(data.decode()))

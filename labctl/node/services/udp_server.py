#!/usr/bin/env python3
"""The course's UDP receiver (socket, bind, recvfrom, close).

Prints `Received: (data, (ip, port))` for each datagram; with --echo it also
sends each datagram back to its sender (sendto), still without any handshake.
"""

import argparse
import socket


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=50000)
    parser.add_argument("--echo", action="store_true")
    args = parser.parse_args()
    sd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # Create socket
    try:
        sd.bind(("", args.port))  # Bind socket to port
        print(f"UDP server listening on port {args.port}")
        while True:
            data = sd.recvfrom(1024)  # Receive data
            print("Received:", repr(data))  # Print out received data
            if args.echo:
                sd.sendto(data[0], data[1])
    finally:
        sd.close()  # Close socket


if __name__ == "__main__":
    main()

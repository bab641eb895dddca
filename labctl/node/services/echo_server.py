#!/usr/bin/env python3
"""The course's TCP echo server (socket, bind, listen, accept, recv, send, close).

Unlike the course's one-shot version, it serves many clients, one thread each,
so several students or client applications can connect at once.
"""

import argparse
import socket
import threading
import time

CLOSE_DELAY = 0.0


def serve(conn, addr):
    print("Connected by", addr)
    with conn:
        while True:
            try:
                data = conn.recv(1024)  # Receive data
            except ConnectionResetError:
                print("Reset by", addr)  # the client aborted with RST
                return
            if not data:
                break  # the client closed its side (FIN)
            conn.sendall(data)  # Send back received data
        if CLOSE_DELAY:
            # Our side stays in CLOSE-WAIT (and the client's in FIN-WAIT-2) meanwhile.
            time.sleep(CLOSE_DELAY)
    print("Closed", addr)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=50007)
    parser.add_argument("--backlog", type=int, default=16)
    parser.add_argument("--close-delay", type=float, default=0.0,
                        help="seconds to wait after the client's FIN before closing")
    args = parser.parse_args()
    global CLOSE_DELAY
    CLOSE_DELAY = args.close_delay
    sd = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # Create socket
    sd.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sd.bind(("", args.port))  # Bind socket to port ('' = all interfaces)
    sd.listen(args.backlog)  # Make socket ready to receive
    print(f"Echo server listening on TCP port {args.port}")
    while True:
        conn, addr = sd.accept()  # Socket accepts connections
        threading.Thread(target=serve, args=(conn, addr), daemon=True).start()


if __name__ == "__main__":
    main()

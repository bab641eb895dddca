"""Run in the test host's network namespace by test_escape.py: print every IPv4 or
IPv6 packet on the interface argv[1] whose destination is argv[2] or argv[3]
(`dst host`), until stdin closes. Prints "ready" once the socket listens.
Standard library only.
"""

import select
import socket
import sys

ETH_P_ALL = 0x0003
dev, wanted = sys.argv[1], socket.inet_aton(sys.argv[2])
wanted6 = socket.inet_pton(socket.AF_INET6, sys.argv[3])
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
sock.bind((dev, 0))
print("ready", flush=True)
while True:
    readable, _, _ = select.select([sock, sys.stdin], [], [])
    if sys.stdin in readable and not sys.stdin.readline():
        break
    if sock in readable:
        frame, (_, _, pkttype, _, _) = sock.recvfrom(65535)
        if pkttype == socket.PACKET_OUTGOING:
            continue
        packet = frame[14:]
        if frame[12:14] == b"\x08\x00" and packet[16:20] == wanted:
            print(f"{socket.inet_ntoa(packet[12:16])} > {socket.inet_ntoa(packet[16:20])} "
                  f"proto {packet[9]}", flush=True)
        if frame[12:14] == b"\x86\xdd" and packet[24:40] == wanted6:
            print(f"{socket.inet_ntop(socket.AF_INET6, packet[8:24])} > {sys.argv[3]} "
                  f"next {packet[6]}", flush=True)

"""Run inside a lab node by test_escape.py: try every way out of the lab toward the
test's own test host. Standard library only (the node image's Python).

argv[1] is JSON: phase ("setup" or "send"), admin (the node has NET_ADMIN),
target/target6 (the test host), host/host6 (the test's host-side veth addresses), port, and
per interface: mac, ip, gateway, bridge_mac, peers (other lab addresses there).
Prints JSON: how many packets left the node's sockets, and what failed.
"""

import json
import os
import socket
import struct
import subprocess
import sys
import time

SPEC = json.loads(sys.argv[1])
TARGET, HOST, PORT = SPEC["target"], SPEC["host"], SPEC["port"]
TARGET6, HOST6 = SPEC["target6"], SPEC["host6"]
ESCAPE_NET = TARGET.rsplit(".", 1)[0] + ".0/30"
sent, errors = 0, []


def ifname(mac):
    for name in os.listdir("/sys/class/net"):
        with open(f"/sys/class/net/{name}/address") as f:
            if f.read().strip() == mac.lower():
                return name
    raise SystemExit(f"no interface with MAC {mac}")


def ip(*args):
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if result.returncode != 0:
        errors.append(f"ip {' '.join(args)}: {result.stderr.strip()}")


def checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF


def icmp_echo():
    header = struct.pack("!BBHHH", 8, 0, 0, 0x1abc, 1)
    payload = b"labctl escape test"
    return struct.pack("!BBHHH", 8, 0, checksum(header + payload), 0x1abc, 1) + payload


def ipv4(src, dst, proto, payload):
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0x4242, 0, 64, proto, 0,
                         socket.inet_aton(src), socket.inet_aton(dst))
    return header[:10] + struct.pack("!H", checksum(header)) + header[12:] + payload


def udp(port, payload=b"labctl escape test"):
    return struct.pack("!HHHH", 40000, port, 8 + len(payload), 0) + payload  # no checksum


def ipv6_udp(src, dst, port, payload=b"labctl escape test"):
    """IPv6 needs the UDP checksum (over a pseudo-header)."""
    src, dst = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    length = 8 + len(payload)
    pseudo = src + dst + struct.pack("!I3xB", length, 17)
    header = struct.pack("!HHHH", 40000, port, length, 0)
    datagram = header[:6] + struct.pack("!H", checksum(pseudo + header + payload)) + payload
    return struct.pack("!IHBB", 6 << 28, length, 17, 64) + src + dst + datagram


def send(action):
    global sent
    try:
        action()
        sent += 1
    except OSError as exc:
        errors.append(str(exc))


def through_the_stack():
    """Whatever routes and neighbours the node has now: UDP and ICMP, as a program would."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        send(lambda: s.sendto(b"labctl escape test", (TARGET, PORT)))
        send(lambda: s.sendto(b"labctl escape test", (HOST, PORT)))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP) as s:
        send(lambda: s.sendto(icmp_echo(), (TARGET, 0)))


def raw_frames(iface):
    """Ethernet frames crafted to the bridge's MAC: own and spoofed sources."""
    dev = ifname(iface["mac"])
    dst_mac = bytes.fromhex(iface["bridge_mac"].replace(":", ""))
    src_mac = bytes.fromhex(iface["mac"].replace(":", ""))
    with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
        s.bind((dev, 0))
        for src in (iface["ip"], HOST, "10.255.255.254"):
            for packet in (ipv4(src, TARGET, 1, icmp_echo()), ipv4(src, TARGET, 17, udp(PORT)),
                           ipv4(src, HOST, 17, udp(PORT))):
                frame = dst_mac + src_mac + b"\x08\x00" + packet
                send(lambda frame=frame: s.send(frame))
        for src in ("fe80::1", "fd00:198:18::3"):
            for dst in (TARGET6, HOST6):
                frame = dst_mac + src_mac + b"\x86\xdd" + ipv6_udp(src, dst, PORT)
                send(lambda frame=frame: s.send(frame))


def setup():
    """Every gateway resolves to its bridge's MAC; a default route by the first one."""
    for iface in SPEC["interfaces"]:
        dev = ifname(iface["mac"])
        ip("neigh", "replace", iface["gateway"], "lladdr", iface["bridge_mac"], "dev", dev,
           "nud", "permanent")
    first = SPEC["interfaces"][0]
    ip("route", "replace", "default", "via", first["gateway"], "dev", ifname(first["mac"]),
       "onlink")


def attempts():
    for iface in SPEC["interfaces"]:
        raw_frames(iface)
    if not SPEC["admin"]:
        through_the_stack()  # by whatever route the node already has
        return
    for iface in SPEC["interfaces"]:
        dev = ifname(iface["mac"])
        ip("route", "replace", "default", "via", iface["gateway"], "dev", dev, "onlink")
        through_the_stack()
        for peer in iface["peers"]:  # a route via any lab address (a router may forward it)
            ip("route", "replace", ESCAPE_NET, "via", peer, "dev", dev)
            ip("route", "replace", f"{HOST}/32", "via", peer, "dev", dev)
            through_the_stack()
    ip("route", "del", ESCAPE_NET)
    ip("route", "del", f"{HOST}/32")
    first = SPEC["interfaces"][0]  # leave the default route out, for others routing via us
    ip("route", "replace", "default", "via", first["gateway"], "dev", ifname(first["mac"]),
       "onlink")
    time.sleep(0.3)  # packets waiting for a peer's ARP answer leave in the meantime


if SPEC["phase"] == "setup":
    setup()
else:
    attempts()
print(json.dumps({"sent": sent, "errors": errors}))

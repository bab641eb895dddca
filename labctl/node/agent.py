#!/usr/bin/env python3
"""PID 1 of every lab node: start capture, then services, then say ready.

labctl passes the node's plan as JSON in LABCTL_SPEC. Readiness is observed,
never assumed: tcpdump counts as started once it reports "listening on", and
a service once the kernel lists its port as listening (TCP) or bound (UDP).
Then one line `labctl-agent: ready` goes to the container log, which labctl
waits for. As PID 1 the agent also reaps orphans and, on SIGTERM, stops
tcpdump with SIGINT so the pcap ends cleanly.
"""

import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time

READY = "labctl-agent: ready"  # keep in step with labctl/node_protocol.py
FAILED = "labctl-agent: failed:"
READY_TIMEOUT = 20.0

children = {}  # pid -> (name, Popen)


def say(message):
    print(f"labctl-agent: {message}", flush=True)


def fail(message):
    print(f"{FAILED} {message}", flush=True)
    shutdown()
    sys.exit(1)


def shutdown(*_):
    for name, proc in list(children.values()):
        if proc.poll() is None:
            # SIGINT lets tcpdump flush and close its pcap; services just stop.
            proc.send_signal(signal.SIGINT if name == "tcpdump" else signal.SIGTERM)
    deadline = time.monotonic() + 2
    for _, proc in list(children.values()):
        try:
            proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()


def on_signal(signum, _frame):
    shutdown()
    sys.exit(0)


def listening_ports(proto):
    """Ports the kernel lists as LISTEN (tcp) or bound (udp), IPv4 and IPv6."""
    wanted_state = "0A" if proto == "tcp" else "07"
    ports = set()
    for suffix in ("", "6"):
        try:
            with open(f"/proc/net/{proto}{suffix}") as table:
                next(table)
                for line in table:
                    fields = line.split()
                    if fields[3] == wanted_state:
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            continue
    return ports


def interface_of(ip):
    """The interface that holds an address (eth0, eth1... follow the lab's networks)."""
    out = subprocess.run(["ip", "-o", "-4", "addr", "show"], capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        fields = line.split()
        if fields[3].split("/")[0] == ip:
            return fields[1]
    fail(f"no interface holds {ip}")
    return None


def sh(argv, what):
    result = subprocess.run(argv, capture_output=True, text=True)
    if result.returncode != 0:
        fail(f"{what}: {' '.join(argv)}: {result.stderr.strip()}")


def apply_links(links):
    for link in links:
        iface = interface_of(link["ip"])
        if link.get("mtu"):
            sh(["ip", "link", "set", "dev", iface, "mtu", str(link["mtu"])], "MTU")
            say(f"{iface}: mtu {link['mtu']}")
        if link.get("loss_percent"):
            # Dropped on arrival, after tcpdump saw the packet: the capture on this
            # node shows the lost segment and then its retransmission.
            p = f"{link['loss_percent'] / 100:.6f}"
            sh(["iptables", "-A", "INPUT", "-i", iface, "-m", "statistic", "--mode", "random",
                "--probability", p, "-j", "DROP"], "loss")
            say(f"{iface}: {link['loss_percent']}% of arriving packets dropped")
        if link.get("delay_ms") or link.get("jitter_ms"):
            argv = ["tc", "qdisc", "add", "dev", iface, "root", "netem", "delay",
                    f"{link.get('delay_ms', 0)}ms"]
            if link.get("jitter_ms"):
                argv.append(f"{link['jitter_ms']}ms")
            if link.get("rate_kbit"):
                argv += ["rate", f"{link['rate_kbit']}kbit"]
            result = subprocess.run(argv, capture_output=True, text=True)
            if result.returncode != 0:
                fail(f"delay needs the netem queue in the host kernel (sch_netem), which this "
                     f"host lacks: {result.stderr.strip()}; loss_percent and rate_kbit work "
                     "without it")
            say(f"{iface}: delay {link.get('delay_ms', 0)}ms")
        elif link.get("rate_kbit"):
            rate = link["rate_kbit"]
            sh(["tc", "qdisc", "add", "dev", iface, "root", "tbf", "rate", f"{rate}kbit",
                "burst", "32kbit", "latency", "400ms"], "rate")
            say(f"{iface}: rate {rate}kbit")


def apply_routes(routes):
    for route in routes:
        sh(["ip", "route", "add", route["subnet"], "via", route["via"]], "route")
        say(f"route to {route['to_network']} {route['subnet']} via {route['via']}")


def apply_masquerade(masquerade):
    iface = interface_of(masquerade["ip"])
    sh(["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", iface, "-j", "MASQUERADE"], "NAT")
    say(f"NAT: traffic leaving {iface} takes the address {masquerade['ip']}")


def disable_offload(interfaces):
    # Offloads make captures show "bad checksum" and segments larger than the MSS.
    for iface in interfaces:
        result = subprocess.run(
            ["ethtool", "-K", iface, "tx", "off", "sg", "off", "tso", "off", "gso", "off",
             "gro", "off"], capture_output=True, text=True)
        if result.returncode != 0:
            say(f"warning: could not turn off offloads on {iface}: {result.stderr.strip()}")


def start_capture(capture):
    # --immediate-mode: no kernel buffering, so a copy taken right after traffic has it all.
    argv = ["/usr/bin/tcpdump", "-i", capture["interface"], "-U", "--immediate-mode", "-n",
            "-Z", "root",
            "-s", str(capture["snaplen"]), "-c", str(capture["max_packets"]),
            "-w", capture["file"]]
    if capture.get("filter"):
        argv.append(capture["filter"])
    os.makedirs(os.path.dirname(capture["file"]), exist_ok=True)
    proc = subprocess.Popen(argv, stderr=subprocess.PIPE, text=True)
    children[proc.pid] = ("tcpdump", proc)
    # tcpdump prints "listening on IFACE" once the socket is open: from then
    # on no packet is missed.
    for line in proc.stderr:
        sys.stdout.write(line)
        if "listening on" in line:
            break
    else:
        fail(f"tcpdump exited with code {proc.wait()} before capturing")
    threading.Thread(target=_forward, args=(proc.stderr,), daemon=True).start()
    # Bound the capture in time: tcpdump's -G needs a file pattern, a timer is simpler.
    timer = threading.Timer(capture["max_seconds"], proc.send_signal, (signal.SIGINT,))
    timer.daemon = True
    timer.start()
    say(f"capturing on {capture['interface']} into {capture['file']}")


def _forward(stream):
    for line in stream:
        sys.stdout.write(line)
        sys.stdout.flush()


def start_services(services):
    for service in services:
        as_user = {}
        if service.get("user"):
            try:
                entry = pwd.getpwnam(service["user"])
            except KeyError:
                fail(f"{service['name']}: no user '{service['user']}' in the node image")
            as_user = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        proc = subprocess.Popen(service["argv"], stdin=subprocess.DEVNULL, **as_user)
        children[proc.pid] = (service["name"], proc)


def wait_until_listening(services):
    deadline = time.monotonic() + READY_TIMEOUT
    pending = {(s["proto"], s["port"]): s for s in services}
    while pending:
        for proto in {p for p, _ in pending}:
            for port in listening_ports(proto):
                pending.pop((proto, port), None)
        for _, proc in children.values():
            if proc.poll() is not None and proc.returncode is not None:
                name = children[proc.pid][0]
                fail(f"{name} exited with code {proc.returncode} before it was ready")
        if not pending:
            break
        if time.monotonic() > deadline:
            names = ", ".join(f"{s['name']} ({p}/{port})" for (p, port), s in pending.items())
            fail(f"not listening after {READY_TIMEOUT:.0f}s: {names}")
        time.sleep(0.005)


def reap_forever():
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            signal.pause()
            continue
        if pid in children:
            name, _ = children.pop(pid)
            say(f"{name} exited with code {os.waitstatus_to_exitcode(status)}")


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    spec = json.loads(os.environ.get("LABCTL_SPEC", "{}"))
    if spec.get("hosts"):
        with open("/etc/hosts", "a") as hosts:
            for name, ip in spec["hosts"].items():
                hosts.write(f"{ip}\t{name}\n")
    apply_links(spec.get("links", []))
    apply_routes(spec.get("routes", []))
    if spec.get("masquerade"):
        apply_masquerade(spec["masquerade"])
    if spec.get("disable_offload"):
        disable_offload(spec["disable_offload"])
    if spec.get("capture"):
        start_capture(spec["capture"])
    start_services(spec.get("services", []))
    wait_until_listening(spec.get("services", []))
    print(READY, flush=True)
    reap_forever()


if __name__ == "__main__":
    main()

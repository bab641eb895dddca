#!/usr/bin/env python3
"""PID 1 of every lab node: start capture, then services, then say ready.

labctl passes the node's plan as JSON in LABCTL_SPEC. Readiness is observed,
never assumed: tcpdump counts as started once it reports "listening on", and
a service once the kernel lists its port as listening (TCP) or bound (UDP).
Then one line `labctl-agent: ready` goes to the container log, which labctl
waits for. As PID 1 the agent also reaps orphans and, on SIGTERM, stops
tcpdump with SIGINT so the pcap ends cleanly.

It also guards the node's process limit: a fork bomb fills the pids cgroup and
nothing new can start, `labctl exec` included. Near the limit the agent stops,
then kills, every process it did not start (exec'd commands and their
descendants, orphans), keeping itself, the services and tcpdump.
"""

import contextlib
import json
import os
import pwd
import signal
import subprocess
import sys
import threading
import time

READY = "labctl-agent: ready"  # keep in step with labctl/runtime/agent_protocol.py
FAILED = "labctl-agent: failed:"
READY_TIMEOUT = 20.0
PIDS_POLL = 0.25  # seconds between looks at the pids cgroup
PIDS_RESERVE = 8  # act when fewer than this many (or 1/16 of the limit) are left

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


def seal_dev():
    """/dev is Docker's own 64 MiB tmpfs, the one writable place labctl cannot size.
    Root in a node has no CAP_DAC_OVERRIDE, so without write permission nothing can be
    created there; the device nodes themselves keep working."""
    try:
        os.chmod("/dev", 0o555)
    except OSError as exc:
        say(f"warning: could not make /dev read-only: {exc}")


def pids_files():
    """(current, max) of the node's pids cgroup: v1 layout, then v2."""
    for directory in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup"):
        current, limit = f"{directory}/pids.current", f"{directory}/pids.max"
        if os.path.exists(current) and os.path.exists(limit):
            return current, limit
    return None


def read_number(path):
    with open(path) as f:
        text = f.read().strip()
    return None if text == "max" else int(text)


def process_parents():
    """pid -> parent pid for every process in the node."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # The command name is in parentheses and may hold spaces: split after it.
        parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def labctl_processes(parents):
    """The agent, its services and tcpdump, and anything they started. Not the
    agent's other children: orphans it inherited as PID 1 (a bomb's, say)."""
    keep = set(children)
    grew = True
    while grew:
        more = {pid for pid, parent in parents.items() if parent in keep} - keep
        keep |= more
        grew = bool(more)
    return keep | {os.getpid()}


def clear_runaways():
    """Stop every other process (stopped ones cannot fork), then kill them all."""
    stopped = set()
    while True:
        parents = process_parents()
        targets = set(parents) - labctl_processes(parents) - stopped
        if not targets:
            break
        for pid in targets:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            stopped.add(pid)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return len(stopped)


def guard_pids():
    files = pids_files()
    limit = read_number(files[1]) if files else None
    if limit is None:
        say("no pids limit visible: the fork-bomb guard is off")
        return
    threshold = limit - max(PIDS_RESERVE, limit // 16)
    while True:
        time.sleep(PIDS_POLL)
        current = read_number(files[0])
        if current is not None and current >= threshold:
            killed = clear_runaways()
            say(f"{current} of {limit} processes in use: killed {killed} that labctl did not "
                "start (a fork bomb?), so commands can start again")


def watch_capture_space(capture):
    """tcpdump ignores a full disk (it drops packets silently): say so once."""
    directory = os.path.dirname(capture["file"])
    while True:
        time.sleep(PIDS_POLL * 4)
        fs = os.statvfs(directory)
        if fs.f_bavail * fs.f_frsize < 256 * 1024:
            size_mib = fs.f_blocks * fs.f_frsize // (1024 * 1024)
            say(f"{directory} is full ({size_mib} MiB; its size follows memory_mib): packets "
                "from now on are not captured")
            return


def reap_forever():
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            # No child now, but orphans (a killed fork bomb's) become ours at any time:
            # look again soon. (pause() would wait forever: SIGCHLD is ignored.)
            time.sleep(PIDS_POLL)
            continue
        if pid in children:
            name, _ = children.pop(pid)
            say(f"{name} exited with code {os.waitstatus_to_exitcode(status)}")


def main():
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    spec = json.loads(os.environ.get("LABCTL_SPEC", "{}"))
    seal_dev()
    apply_links(spec.get("links", []))
    apply_routes(spec.get("routes", []))
    if spec.get("masquerade"):
        apply_masquerade(spec["masquerade"])
    # Services first: their start-up (a Python interpreter each) overlaps the
    # offloads and the capture's; nothing sends before labctl reports ready.
    start_services(spec.get("services", []))
    if spec.get("disable_offload"):
        disable_offload(spec["disable_offload"])
    if spec.get("capture"):
        start_capture(spec["capture"])
    wait_until_listening(spec.get("services", []))
    threading.Thread(target=guard_pids, daemon=True).start()
    if spec.get("capture"):
        threading.Thread(target=watch_capture_space, args=(spec["capture"],),
                         daemon=True).start()
    print(READY, flush=True)
    reap_forever()


if __name__ == "__main__":
    main()

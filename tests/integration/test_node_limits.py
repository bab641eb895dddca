"""Each bound on a node, tried from inside the node as a careless user or an attacker would.

The root filesystem is read-only, every writable place is a tmpfs of a documented size
(counted in the node's memory limit), and a fork bomb is cleared by the agent so commands
start again.
"""

import time

import pytest

from labctl.errors import RuntimeFailure
from labctl.lab import naming, plan
from labctl.runtime.docker import connect as docker_runtime
from tests.conftest import SESSION_PREFIX, run_labctl

pytestmark = pytest.mark.docker

LAB = "handshake-lab"  # server: http on 80 and a capture; client: curl; 128 MiB, 256 pids
MEMORY_MIB = 128
GB_1_5 = "count=1536"  # 1.5 GB (in MiB blocks): far more than any tmpfs or the memory limit
WRITABLE = plan.tmpfs_mounts(MEMORY_MIB, capture=True)
SHM_MIB = MEMORY_MIB // plan.SHM_DIVISOR


@pytest.fixture(scope="module")
def lab(api, node_image):
    instance = f"{SESSION_PREFIX}limits"
    up = run_labctl("up", LAB, "-i", instance)
    assert up.returncode == 0, up.stderr
    try:
        yield docker_runtime(), naming.container_name(LAB, instance, "server"), \
            naming.container_name(LAB, instance, "client")
    finally:
        assert run_labctl("down", LAB, "-i", instance).returncode == 0


def sh(runtime, container, script):
    code, out, err = runtime.run(container, ["/bin/sh", "-c", script])
    return code, out.decode(), err.decode()


def assert_node_works(runtime, server, client):
    """exec starts (and can fork), and the http service still serves."""
    code, out, _ = sh(runtime, server, "ls / | wc -l")
    assert code == 0 and int(out) > 5
    code, out, err = sh(runtime, client, "curl -s -S --max-time 5 http://server/")
    assert code == 0 and "Hello World" in out, err


def size_mib(option: str) -> int:
    return int(option.split(",")[0].removeprefix("size=").removesuffix("m"))


def test_the_root_filesystem_takes_no_write(lab):
    runtime, server, client = lab
    for path in ("/big", "/etc/big", "/usr/big", "/opt/labctl/big", "/var/lib/big"):
        code, _, err = sh(runtime, server, f"dd if=/dev/zero of={path} bs=1M {GB_1_5}")
        assert code != 0 and "Read-only file system" in err, (path, err)
    # Docker's own files are mounted read-only too (they live on the host's disk).
    for path in ("/etc/hosts", "/etc/resolv.conf", "/etc/hostname"):
        code, _, err = sh(runtime, server, f"echo x >> {path}")
        assert code != 0 and "Read-only file system" in err, (path, err)
    assert_node_works(runtime, server, client)


@pytest.mark.parametrize("path", [*WRITABLE, "/dev/shm"])
def test_a_1_5_gb_write_into_each_tmpfs_stops_at_its_size(lab, path):
    runtime, server, client = lab
    want_mib = SHM_MIB if path == "/dev/shm" else size_mib(WRITABLE[path])
    code, _, err = sh(runtime, server, f"dd if=/dev/zero of={path}/big bs=1M {GB_1_5}")
    try:
        assert code != 0 and "No space left on device" in err, err
        _, out, _ = sh(runtime, server, f"stat -c %s {path}/big")
        assert int(out) <= want_mib * 1024 * 1024
        assert int(out) >= (want_mib - 1) * 1024 * 1024
        assert_node_works(runtime, server, client)
        if path == plan.CAPTURE_DIR:  # tcpdump drops packets silently: the agent says so
            time.sleep(1.5)
            logs = b"".join(runtime.logs(server, follow=False)).decode()
            assert "/captures is full (32 MiB" in logs
    finally:
        sh(runtime, server, f"rm -f {path}/big")


def test_docker_s_own_dev_tmpfs_takes_no_file(lab):
    runtime, server, client = lab
    code, _, err = sh(runtime, server, f"dd if=/dev/zero of=/dev/big bs=1M {GB_1_5}")
    assert code != 0 and "Permission denied" in err, err
    code, out, _ = sh(runtime, server, "head -c 3 /dev/zero | wc -c > /dev/null && echo ok")
    assert out.strip() == "ok"  # the devices themselves still work


def test_every_tmpfs_full_at_once_leaves_a_working_node(lab):
    # Their sizes add up to about half the memory limit: the rest is the processes'.
    runtime, server, client = lab
    places = [*WRITABLE, "/dev/shm"]
    fill = "; ".join(f"dd if=/dev/zero of={p}/big bs=1M {GB_1_5} 2>/dev/null" for p in places)
    try:
        sh(runtime, server, fill)
        _, out, _ = sh(runtime, server, "du -smc " + " ".join(f"{p}/big" for p in places))
        assert int(out.splitlines()[-1].split()[0]) >= sum(map(size_mib, WRITABLE.values()))
        assert_node_works(runtime, server, client)
    finally:
        sh(runtime, server, "rm -f " + " ".join(f"{p}/big" for p in places))
    assert_node_works(runtime, server, client)


def test_tools_of_the_course_work_on_the_read_only_root(lab):
    runtime, server, client = lab
    for node, script in ((server, "iptables -L -n && iptables -A INPUT -p icmp -j ACCEPT"
                                  " && iptables -D INPUT -p icmp -j ACCEPT"),
                         (server, "ss -tlnp && lsof -i -P -n"),
                         (client, "nmap -sS -p 80 server | grep -q '80/tcp open'"),
                         (client, "hping3 -c 1 -S -p 80 server"),
                         (client, "curl -s -S -o page http://server/ && grep -q Hello page"
                                  " && rm page"),  # into the working directory, /root
                         (client, "echo 'echo ran' > /tmp/s.sh && chmod +x /tmp/s.sh"
                                  " && /tmp/s.sh && rm /tmp/s.sh")):
        code, out, err = sh(runtime, node, script)
        assert code == 0, (script, out, err)


def test_the_engine_default_seccomp_profile_applies(lab):
    runtime, server, _ = lab
    code, out, _ = sh(runtime, server, "grep '^Seccomp:' /proc/1/status")
    assert code == 0 and out.split() == ["Seccomp:", "2"]  # 2: filtering


@pytest.mark.parametrize("victim", ["server", "client"])  # with services, and with none
def test_after_a_fork_bomb_commands_start_again_within_seconds(lab, victim):
    runtime, server, client = lab
    node = server if victim == "server" else client
    bomb = ("timeout 60 python3 -c 'import os\nwhile True:\n    try: os.fork()\n"
            "    except OSError: pass'")
    runtime.start_background(node, ["/bin/sh", "-c", bomb])
    started = time.monotonic()
    refusals = []
    while True:  # wait for the bomb to go off, then for the node to come back
        try:
            code, out, _ = sh(runtime, node, "ls / | wc -l; cat /sys/fs/cgroup/pids/pids.current")
            recovered = code == 0 and int(out.split()[-1]) < 32
        except RuntimeFailure as exc:  # runc could not start it: said clearly
            refusals.append(str(exc))
            recovered = False
        logs = b"".join(runtime.logs(node, follow=False)).decode()
        if recovered and "fork bomb" in logs:
            break
        assert time.monotonic() - started < 30, logs[-2000:]
        time.sleep(0.2)
    # About a second on a quiet host; a busy engine is slow to run the execs themselves.
    assert time.monotonic() - started < 15
    assert all("process limit (resources.pids)" in r for r in refusals), refusals
    assert_node_works(runtime, server, client)
    _, out, _ = sh(runtime, node, "ps -e -o args=")
    assert "agent.py" in out  # labctl's own processes stay
    if victim == "server":
        assert "http_server.py" in out

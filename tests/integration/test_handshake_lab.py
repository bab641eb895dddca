"""handshake-lab end to end on the real engine: up, services, curl, exec, down."""

import gzip
import json

import pytest

from labctl.lab import naming
from tests.conftest import run_labctl

pytestmark = pytest.mark.docker


@pytest.fixture
def handshake(lab_up, engine, instance):
    lab_up("handshake-lab")
    nodes = {n.node: n for n in engine.status("handshake-lab", instance)}
    return nodes


def run(engine, node_info, *argv):
    return engine.runtime.run(node_info.container, list(argv))


def test_up_reports_every_node_running_with_address(handshake):
    assert set(handshake) == {"server", "client"}
    for info in handshake.values():
        assert info.status == "running"
        assert info.ip.startswith("10.")
        assert info.mac.count(":") == 5
    assert handshake["server"].services == "http/tcp/80"


def test_server_listens_on_port_80_when_up_returns(engine, handshake):
    code, out, _ = run(engine, handshake["server"], "ss", "-Htln", "sport = :80")
    assert code == 0 and b"LISTEN" in out


def test_curl_compressed_returns_hello_world(engine, handshake):
    code, out, err = run(engine, handshake["client"], "curl", "-s", "--compressed",
                         "http://server/")
    assert code == 0, err
    assert out == b"<HTML><h1>Hello World!</h1></HTML>"


def test_gzip_only_when_client_accepts_it(engine, handshake):
    client = handshake["client"]
    code, raw, _ = run(engine, client, "curl", "-s", "-D", "/dev/stderr", "-H",
                       "Accept-Encoding: gzip", "http://server/")
    assert code == 0
    _, _, headers = run(engine, client, "sh", "-c",
                        "curl -s -o /dev/null -D - -H 'Accept-Encoding: gzip' http://server/")
    assert gzip.decompress(raw) == b"<HTML><h1>Hello World!</h1></HTML>"
    _, headers, _ = run(engine, client, "curl", "-s", "-o", "/dev/null", "-D", "-", "-H",
                        "Accept-Encoding: gzip", "http://server/")
    assert b"content-encoding: gzip" in headers.lower()
    assert f"content-length: {len(raw)}".encode() in headers.lower()
    _, plain_headers, _ = run(engine, client, "curl", "-s", "-o", "/dev/null", "-D", "-",
                              "http://server/")
    assert b"content-encoding" not in plain_headers.lower()


def test_server_logs_requests_in_the_seeds_format(engine, handshake):
    run(engine, handshake["client"], "curl", "-s", "http://server/hello")
    logs = b"".join(engine.runtime.logs(handshake["server"].container, follow=False)).decode()
    assert "The default network interface mac address is:  " + handshake["server"].mac in logs
    client_ip = handshake["client"].ip
    assert any(line.startswith("[") and f"] - {client_ip}:" in line and "GET /hello" in line
               for line in logs.splitlines()), logs


def test_least_privilege_is_applied(api, handshake):
    for info in handshake.values():
        host = api.inspect_container(info.container)["HostConfig"]
        assert host["Privileged"] is False
        assert host["CapDrop"] == ["ALL"]
        assert "SYS_ADMIN" not in (host["CapAdd"] or [])
        assert "no-new-privileges" in host["SecurityOpt"]
        assert host["Memory"] > 0 and host["PidsLimit"] > 0 and host["NanoCpus"] > 0
        assert host["NetworkMode"].startswith("labctl.")
        assert host["PidMode"] in ("", "private") and host["IpcMode"] in ("", "private")
        assert host["UsernsMode"] == "" and not host["Devices"]
        assert not host["Binds"]
        assert api.inspect_container(info.container)["Mounts"] == []
        sysctls = host["Sysctls"] or {}
        assert sysctls.get("net.ipv4.ip_unprivileged_port_start") == "1024"


def test_lab_network_is_internal_and_labelled(api, handshake, instance):
    nets = api.networks(filters={"label": naming.label_filters("handshake-lab", instance)})
    assert len(nets) == 1
    assert nets[0]["Internal"] is True


def test_cli_exec_returns_the_commands_exit_code(handshake, instance):
    ok = run_labctl("exec", "handshake-lab", "client", "-i", instance, "--",
                    "curl", "-s", "--compressed", "http://server/")
    assert ok.returncode == 0
    assert "Hello World!" in ok.stdout
    failing = run_labctl("exec", "handshake-lab", "client", "-i", instance, "--",
                         "sh", "-c", "echo oops >&2; exit 7")
    assert failing.returncode == 7
    assert "oops" in failing.stderr
    missing = run_labctl("exec", "handshake-lab", "nobody", "-i", instance, "--", "true")
    assert missing.returncode == 2
    assert "no node 'nobody'" in missing.stderr


def test_cli_shell_runs_on_the_node(handshake, instance):
    result = run_labctl("shell", "handshake-lab", "client", "-i", instance,
                        input_text="hostname\nexit 3\n")
    assert "client" in result.stdout
    assert result.returncode == 3


def test_cli_status_json_lists_the_lab(handshake, instance):
    result = run_labctl("status", "--json", "-i", instance)
    assert result.returncode == 0
    nodes = [n for lab in json.loads(result.stdout)["labs"] for n in lab["nodes"]]
    assert {(n["lab"], n["node"]) for n in nodes} == {("handshake-lab", "server"),
                                                      ("handshake-lab", "client")}

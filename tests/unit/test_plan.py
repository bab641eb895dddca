from labctl import loader, naming
from labctl.plan import plan_lab

LAB = """
name: demo
nodes:
  server:
    services:
      - http: {port: 8080, gzip: false}
      - udp: {echo: true}
    capture: {filter: "tcp port 8080"}
  client:
    cap_add: [NET_ADMIN]
    resources: {memory_mib: 64, pids: 100, cpus: 0.5}
"""


def plan():
    return plan_lab(loader.parse(LAB, "f"), "alice", {"lan": "10.9.8.0/24"}, "img:1")


def test_addresses_follow_declaration_order():
    p = plan()
    assert p.networks[0].gateway == "10.9.8.1"
    assert [(n.name, n.ip) for n in p.nodes] == [("server", "10.9.8.2"), ("client", "10.9.8.3")]


def test_names_and_labels_derive_from_lab_and_instance():
    p = plan()
    assert p.networks[0].docker_name == "labctl.alice.demo.lan"
    server = p.nodes[0]
    assert server.container == "labctl.alice.demo.server"
    assert server.labels[naming.LAB] == "demo"
    assert server.labels[naming.INSTANCE] == "alice"
    assert server.labels[naming.NODE] == "server"
    assert server.labels[naming.SERVICES] == "http/tcp/8080,udp/udp/50000"


def test_least_privilege_capabilities():
    server, client = plan().nodes
    # capture adds offload control (NET_ADMIN); the client asked for NET_ADMIN itself
    base = ("NET_BIND_SERVICE", "NET_RAW", "SETGID", "SETUID")
    assert server.capabilities == ("NET_ADMIN", *base)
    assert client.capabilities == ("NET_ADMIN", *base)
    assert plan_lab(loader.parse("name: x\nnodes:\n  a: {}\n", "f"), "i",
                    {"lan": "10.0.0.0/24"}, "img").nodes[0].capabilities == base


def test_limits_and_service_commands():
    server, client = plan().nodes
    assert client.memory_bytes == 64 * 1024 * 1024
    assert client.pids == 100 and client.nano_cpus == 500_000_000
    argvs = [s["argv"] for s in server.spec["services"]]
    assert argvs[0][-3:] == ["--port", "8080", "--no-gzip"]
    assert argvs[1][-1] == "--echo"
    assert server.spec["capture"]["filter"] == "tcp port 8080"
    assert server.spec["capture"]["file"] == "/captures/server.pcap"
    assert "capture" not in client.spec

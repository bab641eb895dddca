from labctl.lab import loader
from labctl.lab.plan import gateway, plan_lab

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
    assert gateway(p.networks[0].subnet) == "10.9.8.1"
    assert [(n.name, n.ip) for n in p.nodes] == [("server", "10.9.8.2"), ("client", "10.9.8.3")]


def test_names_and_records_derive_from_lab_and_instance():
    p = plan()
    assert (p.networks[0].lab, p.networks[0].instance, p.networks[0].name) == (
        "demo", "alice", "lan")
    server = p.nodes[0]
    assert server.container == "labctl.alice.demo.server"
    assert (server.lab, server.instance, server.name) == ("demo", "alice", "server")
    assert server.services == "http/tcp/8080,udp/udp/50000"
    assert server.capture == "/captures/server.pcap"
    assert server.networks == ("lan",)


def test_least_privilege_capabilities():
    server, client = plan().nodes
    # capture adds offload control (NET_ADMIN); the client asked for NET_ADMIN itself
    base = ("KILL", "NET_BIND_SERVICE", "NET_RAW", "SETGID", "SETUID")
    assert server.capabilities == ("KILL", "NET_ADMIN", *base[1:])
    assert client.capabilities == ("KILL", "NET_ADMIN", *base[1:])
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


def test_every_lab_bridge_is_named_for_the_host_guard():
    from labctl.lab import naming
    from labctl.runtime import host_guard as isolation
    name = naming.network_name("demo", "alice", "lan")
    bridge = isolation.bridge_name(name)
    assert bridge.startswith("lc-") and len(bridge) <= 15
    assert isolation.bridge_name(naming.network_name("demo", "bob", "lan")) != bridge


def test_read_only_root_with_tmpfs_sized_from_memory():
    server, client = plan().nodes
    assert server.read_only and client.read_only
    assert server.tmpfs["/captures"].startswith("size=32m,")  # a quarter of 128 MiB
    assert server.tmpfs["/tmp"] == "size=16m,mode=1777,exec"
    assert "/captures" not in client.tmpfs  # it captures nothing
    assert client.tmpfs["/root"].startswith("size=4m,")  # 64 MiB / 16
    assert client.shm_bytes == 2 * 1024 * 1024
    assert server.workdir == "/root"
    assert "apparmor=docker-default" in server.security_opt


def test_nodes_on_no_shared_network_are_named_in_etc_hosts_by_docker():
    lab = loader.parse("name: x\nnetworks: {a: {}, b: {}}\nnodes:\n"
                       "  one: {networks: [a]}\n  two: {networks: [b]}\n", "f")
    one, two = plan_lab(lab, "i", {"a": "10.1.0.0/24", "b": "10.2.0.0/24"}, "img").nodes
    assert one.extra_hosts == {"two": "10.2.0.2"} and two.extra_hosts == {"one": "10.1.0.2"}
    assert "hosts" not in one.spec  # the agent no longer writes /etc/hosts (read-only)


def test_a_custom_image_keeps_its_working_directory_but_not_a_writable_root():
    lab = loader.parse("name: x\nnodes:\n  web: {image: 'nginx:1'}\n", "f")
    web = plan_lab(lab, "i", {"lan": "10.0.0.0/24"}, "img").nodes[0]
    assert web.read_only and web.workdir == "" and "/tmp" in web.tmpfs

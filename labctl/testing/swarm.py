"""A Docker Swarm on this machine, for tests and rehearsals: engines in containers.

    python3 -m labctl.testing.swarm up 3     # prints the settings for labctl and docker
    python3 -m labctl.testing.swarm env      # the same settings again
    python3 -m labctl.testing.swarm down

Each engine is Debian's dockerd in a container of an image built offline (mmdebstrap,
cached by the content hash of its inputs, as labctl's node image is), on a private
Docker network of the cluster's own (internal: no way out, MTU 1550 so overlays keep
Ethernet's 1500 across hosts). Engines listen only on TCP with mutual TLS
(`--tlsverify`): a client certificate of the cluster's own authority is the only
way in; its key, with ca.pem and cert.pem, is kept in ~/.cache/labctl/swarm/NAME
(mode 0700). The first engine initialises the swarm, the others join, and each gets
labctl's node image (`docker save | docker load`, no registry).

The engines run with every capability but SYS_RESOURCE and no seccomp or AppArmor
profile (dockerd needs them to make containers): a test cluster, never a class's.
"""

from __future__ import annotations

import argparse
import io
import ipaddress
import os
import shutil
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from labctl.errors import InvalidInput, LabctlError, RuntimeFailure
from labctl.runtime import images
from labctl.runtime.base import Progress
from labctl.runtime.docker import DockerRuntime
from labctl.runtime.engine_sdk import SDK_ERRORS, SdkEngine, copy_image
from labctl.runtime.swarm_engines import DEFAULT_PORT, tls_api
from labctl.testing import tls

DEFAULT_NAME = "labctl-swarm"
LABEL = "labctl.swarm"  # on the engines and their network: the cluster's name
ENGINE_REPO = "labctl/swarm-engine"
ENGINE_PACKAGES = ["docker.io", "iptables", "iproute2", "procps", "ca-certificates"]
ENGINE_VARIANT = "apt"
TLS_DIR = "/etc/docker/tls"
UNDERLAY_MTU = "1550"  # an overlay's 1500 plus VXLAN's 50
# The cluster's own network: outside labctl's lab pool and the engines' own defaults
# (172.17-172.18 for their docker0 and docker_gwbridge).
UNDERLAY_POOL = "172.31.0.0/16"
START_TIMEOUT = 90.0


@dataclass(frozen=True)
class Engine:
    name: str  # container name and hostname
    addr: str  # on the cluster's network

    @property
    def url(self) -> str:
        return f"tcp://{self.addr}:{DEFAULT_PORT}"


@dataclass(frozen=True)
class Cluster:
    name: str
    engines: tuple[Engine, ...]
    certs: Path  # the client's ca.pem, cert.pem, key.pem

    @property
    def manager(self) -> Engine:
        return self.engines[0]

    def env(self) -> dict[str, str]:
        """What labctl needs to run labs on this swarm."""
        return {"LABCTL_RUNTIME": "swarm", "LABCTL_SWARM_MANAGER": self.manager.url,
                "LABCTL_SWARM_CERTS": str(self.certs)}

    def docker_env(self) -> dict[str, str]:
        """What the docker CLI needs to reach the manager."""
        return {"DOCKER_HOST": self.manager.url, "DOCKER_TLS_VERIFY": "1",
                "DOCKER_CERT_PATH": str(self.certs)}

    def client(self, engine: Engine | None = None) -> docker.APIClient:
        return tls_api((engine or self.manager).url, self.certs)


def state_dir(name: str) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "labctl" / "swarm" / name


def _local() -> docker.APIClient:
    return docker.from_env(timeout=120).api


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# -- the engine image --------------------------------------------------------------
def engine_image(api: docker.APIClient, progress: Progress = _say) -> str:
    """Debian's dockerd, built offline once per content of its inputs."""
    digest = images.rootfs_hash(ENGINE_PACKAGES, ENGINE_VARIANT)
    ref = f"{ENGINE_REPO}:{digest}"
    try:
        labels = api.inspect_image(ref)["Config"].get("Labels") or {}
        if labels.get(images.HASH_LABEL) == digest:
            return ref
    except docker.errors.ImageNotFound:
        pass
    progress(f"building {ref} with mmdebstrap (once)")
    with tempfile.TemporaryDirectory(prefix="labctl-engine-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        images.mmdebstrap(ENGINE_PACKAGES, tarball, lambda _: None, variant=ENGINE_VARIANT)
        repo, tag = ref.split(":")
        api.import_image(src=str(tarball), repository=repo, tag=tag,
                         changes=[f"LABEL {images.HASH_LABEL}={digest}", 'CMD ["dockerd"]'])
    return ref


# -- up ------------------------------------------------------------------------------
def up(count: int = 3, name: str = DEFAULT_NAME, progress: Progress = _say) -> Cluster:
    """Start `count` engines, form the swarm, load the node image; the cluster."""
    if count < 1:
        raise InvalidInput("a swarm needs at least one engine")
    api = _local()
    if api.containers(all=True, filters={"label": f"{LABEL}={name}"}):
        raise InvalidInput(f"a test swarm named {name} is up already: use it "
                           f"(`python3 -m labctl.testing.swarm env --name {name}`) or take it "
                           "down first")
    try:
        return _up(api, count, name, progress)
    except BaseException:
        progress("taking down what was made")
        down(name, progress=lambda _: None)
        raise


def _up(api: docker.APIClient, count: int, name: str, progress: Progress) -> Cluster:
    image = engine_image(api, progress)
    node_image = DockerRuntime(SdkEngine(api)).ensure_image(None, progress)
    subnet = _create_network(api, name)
    hosts = ipaddress.ip_network(subnet).hosts()
    next(hosts)  # the bridge's
    engines = tuple(Engine(f"{name}-{i}", str(next(hosts))) for i in range(1, count + 1))
    authority = tls.Authority(name)
    certs = state_dir(name)
    if certs.exists():
        shutil.rmtree(certs)
    tls.write_client(certs, authority.pem, authority.client("labctl"))
    cluster = Cluster(name, engines, certs)
    for engine in engines:
        server = authority.server(engine.name, [engine.addr, "127.0.0.1"],
                                  [engine.name, "localhost"])
        _start_engine(api, image, name, engine, authority.pem, server)
    progress(f"started {count} engine(s) on {subnet}; waiting for them")
    clients = [_ready(cluster, engine) for engine in engines]
    _form_swarm(clients, engines)
    progress(f"swarm formed; loading {node_image} where missing")
    with ThreadPoolExecutor(max_workers=count) as pool:
        list(pool.map(lambda c: _load(api, c, node_image), clients))
    return cluster


def _create_network(api: docker.APIClient, name: str) -> str:
    """The cluster's own network, on a free /24 of UNDERLAY_POOL (engines need fixed
    addresses: their certificates name them); returns its subnet."""
    used = [ipaddress.ip_network(cfg["Subnet"]) for net in api.networks()
            for cfg in (net.get("IPAM") or {}).get("Config") or [] if cfg.get("Subnet")]
    for subnet in ipaddress.ip_network(UNDERLAY_POOL).subnets(new_prefix=24):
        if any(subnet.overlaps(u) for u in used):
            continue
        ipam = {"Driver": "default", "Config": [{"Subnet": str(subnet)}], "Options": {}}
        try:
            api.create_network(name, driver="bridge", internal=True, labels={LABEL: name},
                               ipam=ipam, check_duplicate=True,
                               options={"com.docker.network.driver.mtu": UNDERLAY_MTU})
        except docker.errors.APIError as exc:
            if "overlap" in str(exc).lower():
                continue  # taken since we looked
            raise
        return str(subnet)
    raise RuntimeFailure(f"no free /24 left in {UNDERLAY_POOL} for the test swarm")


def _start_engine(api: docker.APIClient, image: str, name: str, engine: Engine, ca: bytes,
                  server) -> None:
    host_config = api.create_host_config(
        cap_add=["ALL"], cap_drop=["SYS_RESOURCE"],
        security_opt=["seccomp=unconfined", "apparmor=unconfined"],
        binds=["/sys/fs/cgroup:/sys/fs/cgroup:rw"], tmpfs={"/var/lib/docker": "exec"},
        network_mode=name)
    # --security-opt systempaths=unconfined, as the API says it: nothing masked under /proc
    host_config.update(MaskedPaths=[], ReadonlyPaths=[])
    networking = api.create_networking_config(
        {name: api.create_endpoint_config(ipv4_address=engine.addr)})
    command = ["dockerd", "--storage-driver", "overlay2", "--cgroup-parent", f"/{engine.name}",
               "--tlsverify", "--tlscacert", f"{TLS_DIR}/ca.pem",
               "--tlscert", f"{TLS_DIR}/cert.pem", "--tlskey", f"{TLS_DIR}/key.pem",
               "-H", f"tcp://0.0.0.0:{DEFAULT_PORT}", "-H", "unix:///var/run/docker.sock"]
    created = api.create_container(image, command=command, name=engine.name,
                                   hostname=engine.name, labels={LABEL: name},
                                   host_config=host_config, networking_config=networking)
    api.put_archive(created["Id"], "/", _tls_archive(ca, server))
    api.start(created["Id"])


def _tls_archive(ca: bytes, server) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data, mode in (("etc/docker/tls/ca.pem", ca, 0o644),
                                 ("etc/docker/tls/cert.pem", server.cert, 0o644),
                                 ("etc/docker/tls/key.pem", server.key, 0o600)):
            info = tarfile.TarInfo(path)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _ready(cluster: Cluster, engine: Engine) -> docker.APIClient:
    client = cluster.client(engine)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            client.ping()
            return client
        except Exception as exc:  # noqa: BLE001 - not up yet, whatever the reason
            if "CERTIFICATE_VERIFY_FAILED" in str(exc) or time.monotonic() > deadline:
                raise RuntimeFailure(f"engine {engine.name} did not answer on "
                                     f"{engine.url}: {exc}") from None
            time.sleep(0.5)


def _form_swarm(clients: list[docker.APIClient], engines: tuple[Engine, ...]) -> None:
    manager = engines[0]
    clients[0].init_swarm(advertise_addr=manager.addr, listen_addr="0.0.0.0:2377")
    token = clients[0].inspect_swarm()["JoinTokens"]["Worker"]
    for client, engine in zip(clients[1:], engines[1:], strict=True):
        client.join_swarm([f"{manager.addr}:2377"], token, advertise_addr=engine.addr,
                          listen_addr="0.0.0.0:2377")


def _load(local: docker.APIClient, client: docker.APIClient, ref: str) -> None:
    try:
        client.inspect_image(ref)
    except docker.errors.ImageNotFound:
        copy_image(local, client, ref)


# -- find, down --------------------------------------------------------------------
def find(name: str = DEFAULT_NAME) -> Cluster | None:
    """The running cluster of that name, or None."""
    found = _local().containers(filters={"label": f"{LABEL}={name}"})
    engines = []
    for summary in found:
        nets = (summary.get("NetworkSettings") or {}).get("Networks") or {}
        addr = (nets.get(name) or {}).get("IPAddress", "")
        engines.append(Engine(summary["Names"][0].lstrip("/"), addr))
    if not engines:
        return None
    engines.sort(key=lambda e: int(e.name.rsplit("-", 1)[1]))
    return Cluster(name, tuple(engines), state_dir(name))


# Inside an engine before it goes: its containers, then the cgroups it made on the host
# (--cgroup-parent /NAME: under every v1 controller, or once on v2), which stay otherwise.
_CLEAN = ('ids=$(docker ps -aq); [ -z "$ids" ] || docker rm -f $ids >/dev/null; '
          'for d in /sys/fs/cgroup/"$0" /sys/fs/cgroup/*/"$0"; do '
          '[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done; true')


def down(name: str = DEFAULT_NAME, progress: Progress = _say) -> bool:
    """Remove the cluster's engines (and all they ran), network and certificates."""
    api = _local()
    engines = api.containers(all=True, filters={"label": f"{LABEL}={name}"})
    for summary in engines:
        engine = summary["Names"][0].lstrip("/")
        if summary.get("State") == "running":
            try:
                exec_id = api.exec_create(summary["Id"], ["sh", "-c", _CLEAN, engine])["Id"]
                api.exec_start(exec_id)
            except docker.errors.APIError:
                pass  # it is going anyway
        api.remove_container(summary["Id"], force=True, v=True)
    for net in api.networks(filters={"label": f"{LABEL}={name}"}):
        api.remove_network(net["Id"])
    shutil.rmtree(state_dir(name), ignore_errors=True)
    if engines:
        progress(f"test swarm {name} removed ({len(engines)} engine(s))")
    return bool(engines)


# -- the command line ----------------------------------------------------------------
def _print_env(cluster: Cluster) -> None:
    for key, value in cluster.env().items():
        print(f"export {key}={value}")
    docker_env = " ".join(f"{k}={v}" for k, v in cluster.docker_env().items())
    print(f"# the docker CLI on the manager: {docker_env} docker node ls")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m labctl.testing.swarm",
        description="A Docker Swarm of engines in containers on this machine, for tests "
                    "and rehearsals. `up` prints what labctl needs: eval \"$(python3 -m "
                    "labctl.testing.swarm up 3)\" then labctl serve --runtime swarm.")
    parser.add_argument("action", choices=["up", "down", "env"])
    parser.add_argument("count", nargs="?", type=int, default=3,
                        help="engines to start (up; default 3)")
    parser.add_argument("--name", default=DEFAULT_NAME, help=f"default {DEFAULT_NAME}")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            started = time.monotonic()
            cluster = up(args.count, args.name)
            _say(f"test swarm {args.name} is up: {len(cluster.engines)} engine(s) in "
                 f"{time.monotonic() - started:.0f} s; manager {cluster.manager.url}")
            _print_env(cluster)
        elif args.action == "env":
            cluster = find(args.name)
            if cluster is None:
                _say(f"no test swarm named {args.name} is up")
                return 1
            _print_env(cluster)
        elif not down(args.name):
            _say(f"no test swarm named {args.name} was up")
    except LabctlError as exc:
        _say(f"error: {exc}")
        return exc.exit_code
    except Exception as exc:
        if not isinstance(exc, SDK_ERRORS):
            raise
        _say(f"error: Docker engine: {getattr(exc, 'explanation', None) or exc}")
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())

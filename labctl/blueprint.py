"""What bringing a lab up needs of it, as plain data: plan.py and the engine work from
this, never from the lab model itself.

`load(LAB)` validates the lab file once and keeps its blueprint in the user's cache,
keyed by the file's path and bytes and by labctl's own code; an `up` of an unchanged
lab then reads the blueprint and never imports the lab model (pydantic builds three
dozen validators at import: about a fifth of a second of every `up` on 2 cores). A
cache that cannot be used safely (not the caller's own, not private) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FORMAT = 1  # bump when the blueprint's fields change
CACHE_ENTRIES = 256  # the oldest go beyond this many


@dataclass(frozen=True)
class NodeBlueprint:
    name: str
    image: str | None  # None: labctl's node image
    networks: tuple[str, ...]  # in the lab's order; the first is the primary
    cap_add: tuple[str, ...] = ()
    memory_mib: int = 128
    pids: int = 256
    cpus: float = 1.0
    sysctls: dict[str, str] = field(default_factory=dict)
    # As the in-node agent takes them: name, proto, port, argv, user.
    services: tuple[dict[str, Any], ...] = ()
    links: dict[str, dict[str, Any]] = field(default_factory=dict)  # network -> link
    routes: tuple[tuple[str, str], ...] = ()  # (network to reach, via node)
    masquerade: str | None = None
    capture: dict[str, Any] | None = None


@dataclass(frozen=True)
class Blueprint:
    name: str
    networks: tuple[tuple[str, str | None], ...]  # (name, fixed subnet or None)
    nodes: tuple[NodeBlueprint, ...]

    def node(self, name: str) -> NodeBlueprint:
        return next(n for n in self.nodes if n.name == name)

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Blueprint:
        data = json.loads(text)
        if data.pop("format", None) != FORMAT:
            raise ValueError("another blueprint format")
        nodes = tuple(NodeBlueprint(**{
            **node, "networks": tuple(node["networks"]), "cap_add": tuple(node["cap_add"]),
            "services": tuple(node["services"]),
            "routes": tuple(tuple(route) for route in node["routes"])})
            for node in data["nodes"])
        return cls(data["name"], tuple(tuple(net) for net in data["networks"]), nodes)


def of(lab) -> Blueprint:
    """The blueprint of a validated lab (a labctl.model.Lab)."""
    from labctl.services import SERVICES
    nodes = []
    for name, node in lab.nodes.items():
        nodes.append(NodeBlueprint(
            name=name, image=node.image, networks=tuple(node.network_names),
            cap_add=tuple(node.cap_add), memory_mib=node.resources.memory_mib,
            pids=node.resources.pids, cpus=node.resources.cpus,
            sysctls={k: str(v) for k, v in node.sysctls.items()},
            services=tuple({"name": s.kind, "proto": s.proto, "port": s.port,
                            "argv": SERVICES[s.kind].argv(s.spec), "user": s.spec.user}
                           for s in node.services),
            links={net: link.model_dump() for net, link in node.links.items()},
            routes=tuple((route.to, route.via) for route in node.routes),
            masquerade=node.masquerade,
            capture=node.capture.model_dump() if node.capture else None))
    return Blueprint(lab.name, tuple((n, net.subnet) for n, net in lab.networks.items()),
                     tuple(nodes))


def load(lab: str | Path) -> Blueprint:
    """The blueprint of a lab argument (name or path), validated once per content."""
    from labctl.labfiles import resolve
    path = resolve(lab)
    key = _key(path)
    cached = _read(key) if key else None
    if cached is not None:
        return cached
    from labctl import loader
    made = of(loader.load(path))  # LabInvalid: every problem, file:line, nothing cached
    if key:
        _write(key, made)
    return made


# -- the cache ------------------------------------------------------------------------------
def _key(path: Path) -> str | None:
    try:
        data = path.read_bytes() if path.stat().st_size <= _MAX_BYTES else None
    except OSError:
        return None
    if data is None:  # too big: the loader says so
        return None
    digest = hashlib.sha256(_code_key().encode())
    digest.update(str(path.resolve()).encode() + b"\0" + data)
    return digest.hexdigest()


def _code_key() -> str:
    """labctl's version and its own code (an edited checkout invalidates every entry)."""
    from labctl import __version__
    root = Path(__file__).parent
    parts = [__version__, str(FORMAT)]
    for source in sorted(root.rglob("*.py")):
        if "node" not in source.relative_to(root).parts[:1]:  # the in-node code plays no part
            stat = source.stat()
            parts.append(f"{source.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}")
    return "\n".join(parts)


def _folder() -> Path | None:
    """The cache folder, if it is this user's own and private (else it is not used)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = base / "labctl" / "blueprints"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        stat = folder.stat()
    except OSError:
        return None
    if stat.st_uid != os.geteuid() or stat.st_mode & 0o077:
        return None
    return folder


def _read(key: str) -> Blueprint | None:
    folder = _folder()
    if folder is None:
        return None
    entry = folder / f"{key}.json"
    try:
        stat = entry.stat()
        if stat.st_uid != os.geteuid() or stat.st_mode & 0o077:
            return None
        return Blueprint.from_json(entry.read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write(key: str, blueprint: Blueprint) -> None:
    folder = _folder()
    if folder is None:
        return
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")
        with os.fdopen(handle, "w") as out:  # mkstemp: mode 0600
            out.write(blueprint.to_json())
        os.replace(temporary, folder / f"{key}.json")
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-CACHE_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        return


_MAX_BYTES = 256 * 1024  # the loader's own limit (yamlsource.MAX_BYTES) refuses bigger files

"""What bringing a lab up needs of it, as plain data: plan.py and the engine work from
this, never from the lab model itself.

`load(LAB)` validates the lab file once and keeps its blueprint in the user's cache,
keyed by the file's path and bytes and by labctl's own code; an `up` of an unchanged
lab then reads the blueprint and never imports the lab model (pydantic builds three
dozen validators at import: about a fifth of a second of every `up` on 2 cores). A
cache that cannot be used safely (not the caller's own, not private) is ignored.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import stat
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from labctl.lab.files import resolve

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
    """The blueprint of a validated lab (a labctl.lab.model.Lab)."""
    from labctl.lab.services import SERVICES  # noqa: PLC0415 - lazy: the services' registry (pydantic); a model is at hand
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


def lab_name(lab: str) -> str:
    """The lab's name for a LAB argument. A name is itself (commands that need only
    labels work with the YAML gone); a path is read, from the cache when unchanged."""
    return load(lab).name if Path(lab).exists() else lab


def load(lab: str | Path) -> Blueprint:
    """The blueprint of a lab argument (name or path), validated once per content."""
    path = resolve(lab)
    text = _read_text(path)
    if text is None:  # unreadable, too big, not a file, not UTF-8: the loader says which
        from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic, YAML), on a cache miss
        return of(loader.load(path))
    key = _key(path, text)
    cached = _read(key)
    if cached is not None:
        return cached
    from labctl.lab import loader  # noqa: PLC0415 - lazy: the lab model (pydantic, YAML), on a cache miss
    made = of(loader.parse(text, str(path)))  # the very bytes hashed; LabInvalid: not kept
    _write(key, made)
    return made


# -- the cache ------------------------------------------------------------------------------
def _read_text(path: Path) -> str | None:
    try:
        with open(path, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_BYTES:
                return None
            data = handle.read(_MAX_BYTES + 1)
        return data.decode("utf-8") if len(data) <= _MAX_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None


def _key(path: Path, text: str) -> str:
    digest = hashlib.sha256(_code_key())
    digest.update(str(path.resolve()).encode() + b"\0" + text.encode())
    return digest.hexdigest()


@functools.cache
def _code_key() -> bytes:
    """labctl's own code, by content (an edited checkout invalidates every entry), and
    the installed validators' libraries (an upgrade of either does too)."""
    root = Path(__file__).parent.parent  # the labctl package
    digest = hashlib.sha256(f"{FORMAT}".encode())
    for source in sorted(root.rglob("*.py")):
        if source.relative_to(root).parts[0] != "node":  # the in-node code plays no part
            digest.update(str(source.relative_to(root)).encode() + b"\0" + source.read_bytes())
    for library in ("pydantic", "pydantic_core", "yaml"):
        spec = importlib.util.find_spec(library)  # found, not imported
        if spec is not None and spec.origin:
            info = os.stat(spec.origin)
            digest.update(f"{spec.origin}:{info.st_size}:{info.st_mtime_ns}".encode())
    return digest.digest()


def _folder() -> Path | None:
    """The cache folder, if only this user (and root) can change it or any folder above it;
    else None and the cache is not used (e.g. `sudo -E` with another user's HOME)."""
    try:
        configured = os.environ.get("XDG_CACHE_HOME", "")
        base = Path(configured) if os.path.isabs(configured) else Path.home() / ".cache"
        folder = base.resolve() / "labctl" / "blueprints"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except (OSError, RuntimeError):  # RuntimeError: no home directory for this user
        return None
    me = os.geteuid()
    for place in [*reversed(folder.parents), folder]:
        try:
            info = os.lstat(place)
        except OSError:
            return None
        if not stat.S_ISDIR(info.st_mode) or info.st_uid not in (me, 0):
            return None
        writable_by_others = info.st_mode & 0o022
        if writable_by_others and not (info.st_mode & stat.S_ISVTX and info.st_uid == 0):
            return None  # only a root-owned sticky folder (/tmp) may be shared
    info = os.lstat(folder)
    return folder if info.st_uid == me and not info.st_mode & 0o077 else None


def _read(key: str) -> Blueprint | None:
    folder = _folder()
    if folder is None:
        return None
    try:
        fd = os.open(folder / f"{key}.json", os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return None
    try:
        with os.fdopen(fd) as entry:
            info = os.fstat(entry.fileno())
            if info.st_uid != os.geteuid() or info.st_mode & 0o077:
                return None
            return Blueprint.from_json(entry.read())
    except Exception:  # noqa: BLE001 - a damaged entry is a miss, whatever it holds
        return None


def _write(key: str, blueprint: Blueprint) -> None:
    folder = _folder()
    if folder is None:
        return
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=folder, suffix=".tmp")  # mode 0600
        with os.fdopen(handle, "w") as out:
            out.write(blueprint.to_json())
        os.replace(temporary, folder / f"{key}.json")
        temporary = None
        entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
        for old in entries[:-CACHE_ENTRIES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
    finally:
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)


_MAX_BYTES = 256 * 1024  # as yamlsource.MAX_BYTES (a test holds them equal)

"""What `labctl serve` is told: where to listen, who instructs, which labs, limits."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_SOCKET = Path("/run/labctl/labctl.sock")
DEFAULT_STATE_DIR = Path("/var/lib/labctl")
DEFAULT_INSTRUCTORS = "labctl-instructors"


@dataclass
class ServerConfig:
    socket: Path | None = DEFAULT_SOCKET
    socket_group: str | None = None  # None: everyone may connect (mode 0666)
    listen: tuple[str, int] | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    instructors: str = DEFAULT_INSTRUCTORS
    lab_dirs: list[Path] = field(default_factory=list)
    state_dir: Path = DEFAULT_STATE_DIR
    user_labs: bool = True
    # What one student may do (limits.py; docs/classroom.md lists them); instructors are
    # not limited. Each is a `labctl serve` option of the same name.
    labs_per_student: int = 3  # labs up at once (up, test --keep, the web's Up)
    nodes_per_lab: int = 8
    max_networks: int = 4  # networks per lab; each takes a /24 of the subnet pool
    max_requests: int = 4  # requests under way at once (more wait, then are refused)
    max_rate: int = 600  # requests a minute (as many at once)
    max_streams: int = 4  # shells, live captures and log follows open at once
    max_step_seconds: float = 120  # a test's steps in all, and one step from the web
    concurrent_ups: int = 8  # 30 ups at once on 2 cores: 14 s with 8, 16 s with 4 (bench_server)
    # Above any schema-valid request (a 64 KiB lab file, JSON-escaped, is up to ~800 KiB).
    max_body_bytes: int = 1024 * 1024
    output_limit: int = 1024 * 1024  # bytes of stdout/stderr an exec returns
    # What the host grants every connection (transport.py) and keeps of the audit log.
    max_connections: int = 1000  # per listener; beyond, requests get 503 at once
    header_seconds: float = 10.0  # for a request's headers to arrive, in full
    audit_max_mb: int = 32  # the audit log rotates beyond this (four old files kept)

    @property
    def tokens_file(self) -> Path:
        return self.state_dir / "tokens.json"

    @property
    def audit_file(self) -> Path:
        return self.state_dir / "audit.jsonl"

    @property
    def user_labs_dir(self) -> Path:
        return self.state_dir / "user-labs"

LOOPBACK = ("127.0.0.1", "::1", "localhost")  # plain HTTP only to these

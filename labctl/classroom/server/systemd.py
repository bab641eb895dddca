"""`labctl serve --install-systemd`: a unit that runs the server as the caller asked."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path

UNIT_PATH = Path(os.environ.get("LABCTL_SYSTEMD_DIR", "/etc/systemd/system")) / "labctl.service"


PATH_OPTIONS = {"--labs", "--socket", "--state-dir", "--tls-cert", "--tls-key"}


def absolute_args(args: list[str]) -> list[str]:
    """Paths made absolute: systemd runs the unit from /, not from here."""
    out: list[str] = []
    for arg in args:
        name, eq, value = arg.partition("=")
        if eq and name in PATH_OPTIONS:
            arg = f"{name}={os.path.abspath(value)}"
        elif out and out[-1] in PATH_OPTIONS:
            arg = os.path.abspath(arg)
        out.append(arg)
    return out


def unit_text(serve_args: list[str]) -> str:
    labctl = shutil.which("labctl")
    command = [labctl] if labctl else [sys.executable, "-m", "labctl.cli"]
    # serve_args start with "serve" (argv as given, --install-systemd removed).
    line = shlex.join([*command, *absolute_args(serve_args)])
    return f"""[Unit]
Description=labctl classroom server (students' labs without Docker access)
Documentation=https://github.com/labctl/labctl/blob/main/docs/classroom.md
After=docker.service network-online.target
Requires=docker.service

[Service]
Type=simple
ExecStart={line}
# SIGTERM lets `up`s under way finish; a killed server's half-made labs are removed
# at the next start (labctl/classroom/server/journal.py).
KillSignal=SIGTERM
TimeoutStopSec=120
Restart=on-failure
RestartSec=2
RuntimeDirectory=labctl
RuntimeDirectoryPreserve=yes
StateDirectory=labctl
StateDirectoryMode=0700

[Install]
WantedBy=multi-user.target
"""


def install(serve_args: list[str], path: Path = UNIT_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(unit_text(serve_args), encoding="utf-8")
    path.chmod(0o644)
    return path

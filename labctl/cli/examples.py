"""Usage examples for every command's --help, in one table (given to each command as its
epilog when labctl.cli.entry loads it)."""

from __future__ import annotations

import click

# Command path (as typed after `labctl`) -> one or two example command lines.
EXAMPLES: dict[str, list[str]] = {
    "up": ["labctl up handshake-lab", "labctl up ./labs/udp-lab -i pair2 --json"],
    "down": ["labctl down handshake-lab", "labctl down --all -i pair2"],
    "status": ["labctl status", "labctl status handshake-lab -i pair2 --json"],
    "exec": ["labctl exec handshake-lab client -- ss -tn",
             "labctl exec handshake-lab server -i pair2 -- ip addr"],
    "shell": ["labctl shell handshake-lab client", "labctl shell handshake-lab server -i pair2"],
    "logs": ["labctl logs handshake-lab server", "labctl logs handshake-lab server -f"],
    "validate": ["labctl validate handshake-lab", "labctl validate labs/ --json"],
    "capture": ["labctl capture handshake-lab server -o out --merge",
                "labctl capture handshake-lab server --live -w - | wireshark -k -i -"],
    "trace": ["labctl trace handshake-lab --port 80", "labctl trace --pcap server.pcap --conn 0",
              "labctl trace handshake-lab --follow"],
    "check": ["labctl check handshake-lab",
              "labctl check handshake-lab -i pair2 --junit checks.xml"],
    "test": ["labctl test handshake-lab", "labctl test labs/udp-lab --keep --json"],
    "verify": ["labctl verify", "labctl verify labs/ --workers 4 --junit report.xml"],
    "new": ["labctl new my-lab", "labctl new my-udp-lab --from udp-lab"],
    "gc": ["labctl gc", "labctl gc -i pair2"],
    "schema": ["labctl schema > lab.schema.json"],
    "images build": ["labctl images build", "labctl images build --force"],
    "serve": ["labctl serve",
              "labctl serve --listen 0.0.0.0:8443 --tls-cert c.pem --tls-key k.pem"],
    "token add": ["labctl token add alice"],
    "token revoke": ["labctl token revoke alice"],
    "token list": ["labctl token list"],
    "login": ["labctl login https://class-host:8443",
              "labctl login https://class-host:8443 --ca class-ca.pem"],
    "class status": ["labctl class status", "labctl class status --format csv -o status.csv"],
    "class check": ["labctl class check handshake-lab",
                    "labctl class check handshake-lab --format csv -o grades.csv"],
    "class up": ["labctl class up handshake-lab --students students.txt"],
    "class down": ["labctl class down handshake-lab",
                   "labctl class down handshake-lab --students students.txt"],
}


def epilog(lines: list[str]) -> str:
    # \b keeps click from re-wrapping the lines into one paragraph.
    return "Examples:\n\n\b\n" + "\n".join(f"  {line}" for line in lines)


def attach(command: click.Command, path: str) -> None:
    """Give the command (and a group's commands) its examples as its epilog."""
    lines = EXAMPLES.get(path)
    if lines and not command.epilog:
        command.epilog = epilog(lines)
    for name, sub in getattr(command, "commands", {}).items():
        attach(sub, f"{path} {name}")

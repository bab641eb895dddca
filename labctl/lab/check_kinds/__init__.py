"""The check kinds of the lab format, each declared once: its model, its title and the
function that judges it (node.py, wire.py, traffic.py, commands.py; registry.py holds
them). Judging needs a running lab's state, which labctl.checks passes in: nothing
here reaches the engine. Registered in the order reports and errors list them."""

import importlib

from labctl.lab.check_kinds.registry import KINDS

# Each module declares its kinds with @check_kind; importing it registers them.
MODULES = ("node", "wire", "traffic", "commands")
for _module in MODULES:
    importlib.import_module(f"labctl.lab.check_kinds.{_module}")

WIRE_KINDS = tuple(k for k, kind in KINDS.items() if kind.reads_captures)
NODE_FIELDS = tuple(dict.fromkeys(f for kind in KINDS.values() for f in kind.node_fields))

__all__ = ["KINDS", "NODE_FIELDS", "WIRE_KINDS"]

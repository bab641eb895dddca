"""Every check kind, registered in the order reports and errors list them."""

import importlib

from labctl.checks.registry import KINDS

# Each module declares its kinds with @check_kind; importing it registers them.
MODULES = ("node", "wire", "traffic", "commands")
for _module in MODULES:
    importlib.import_module(f"labctl.checks.{_module}")

WIRE_KINDS = tuple(k for k, kind in KINDS.items() if kind.reads_captures)
NODE_FIELDS = tuple(dict.fromkeys(f for kind in KINDS.values() for f in kind.node_fields))

__all__ = ["KINDS", "NODE_FIELDS", "WIRE_KINDS"]

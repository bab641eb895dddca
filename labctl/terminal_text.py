"""Untrusted text made safe for a terminal (what a node or a student sends, before labctl
prints it): no library, so the shortest commands and the exit path can use it."""

from __future__ import annotations

import re

# C0 controls but tab and newline, DEL, and C1 controls (U+0080-U+009F: CSI and OSC among
# them): what a terminal would obey rather than show.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """Text from a node (or a student) made safe for a terminal: every control character
    but newline and tab shown escaped (ESC as \\x1b), so nothing a node prints can move
    the cursor, recolour, retitle or erase what labctl prints around it."""
    return _CONTROLS.sub(lambda m: f"\\x{ord(m.group()):02x}", text)

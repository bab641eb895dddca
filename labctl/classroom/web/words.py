"""What a page says where the CLI would name a command: the server's messages are
written for the terminal ("run `labctl up LAB -i X` first"); a page names the button."""

from __future__ import annotations

import re

_RULES = [
    (re.compile(r"run `labctl up [^`]+` first"), "press “Bring up” on the lab's page first"),
    (re.compile(r"`labctl up [^`]+` repairs it"), "“Bring up” on the lab's page repairs it"),
    (re.compile(r"run `labctl status` and bring labs down"),
     "bring one of your labs down (“Bring down”)"),
    (re.compile(r"`labctl check [^`]+`"), "“Run the checks”"),
    (re.compile(r"ask your instructor for `labctl token add USER`"),
     "ask your instructor for a token"),
]


def for_the_page(message: str) -> str:
    """The message with each CLI instruction replaced by what to click."""
    for pattern, words in _RULES:
        message = pattern.sub(words, message)
    return message

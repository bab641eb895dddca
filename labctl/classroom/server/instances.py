"""Instance names derived from user names, so that distinct users never share a lab.

A user's base instance is their name when it already is a clean instance name,
else a readable slug, "--" and a hash of the exact name. Copies are base-N.
Decoding is unique: slugs never contain "--", plain bases never end in -digits,
and copy numbers are 2..99, so no base or copy of one user is another user's.
"""

from __future__ import annotations

import hashlib
import re

from labctl.lab import naming

MAX_COPIES = 99
_HASH_LEN = 8
_MAX_LEN = 31  # naming.check_instance's limit
_COPY_SUFFIX = 3  # "-99"
_PLAIN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_ENDS_IN_NUMBER = re.compile(r"-[0-9]+$")
_HASHED = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*--[0-9a-f]{8}$")


def slug(user: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]", "-", user.lower())).strip("-")


def base_instance(user: str) -> str:
    """The instance a user's labs run in by default; distinct users, distinct names."""
    readable = slug(user)
    lossless = (readable == user and _PLAIN.match(user)
                and not _ENDS_IN_NUMBER.search(user)
                and len(user) <= _MAX_LEN - _COPY_SUFFIX)
    if lossless:
        return user
    digest = hashlib.sha256(user.encode("utf-8", "surrogateescape")).hexdigest()[:_HASH_LEN]
    room = _MAX_LEN - _COPY_SUFFIX - 2 - _HASH_LEN
    head = readable[:room].strip("-") or "u"
    return naming.check_instance(f"{head}--{digest}")


def copy_number(base: str, instance: str) -> int | None:
    """1 for the base itself, N for base-N (2..99), None if not one of base's copies."""
    if instance == base:
        return 1
    prefix = base + "-"
    if instance.startswith(prefix):
        rest = instance[len(prefix):]
        if rest.isdigit() and not rest.startswith("0") and 2 <= int(rest) <= MAX_COPIES:
            return int(rest)
    return None


def is_base(name: str) -> bool:
    """Whether a name is of the form base_instance() produces."""
    plain = bool(_PLAIN.match(name)) and not _ENDS_IN_NUMBER.search(name)
    return plain or bool(_HASHED.match(name))


def owner_base(instance: str) -> str:
    """The base instance a valid instance name belongs to (itself if it is no copy)."""
    match = re.match(r"^(.+)-([2-9]|[1-9][0-9])$", instance)
    if match and is_base(match.group(1)):
        return match.group(1)
    return instance

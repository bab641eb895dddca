"""'Did you mean' hints, bounded so a lab with thousands of names validates in linear time."""

from __future__ import annotations

import difflib

from pydantic import BaseModel

from labctl.lab import model

MAX_CANDIDATES = 300  # names compared per lookup
MAX_LOOKUPS = 50  # distinct unknown names given a hint per validation
MAX_LISTED = 8


class Suggester:
    """One per validation: caches hints and stops looking after MAX_LOOKUPS names."""

    def __init__(self) -> None:
        self.cache: dict[tuple[str, str], str | None] = {}

    def closest(self, name: str, known: list[str], what: str) -> str | None:
        key = (what, name)
        if key not in self.cache:
            if len(self.cache) >= MAX_LOOKUPS:
                return None
            near = [k for k in known if abs(len(k) - len(name)) <= 3][:MAX_CANDIDATES]
            hint = difflib.get_close_matches(name, near, n=1)
            self.cache[key] = hint[0] if hint and hint[0] != name else None
        return self.cache[key]

    def unknown(self, name: str, known: list[str], what: str) -> str:
        """`no node named 'x' (did you mean 'y'?)`, or a short list of the known names."""
        hint = self.closest(name, known, what)
        if hint:
            return f"no {what} named '{name}' (did you mean '{hint}'?)"
        return f"no {what} named '{name}' ({what}s are: {listing(known)})"


def listing(names: list[str]) -> str:
    shown = ", ".join(names[:MAX_LISTED])
    return shown if len(names) <= MAX_LISTED else f"{shown}, ... ({len(names)} in all)"


def sysctl_refused(key: str) -> str:
    hint = difflib.get_close_matches(key, model.ALLOWED_SYSCTLS, n=1)
    if hint:
        return f"sysctl '{key}' is not allowed (did you mean '{hint[0]}'?)"
    return (f"sysctl '{key}' is not allowed; the allowed ones are: "
            + ", ".join(model.ALLOWED_SYSCTLS))


def did_you_mean(key: str, parent: tuple) -> str:
    """A hint for an unknown key at `parent`: a near spelling, or where that key belongs."""
    here = model_at(parent)
    allowed = list(here.model_fields) if here else []
    aliases = [f.alias or n for n, f in here.model_fields.items()] if here else []
    hint = difflib.get_close_matches(key, aliases, n=1, cutoff=0.6)
    if hint and hint[0] != key:
        return f" (did you mean '{hint[0]}'?)"
    owner = _owner_below(here, key) if here else None
    if owner:
        return f" here: '{key}' belongs under '{owner}' (check its indentation)"
    return f" (allowed: {', '.join(sorted(aliases or allowed))})" if allowed else ""


def model_at(loc: tuple) -> type[BaseModel] | None:
    """The model class that holds the keys at `loc`, following field types (not key names)."""
    annotation: object = model.Lab
    for part in loc:
        current = _model_of(annotation)
        if current is not None and isinstance(part, str) and _field(current, part):
            annotation = _field(current, part).annotation
        elif _container_of(annotation) is not None:
            annotation = _container_of(annotation)
        else:
            return None
    return _model_of(annotation)


def _field(cls: type[BaseModel], key: str):
    for name, info in cls.model_fields.items():
        if key in (name, info.alias):
            return info
    return None


def _container_of(annotation: object) -> object | None:
    """The item type of a list or the value type of a dict inside `annotation`."""
    origin = getattr(annotation, "__origin__", None)
    args = getattr(annotation, "__args__", ())
    if origin in (list, dict) and args:
        return args[-1]
    for arg in args:
        found = _container_of(arg)
        if found is not None:
            return found
    return None


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if getattr(annotation, "__origin__", None) in (list, dict):
        return None
    for arg in getattr(annotation, "__args__", ()):
        found = _model_of(arg)
        if found:
            return found
    return None


def _owner_below(cls: type[BaseModel], key: str) -> str | None:
    """The field of `cls` whose model has `key`: where a dedented key came from."""
    for name, info in cls.model_fields.items():
        inner = _model_of(info.annotation) or _model_of(_container_of(info.annotation))
        if inner is not None and inner is not cls and _field(inner, key):
            return info.alias or name
    return None

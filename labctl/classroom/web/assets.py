"""The pages' static files, served by the server itself (no CDN, nothing fetched at run
time): labctl's own scripts and styles, and xterm.js for the terminals.

xterm.js comes from a package installed with labctl's `web` extra: PyPI's `webssh`
ships xterm.js 4 and its fit add-on as plain browser files. Debian's `libjs-xterm`
(3.8.1 in bookworm) is looked at too, but its xterm.js is a 288-byte CommonJS stub that
`require`s files the package does not ship, so it is used only once it is a real
browser build. Without either, the lab page says that the server has no terminal.

Files are read once, kept in memory with a gzip copy, and sent with a validator and a
day's caching: a page reload costs one small conditional request per file.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response

router = APIRouter(prefix="/web/static", include_in_schema=False)
OWN = Path(__file__).parent / "static"
DEBIAN_XTERM = Path("/usr/share/javascript/xterm")
MIN_BROWSER_BUILD = 50_000  # bytes: a real xterm.js bundle, not a stub
TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# what /web/static/xterm/NAME serves, and where each candidate keeps it
XTERM_FILES = ("xterm.js", "xterm.css", "fit.js")
_WEBSSH = {"xterm.js": "js/xterm.min.js", "xterm.css": "css/xterm.min.css",
           "fit.js": "js/xterm-addon-fit.min.js"}


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str
    media_type: str


def xterm_dir() -> dict[str, Path] | None:
    """Where xterm.js, its stylesheet and the fit add-on are on this host, or None."""
    spec = importlib.util.find_spec("webssh")  # finds the package without importing it
    for root in (spec.submodule_search_locations or []) if spec else []:
        found = {name: Path(root) / "static" / rel for name, rel in _WEBSSH.items()}
        if all(p.is_file() for p in found.values()):
            return found
    debian = {"xterm.js": DEBIAN_XTERM / "xterm.js", "xterm.css": DEBIAN_XTERM / "xterm.css",
              "fit.js": DEBIAN_XTERM / "addons" / "fit" / "fit.js"}
    if all(p.is_file() for p in debian.values()) \
            and debian["xterm.js"].stat().st_size >= MIN_BROWSER_BUILD:
        return debian
    return None


_cache: dict[str, Asset | None] = {}


def _load(path: Path) -> Asset:
    body = path.read_bytes()
    return Asset(body, gzip.compress(body, 9, mtime=0),
                 '"' + hashlib.sha256(body).hexdigest()[:20] + '"',
                 TYPES.get(path.suffix, "application/octet-stream"))


def asset(name: str) -> Asset | None:
    """`name` is `NAME` (labctl's own) or `xterm/NAME`; None when there is no such file."""
    if name not in _cache:
        path = None
        if name.startswith("xterm/"):
            files = xterm_dir()
            path = files.get(name.removeprefix("xterm/")) if files else None
        elif "/" not in name and not name.startswith("."):
            candidate = OWN / name
            path = candidate if candidate.is_file() else None
        _cache[name] = _load(path) if path is not None else None
    return _cache[name]


def has_terminal() -> bool:
    return asset("xterm/xterm.js") is not None


def version(name: str) -> str:
    """A short content hash for the page's URL of a file (?v=...): a new labctl's files
    are fetched again, an unchanged one is kept."""
    found = asset(name)
    return found.etag.strip('"')[:10] if found else "0"


@router.get("/{name:path}")
async def static(name: str, request: Request) -> Response:
    found = asset(name)
    if found is None:
        raise HTTPException(404, "no such file")
    headers = {"etag": found.etag, "cache-control": "public, max-age=86400",
               "vary": "accept-encoding"}
    if request.headers.get("if-none-match") == found.etag:
        return Response(status_code=304, headers=headers)
    if "gzip" in request.headers.get("accept-encoding", ""):
        return Response(found.gzipped, media_type=found.media_type,
                        headers={**headers, "content-encoding": "gzip"})
    return Response(found.body, media_type=found.media_type, headers=headers)

"""Build the node image with no container registry.

Two layers, each rebuilt only when its inputs change (their content hash is
recorded in the image's `labctl.image.hash` label):

- base: a Debian bookworm root filesystem made by mmdebstrap from
  images/base/packages.txt and imported into the engine; or, on hosts
  with a registry, images/base/Dockerfile.
- node: the base plus labctl's in-container code (labctl/node), built from
  images/node/Dockerfile. Editing a service rebuilds this layer in seconds.

What to build and when is decided here; the engine calls (inspect, import,
build, tag) go through an ImageStore that the runtime provides.

Both are tagged by their content hash (labctl/base:<hash>, labctl/node:<hash>), so
checkouts with different node code each get their own image and never retag one
another's. `labctl images build` also points labctl/node:latest at the result, as a
convenience alias for hand-run docker commands; labctl itself never reads it.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from labctl.errors import ImageBuildFailed
from labctl.paths import images_dir, node_code_dir
from labctl.runtime.base import Progress
from labctl.runtime.base import quiet as _quiet

BASE_REPO = "labctl/base"
NODE_REPO = "labctl/node"
LATEST_ALIAS = f"{NODE_REPO}:latest"
HASH_LABEL = "labctl.image.hash"
SUITE = "bookworm"
# Docs, manuals and translations are a third of the root filesystem and no lab reads them.
_DPKG_EXCLUDES = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*",
                  "/usr/share/info/*"]





class ImageStore(Protocol):
    """The three image operations the build needs from an engine."""

    def label(self, ref: str, key: str) -> str | None:
        """The image's label `key`, or None if there is no such image (or label)."""

    def import_rootfs(self, tarball: Path, ref: str, changes: list[str]) -> None:
        """Import a root filesystem tarball as image `ref`."""

    def build(self, context: io.BytesIO, tag: str, labels: dict[str, str],
              buildargs: dict[str, str]) -> Iterator[str]:
        """Build a Dockerfile context; yield progress lines; ImageBuildFailed on error."""

    def tag(self, ref: str, alias: str) -> None:
        """Give image `ref` a second name `alias` (repo:tag)."""


def packages() -> list[str]:
    text = (images_dir() / "base" / "packages.txt").read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def _digest(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()[:16]


def base_hash() -> str:
    return _digest([SUITE.encode(), "\n".join(packages()).encode(),
                    "\n".join(_DPKG_EXCLUDES).encode()])


def _node_files() -> list[tuple[str, Path]]:
    root = node_code_dir()
    files = [(f"node/{p.relative_to(root)}", p) for p in sorted(root.rglob("*"))
             if p.is_file() and "__pycache__" not in p.parts]
    return [("Dockerfile", images_dir() / "node" / "Dockerfile"), *files]


def node_hash() -> str:
    parts = [base_hash().encode()]
    for name, path in _node_files():
        parts += [name.encode(), path.read_bytes()]
    return _digest(parts)


def node_ref(digest: str | None = None) -> str:
    """The node image's content-addressed reference for this checkout's code."""
    return f"{NODE_REPO}:{digest or node_hash()}"


def ensure_images(store: ImageStore, progress: Progress = _quiet, method: str = "auto",
                  force: bool = False, alias: bool = False) -> str:
    """Build whatever is missing or stale; return the node image reference.

    alias: also point labctl/node:latest at it (`labctl images build` does)."""
    want = node_hash()
    ref = node_ref(want)
    if force or store.label(ref, HASH_LABEL) != want:
        base = build_base(store, progress, method, force)
        build_node(store, base, want, progress)
    else:
        progress(f"{ref} is up to date")
    if alias:
        store.tag(ref, LATEST_ALIAS)
    return ref


def build_base(store: ImageStore, progress: Progress = _quiet, method: str = "auto",
               force: bool = False) -> str:
    digest = base_hash()
    ref = f"{BASE_REPO}:{digest}"
    if not force and store.label(ref, HASH_LABEL) == digest:
        progress(f"base image {ref} is up to date")
        return ref
    if method == "auto":
        method = "mmdebstrap" if shutil.which("mmdebstrap") else "dockerfile"
    progress(f"building base image {ref} with {method}")
    if method == "mmdebstrap":
        _base_from_mmdebstrap(store, ref, digest, progress)
    elif method == "dockerfile":
        _base_from_dockerfile(store, ref, digest, progress)
    else:
        raise ImageBuildFailed(f"unknown build method '{method}' (mmdebstrap or dockerfile)")
    return ref


def _base_from_mmdebstrap(store: ImageStore, ref: str, digest: str, progress: Progress):
    with tempfile.TemporaryDirectory(prefix="labctl-rootfs-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        mmdebstrap(packages(), tarball, progress)
        progress("importing the root filesystem into Docker")
        store.import_rootfs(tarball, ref, [f"LABEL {HASH_LABEL}={digest}", 'CMD ["/bin/bash"]'])


def mmdebstrap(include: list[str], tarball: Path, progress: Progress = _quiet,
               variant: str = "essential") -> None:
    """A Debian root filesystem with these packages, as a tarball (no registry needed)."""
    argv = ["mmdebstrap", f"--variant={variant}", f"--include={','.join(include)}",
            *[f"--dpkgopt=path-exclude={p}" for p in _DPKG_EXCLUDES], SUITE, str(tarball)]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        line = line.rstrip()
        tail = (tail + [line])[-15:]
        progress(line)
    if proc.wait() != 0:
        raise ImageBuildFailed("mmdebstrap failed:\n" + "\n".join(tail))


def rootfs_hash(include: list[str], variant: str) -> str:
    """The content hash of what mmdebstrap() makes from these inputs."""
    return _digest([SUITE.encode(), variant.encode(), "\n".join(include).encode(),
                    "\n".join(_DPKG_EXCLUDES).encode()])


def _base_from_dockerfile(store: ImageStore, ref: str, digest: str, progress: Progress):
    base_dir = images_dir() / "base"
    context = _tar_context([("Dockerfile", base_dir / "Dockerfile"),
                            ("packages.txt", base_dir / "packages.txt")])
    _build(store, context, ref, {HASH_LABEL: digest}, {}, progress)


def build_node(store: ImageStore, base_ref: str, digest: str, progress: Progress = _quiet):
    ref = node_ref(digest)
    progress(f"building {ref} on {base_ref}")
    context = _tar_context(_node_files())
    _build(store, context, ref, {HASH_LABEL: digest}, {"BASE": base_ref}, progress)


def _tar_context(files: list[tuple[str, Path]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, path in files:
            tar.add(str(path), arcname=name)
    buffer.seek(0)
    return buffer


def _build(store: ImageStore, context, tag, labels, buildargs, progress: Progress) -> None:
    for line in store.build(context, tag, labels, buildargs):
        progress(line)

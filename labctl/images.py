"""Build the node image with no container registry.

Two layers, each rebuilt only when its inputs change (their content hash is
recorded in the image's `labctl.image.hash` label):

- base: a Debian bookworm root filesystem made by mmdebstrap from
  images/base/packages.txt and imported with the docker SDK; or, on hosts
  with a registry, images/base/Dockerfile.
- node: the base plus labctl's in-container code (labctl/node), built from
  images/node/Dockerfile. Editing a service rebuilds this layer in seconds.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import docker.errors

from labctl.errors import ImageBuildFailed
from labctl.paths import images_dir, node_code_dir

BASE_REPO = "labctl/base"
NODE_IMAGE = "labctl/node:latest"
HASH_LABEL = "labctl.image.hash"
SUITE = "bookworm"
# Docs, manuals and translations are a third of the root filesystem and no lab reads them.
_DPKG_EXCLUDES = ["/usr/share/man/*", "/usr/share/doc/*", "/usr/share/locale/*",
                  "/usr/share/info/*"]

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


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


def _label_of(api: docker.APIClient, ref: str) -> str | None:
    try:
        return (api.inspect_image(ref)["Config"].get("Labels") or {}).get(HASH_LABEL)
    except docker.errors.ImageNotFound:
        return None


def ensure_images(api: docker.APIClient, progress: Progress = _quiet, method: str = "auto",
                  force: bool = False) -> str:
    """Build whatever is missing or stale; return the node image reference."""
    want = node_hash()
    if not force and _label_of(api, NODE_IMAGE) == want:
        progress(f"{NODE_IMAGE} is up to date ({want})")
        return NODE_IMAGE
    base = build_base(api, progress, method, force)
    build_node(api, base, want, progress)
    return NODE_IMAGE


def build_base(api: docker.APIClient, progress: Progress = _quiet, method: str = "auto",
               force: bool = False) -> str:
    digest = base_hash()
    ref = f"{BASE_REPO}:{digest}"
    if not force and _label_of(api, ref) == digest:
        progress(f"base image {ref} is up to date")
        return ref
    if method == "auto":
        method = "mmdebstrap" if shutil.which("mmdebstrap") else "dockerfile"
    progress(f"building base image {ref} with {method}")
    if method == "mmdebstrap":
        _base_from_mmdebstrap(api, ref, digest, progress)
    elif method == "dockerfile":
        _base_from_dockerfile(api, ref, digest, progress)
    else:
        raise ImageBuildFailed(f"unknown build method '{method}' (mmdebstrap or dockerfile)")
    return ref


def _base_from_mmdebstrap(api: docker.APIClient, ref: str, digest: str, progress: Progress):
    with tempfile.TemporaryDirectory(prefix="labctl-rootfs-") as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        argv = ["mmdebstrap", "--variant=essential", f"--include={','.join(packages())}",
                *[f"--dpkgopt=path-exclude={p}" for p in _DPKG_EXCLUDES],
                SUITE, str(tarball)]
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        tail: list[str] = []
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = (tail + [line])[-15:]
            progress(line)
        if proc.wait() != 0:
            raise ImageBuildFailed("mmdebstrap failed:\n" + "\n".join(tail))
        progress("importing the root filesystem into Docker")
        repo, tag = ref.split(":")
        api.import_image(src=str(tarball), repository=repo, tag=tag,
                         changes=[f"LABEL {HASH_LABEL}={digest}", 'CMD ["/bin/bash"]'])


def _base_from_dockerfile(api: docker.APIClient, ref: str, digest: str, progress: Progress):
    base_dir = images_dir() / "base"
    context = _tar_context([("Dockerfile", base_dir / "Dockerfile"),
                            ("packages.txt", base_dir / "packages.txt")])
    _docker_build(api, context, ref, {HASH_LABEL: digest}, {}, progress)


def build_node(api: docker.APIClient, base_ref: str, digest: str, progress: Progress = _quiet):
    progress(f"building {NODE_IMAGE} on {base_ref}")
    context = _tar_context(_node_files())
    _docker_build(api, context, NODE_IMAGE, {HASH_LABEL: digest}, {"BASE": base_ref}, progress)


def _tar_context(files: list[tuple[str, Path]]) -> io.BytesIO:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, path in files:
            tar.add(str(path), arcname=name)
    buffer.seek(0)
    return buffer


def _docker_build(api, context, tag, labels, buildargs, progress: Progress):
    try:
        for chunk in api.build(fileobj=context, custom_context=True, tag=tag, labels=labels,
                               buildargs=buildargs, rm=True, forcerm=True, decode=True):
            if "error" in chunk:
                raise ImageBuildFailed(f"building {tag} failed: {chunk['error'].strip()}")
            text = chunk.get("stream", "").strip()
            if text:
                progress(text)
    except docker.errors.APIError as exc:
        raise ImageBuildFailed(f"building {tag} failed: {exc.explanation}") from None

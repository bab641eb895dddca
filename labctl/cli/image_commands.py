"""`labctl images build`: the node image, built here (no registry needed)."""

from __future__ import annotations

import click

from labctl import console, runtime
from labctl.runtime import images as node_images


@click.group(no_args_is_help=True)
def images() -> None:
    """Build the node image (no registry needed)."""


@images.command("build")
@click.option("--method", type=click.Choice(["auto", "mmdebstrap", "dockerfile"]),
              default="auto",
              help="auto: mmdebstrap when installed, else the Dockerfile (needs a registry).")
@click.option("--force", is_flag=True, help="Rebuild even if current.")
def build(method: str, force: bool) -> None:
    """Build the node image (skipped when its inputs did not change)."""
    with console.progress("Building images") as report:
        ref = runtime.connect().ensure_image(None, report, method=method, force=force,
                                             alias=True)
    console.err.print(f"{ref} is ready (alias {node_images.LATEST_ALIAS})")

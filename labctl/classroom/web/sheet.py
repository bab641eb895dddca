"""A lab's student sheet (its README.md) as HTML for the lab's page.

Markdown through markdown-it-py (CommonMark, plus tables), with raw HTML off: whatever
HTML a lab file holds is shown as text, never run. Links keep markdown-it's guard
(no javascript:, vbscript:, file: or data: URLs); images are not loaded (a sheet
fetches nothing from elsewhere: their text is shown). Headings move one level down,
under the page's own h1.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

SHEET_FILE = "README.md"
MAX_BYTES = 256 * 1024  # a sheet beyond this is cut (and says so)


def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.disable("image")

    def heading(renderer, tokens, idx, options, env):
        token = tokens[idx]
        if not token.meta.get("moved"):
            token.tag, token.meta["moved"] = f"h{min(int(token.tag[1]) + 1, 6)}", True
        return renderer.renderToken(tokens, idx, options, env)

    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


_MD = _parser()


def render(text: str) -> str:
    return _MD.render(text)


def for_lab(lab_file: Path) -> str | None:
    """The sheet beside a lab.yaml, as HTML; None when the lab has none."""
    path = lab_file.parent / SHEET_FILE
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError:
        return None
    text = data[:MAX_BYTES].decode("utf-8", "replace")
    if len(data) > MAX_BYTES:
        text += f"\n\n*(The sheet is longer than {MAX_BYTES // 1024} KiB: the rest is cut.)*"
    return render(text)

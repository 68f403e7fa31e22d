"""A small self-contained HTML report: sections of text, figures, tables and the commands behind them.

Pictures are written beside the page (`img/`), linked relatively, so the folder can be zipped, served or opened
from disk without ganlens. The page is rewritten after every section, so a run that stops halfway leaves a
readable report of what it finished.
"""

from __future__ import annotations

import html
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..io.files import atomic_write_bytes
from ..io.images import save_image

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#1d1d1f;line-height:1.45}
h1{margin-bottom:.2em} h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:2em}
nav ol{columns:2} figure{margin:1em 0} figure img{max-width:100%;image-rendering:pixelated;border:1px solid #eee}
figcaption{color:#555;font-size:.9em} table{border-collapse:collapse;margin:.8em 0;font-size:.9em}
td,th{border:1px solid #ddd;padding:.25em .6em;text-align:right} th{background:#f5f5f7} td:first-child,th:first-child{text-align:left}
pre{background:#f5f5f7;padding:.6em;overflow-x:auto;font-size:.85em} .note{color:#555} .error{color:#b00020}
.pass{color:#137333;font-weight:600} .fail{color:#b00020;font-weight:600} .row{display:flex;gap:1.5em;flex-wrap:wrap}
"""


@dataclass
class Section:
    """One titled part of the report; `parts` are HTML fragments in order."""

    key: str
    title: str
    parts: list[str] = field(default_factory=list)
    seconds: float | None = None


class Report:
    """Collects sections and writes `index.html` (+ `img/`) into `folder`."""

    def __init__(self, folder: str | Path, title: str, subtitle: str = "") -> None:
        self.folder = Path(folder)
        self.images = self.folder / "img"
        self.images.mkdir(parents=True, exist_ok=True)
        self.title, self.subtitle = title, subtitle
        self.sections: list[Section] = []
        self.started = time.strftime("%Y-%m-%d %H:%M:%S")

    @property
    def path(self) -> Path:
        return self.folder / "index.html"

    def section(self, key: str, title: str) -> Section:
        s = Section(key, title)
        self.sections.append(s)
        return s

    def text(self, s: Section, text: str, cls: str = "") -> None:
        """A paragraph of plain text (escaped)."""
        s.parts.append(f"<p{f' class={cls!r}' if cls else ''}>{html.escape(text)}</p>")

    def command(self, s: Section, *commands: str) -> None:
        """The shell command(s) that reproduce this section's numbers or pictures."""
        s.parts.append("<pre>" + html.escape("\n".join(f"$ {c}" for c in commands)) + "</pre>")

    def figure(self, s: Section, image: np.ndarray | Path, name: str, caption: str, scale: int = 1,
               width: int | None = None) -> Path:
        """Save a uint8 picture as img/NAME (or link an existing file in img/) and show it with a caption."""
        target = self.images / name
        if isinstance(image, np.ndarray):
            save_image(image, target, scale=scale)
        style = f" style='width:{width}px'" if width else ""
        s.parts.append(f"<figure><img src='img/{html.escape(name)}' alt='{html.escape(caption)}'{style}>"
                       f"<figcaption>{html.escape(caption)}</figcaption></figure>")
        return target

    def table(self, s: Section, headers: Sequence[str], rows: Sequence[Sequence[object]], caption: str = "") -> None:
        """A table; floats are shown with 3 significant decimals, booleans as pass/fail."""

        def cell(v: object) -> str:
            if isinstance(v, bool):
                return f"<td class={'pass' if v else 'fail'}>{'pass' if v else 'fail'}</td>"
            if isinstance(v, float):
                return f"<td>{v:.3f}</td>" if abs(v) < 1000 else f"<td>{v:.0f}</td>"
            return f"<td>{html.escape(str(v))}</td>"

        head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
        body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
        cap = f"<caption class=note>{html.escape(caption)}</caption>" if caption else ""
        s.parts.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")

    def error(self, s: Section, message: str) -> None:
        s.parts.append(f"<p class=error>This section failed: {html.escape(message)}</p>")

    def write(self) -> Path:
        """Write index.html atomically with everything so far."""
        toc = "".join(f"<li><a href='#{s.key}'>{html.escape(s.title)}</a></li>" for s in self.sections)
        body = []
        for s in self.sections:
            took = f" <span class=note>({s.seconds:.1f} s)</span>" if s.seconds is not None else ""
            body.append(f"<section id='{s.key}'><h2>{html.escape(s.title)}{took}</h2>{''.join(s.parts)}</section>")
        page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
                f"<p class=note>{html.escape(self.subtitle)} Started {self.started}.</p>"
                f"<nav><ol>{toc}</ol></nav>{''.join(body)}</body></html>")
        return atomic_write_bytes(self.path, page.encode())

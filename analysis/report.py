"""A self-contained HTML report: figures embedded as PNG, numbers in tables, configs verbatim.

The report is plain HTML with inline CSS and base64 images, so it opens anywhere without
network access and can be mailed as one file.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
.meta { color: #666; font-size: 0.9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.9em; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.7em; text-align: right; }
th { background: #f4f6f8; } td:first-child, th:first-child { text-align: left; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
"""


@dataclass
class Section:
    """One section of a report: text, figures (see :func:`figure_data`) with captions, tables, code."""

    title: str
    text: str = ""
    figures: list[tuple[Any, str]] = field(default_factory=list)
    tables: list[tuple[Sequence[dict[str, Any]], str]] = field(default_factory=list)
    code: list[tuple[str, str]] = field(default_factory=list)


def figure_data(fig: Any, dpi: int = 130) -> tuple[bytes, str]:
    """``(bytes, MIME type)`` of a figure.

    Accepts a matplotlib Figure (rendered to PNG and closed), PNG bytes, or a pair
    ``(bytes, format)`` such as ``(gif_bytes, "gif")``.
    """
    if isinstance(fig, tuple):
        data, fmt = fig
        return bytes(data), f"image/{fmt}"
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig), "image/png"
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue(), "image/png"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _table(rows: Sequence[dict[str, Any]], caption: str) -> str:
    if not rows:
        return ""
    columns = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(r.get(c, ''))}</td>" for c in columns) + "</tr>" for r in rows)
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """The report as one HTML string."""
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>",
        f"<style>{CSS}</style></head><body><h1>{html.escape(title)}</h1>",
    ]
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    parts.append(f"<p class='meta'>{html.escape(subtitle)} · generated {stamp}</p>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s.title)}</h2>")
        if s.text:
            parts.extend(f"<p>{html.escape(p)}</p>" for p in s.text.strip().split("\n\n"))
        for rows, caption in s.tables:
            parts.append(_table(rows, caption))
        for fig, caption in s.figures:
            raw, mime = figure_data(fig)
            data = base64.b64encode(raw).decode("ascii")
            parts.append(
                f"<figure><img alt='{html.escape(caption)}' src='data:{mime};base64,{data}'>"
                f"<figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        for text, caption in s.code:
            parts.append(f"<p class='meta'>{html.escape(caption)}</p><pre>{html.escape(text)}</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(path: str | Path, title: str, sections: Sequence[Section], subtitle: str = "") -> Path:
    """Write the report atomically and return its path."""
    from dustsim.io import atomic_output

    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(render_html(title, sections, subtitle), encoding="utf-8")
    return path

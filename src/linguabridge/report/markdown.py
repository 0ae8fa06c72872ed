"""Render report sections as a Markdown summary that pastes into an issue or a model card.

Figures and the long reference tables stay on the HTML page; every other table and note is here, with gains
and losses marked by the sign of their delta.
"""

from __future__ import annotations

from linguabridge.report.blocks import Figure, Missing, Para, Pre, Section, SideBySide, Table, as_cell


def _esc(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def table(t: Table) -> list[str]:
    lines = ["| " + " | ".join(_esc(h) for h in t.headers) + " |", "|" + "---|" * len(t.headers)]
    lines += ["| " + " | ".join(_esc(as_cell(c).text) for c in row) + " |" for row in t.rows]
    if t.caption:
        lines.append(f"\n_{_esc(t.caption)}_")
    return lines + [""]


def block(b) -> list[str]:
    if isinstance(b, Table):
        return table(b) if b.in_markdown else []
    if isinstance(b, Missing):
        return [f"_{b.what[:1].upper() + b.what[1:]}: {b.why}._", ""]
    if isinstance(b, Para):
        return [b.text, ""]
    if isinstance(b, SideBySide):
        return [line for x in b.blocks for line in block(x)]
    if isinstance(b, (Figure, Pre)):
        return []  # pictures and the full recipe live on the HTML page
    raise TypeError(f"unknown report block {type(b).__name__}")


def document(title: str, subtitle: str, sections: list[Section]) -> str:
    lines = [f"# {title}", "", subtitle, ""]
    for s in sections:
        lines += [f"## {s.title}", ""]
        for b in s.intro:
            lines += block(b)
        for part in s.parts:
            lines += [f"### {part.title}", ""]
            for b in part.blocks:
                lines += block(b)
    return "\n".join(lines).rstrip() + "\n"

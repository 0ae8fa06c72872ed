"""Render report sections as one self-contained HTML page: inline CSS, inline sort script, embedded PNGs."""

from __future__ import annotations

from html import escape

from linguabridge.report.blocks import Figure, Missing, Para, Part, Pre, Section, SideBySide, Table, as_cell

# Hand-written on purpose: the page must work offline from a single file, and sorting a table by a column
# is ~20 lines; a table library would be a network fetch or hundreds of KB inlined. Cells sort by data-sort
# (numbers) when present, else by their text; empty cells ("–") go last in both directions.
SORT_JS = """
document.querySelectorAll("table.sortable thead th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
    var asc = th.getAttribute("aria-sort") !== "ascending";
    table.querySelectorAll("thead th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", asc ? "ascending" : "descending");
    function key(row) {
      var td = row.cells[col];
      if (!td) return [2, ""];
      var s = td.getAttribute("data-sort");
      if (s !== null) return [0, parseFloat(s)];
      var t = td.textContent.trim();
      return t === "" || t === "\\u2013" ? [2, ""] : [1, t.toLowerCase()];
    }
    var rows = Array.prototype.slice.call(body.rows).map(function (r) { return [key(r), r]; });
    rows.sort(function (a, b) {
      var x = a[0], y = b[0];
      if (x[0] !== y[0]) return x[0] - y[0];
      if (x[1] === y[1]) return 0;
      return (x[1] > y[1] ? 1 : -1) * (asc ? 1 : -1);
    });
    rows.forEach(function (p) { body.appendChild(p[1]); });
  });
});
"""

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0;color:#222;
background:#fafafa}
header{background:#1f2d3d;color:#fff;padding:14px 28px}
header h1{margin:0;font-size:22px}
header p{margin:4px 0 0;color:#c9d3de;font-size:13px}
nav{position:sticky;top:0;z-index:1;background:#eef1f5;border-bottom:1px solid #d5dbe3;padding:6px 28px}
nav a{margin-right:18px;color:#1f4e8c;text-decoration:none;font-weight:600;font-size:14px}
main{padding:8px 28px 40px;max-width:1400px}
section{background:#fff;border:1px solid #e1e5ea;border-radius:6px;padding:6px 20px 14px;margin:16px 0}
h2{font-size:20px;border-bottom:2px solid #1f2d3d;padding-bottom:4px}
h3{font-size:16px;margin:22px 0 8px;color:#1f2d3d}
p{font-size:14px;line-height:1.45;margin:6px 0}
p.missing{color:#7a5b00;background:#fff8e1;border-left:4px solid #f0b400;padding:6px 10px}
.table{overflow-x:auto;margin:8px 0 12px}
table{border-collapse:collapse;font-size:12.5px;font-variant-numeric:tabular-nums}
caption{caption-side:bottom;text-align:left;font-size:12px;color:#666;padding-top:4px}
th,td{border:1px solid #d9dee4;padding:3px 7px;text-align:left;white-space:nowrap}
td[data-sort]{text-align:right}
th{background:#f1f4f8;white-space:normal;max-width:9em;vertical-align:bottom;line-height:1.25}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th::after{content:" \\2195";color:#aab}
table.sortable th[aria-sort=ascending]::after{content:" \\25B2";color:#335}
table.sortable th[aria-sort=descending]::after{content:" \\25BC";color:#335}
td.text{white-space:normal;min-width:220px;max-width:520px}
td.na{text-align:center;color:#999}
td.gain{background:#d8f0dc;color:#14532d}
td.loss{background:#f9d9d9;color:#7f1d1d}
td.warn{background:#fff1c2;color:#6b4e00;font-weight:600}
.row{display:flex;flex-wrap:wrap;gap:18px;align-items:flex-start}
.row>div{min-width:0;max-width:100%}
figure{margin:10px 0 16px}
figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{font-size:12px;color:#666}
details{margin:8px 0}
summary{cursor:pointer;font-size:13px;color:#1f4e8c}
pre{font-size:11.5px;background:#f6f8fa;padding:10px;max-height:420px;overflow:auto}
"""


def _td(c) -> str:
    cell = as_cell(c)
    attrs = []
    if isinstance(cell.sort, (int, float)) and not isinstance(cell.sort, bool):
        attrs.append(f'data-sort="{cell.sort!r}"')
    classes = [cell.style] if cell.style else []
    if cell.text == "–":
        classes.append("na")
    if cell.sort is None and len(cell.text) > 24:
        classes.append("text")
    if classes:
        attrs.append(f'class="{" ".join(classes)}"')
    if cell.title:
        attrs.append(f'title="{escape(cell.title)}"')
    content = escape(cell.text)
    if cell.details is not None:
        content = f"<details><summary>{content}</summary><pre>{escape(cell.details)}</pre></details>"
    return f"<td{' ' + ' '.join(attrs) if attrs else ''}>{content}</td>"


def table(t: Table) -> str:
    cap = f"<caption>{escape(t.caption)}</caption>" if t.caption and not t.collapsed else ""
    # <wbr> after "_" and "/" lets long reason names (language_not_targeted) wrap inside narrow headers.
    head = "".join(f"<th>{escape(h).replace('_', '_<wbr>').replace('/', '/<wbr>')}</th>" for h in t.headers)
    body = "\n".join("<tr>" + "".join(_td(c) for c in row) + "</tr>" for row in t.rows)
    html = f'<div class="table"><table class="sortable">{cap}<thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table></div>'
    if t.collapsed:
        return f"<details><summary>{escape(t.caption or 'table')}</summary>{html}</details>"
    return html


def block(b) -> str:
    if isinstance(b, Table):
        return table(b)
    if isinstance(b, Figure):
        cap = f"<figcaption>{escape(b.caption)}</figcaption>" if b.caption else ""
        return f'<figure><img alt="{escape(b.alt)}" src="{b.data_uri}">{cap}</figure>'
    if isinstance(b, Missing):
        return f'<p class="missing">{escape(b.what[:1].upper() + b.what[1:])}: {escape(b.why)}.</p>'
    if isinstance(b, Pre):
        return f"<details><summary>{escape(b.title)}</summary><pre>{escape(b.text)}</pre></details>"
    if isinstance(b, Para):
        return f"<p>{escape(b.text)}</p>"
    if isinstance(b, SideBySide):
        return '<div class="row">' + "".join(f"<div>{block(x)}</div>" for x in b.blocks) + "</div>"
    raise TypeError(f"unknown report block {type(b).__name__}")


def section(s: Section) -> str:
    out = [f'<section id="{s.id}"><h2>{escape(s.title)}</h2>']
    out += [block(b) for b in s.intro]
    for i, part in enumerate(s.parts, start=1):
        out.append(part_html(part, f"{s.id}-{i}"))
    out.append("</section>")
    return "\n".join(out)


def part_html(part: Part, anchor: str) -> str:
    return f'<h3 id="{anchor}">{escape(part.title)}</h3>\n' + "\n".join(block(b) for b in part.blocks)


def page(title: str, subtitle: str, sections: list[Section]) -> str:
    nav = "".join(f'<a href="#{s.id}">{escape(s.title)}</a>' for s in sections)
    body = "\n".join(section(s) for s in sections)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f"<header><h1>{escape(title)}</h1><p>{escape(subtitle)}</p></header>\n"
        f"<nav>{nav}</nav>\n<main>\n{body}\n</main>\n<script>{SORT_JS}</script>\n</body>\n</html>\n"
    )

"""The report's content model: sections made of paragraphs, tables, figures and "not available" notes.

Section builders produce these blocks once; ``report/html.py`` and ``report/markdown.py`` render them, so the
page and the Markdown summary always show the same numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Cell:
    """One table cell: what is shown, how it sorts, and an optional style (``gain``, ``loss``, ``warn``)."""

    text: str
    sort: float | str | None = None  # sort key in the browser; the text when None
    style: str | None = None
    title: str | None = None  # hover text (e.g. a prompt too long to show)
    details: str | None = None  # full text behind the shown one, opened on click (a <details> element)


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell | str | int | float | None]]
    caption: str | None = None
    in_markdown: bool = True  # the Markdown summary keeps only the tables a reader pastes into an issue
    collapsed: bool = False  # long reference tables sit in a <details> element on the page


@dataclass
class Figure:
    data_uri: str  # a PNG embedded as data:image/png;base64,... (the page needs no sibling file)
    alt: str
    caption: str | None = None


@dataclass
class Para:
    text: str


@dataclass
class Missing:
    """A part of the report whose inputs this run does not have."""

    what: str
    why: str = "not available in this run"


@dataclass
class Pre:
    """Preformatted text (the resolved recipe), collapsed on the page, left out of the Markdown."""

    title: str
    text: str


@dataclass
class SideBySide:
    """Blocks laid out in a row on the page when there is room (a narrow table and its chart)."""

    blocks: list


@dataclass
class Part:
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Section:
    id: str
    title: str
    parts: list[Part] = field(default_factory=list)
    intro: list = field(default_factory=list)


def as_cell(c) -> Cell:
    """A table value as a cell: numbers sort by value, None shows as a dash."""
    if isinstance(c, Cell):
        return c
    if isinstance(c, (int, float)) and not isinstance(c, bool):
        return Cell(fmt_num(c), c)
    return Cell("–" if c is None else str(c))


# ------------------------------------------------------------------------------------------ formatting
def fmt_num(v, digits: int = 4) -> str:
    """Numbers as a person reads them: ints with thousands separators, floats to ``digits`` significant."""
    if v is None:
        return "–"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int):
        return f"{v:,}"
    if isinstance(v, float):
        if math.isnan(v):
            return "–"
        if v.is_integer() and abs(v) < 1e15:
            return f"{int(v):,}"
        return f"{v:.{digits}g}"
    return str(v)


def fmt_tokens(v) -> str:
    """Token counts in k/M/B/T so a demo run and a 300B-token run read the same way."""
    if v is None:
        return "–"
    v = float(v)
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= size:
            return f"{v / size:.3g}{unit}"
    return f"{v:.0f}"


def fmt_pct(fraction, digits: int = 1) -> str:
    return "–" if fraction is None else f"{100 * fraction:.{digits}f}%"


def fmt_delta(v, digits: int = 3) -> str:
    if v is None:
        return "–"
    return f"{v:+.{digits}g}" if abs(v) >= 1e-12 else "±0"


def num(v, digits: int = 4, style: str | None = None) -> Cell:
    """A numeric cell that sorts by value."""
    sort = v if isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v)) else None
    return Cell(fmt_num(v, digits), sort, style)


def tokens(v) -> Cell:
    return Cell(fmt_tokens(v), v)


def pct(fraction, style: str | None = None) -> Cell:
    return Cell(fmt_pct(fraction), fraction, style)


def delta(v, lower_is_better: bool = False, digits: int = 3) -> Cell:
    """A change, coloured as a gain or a loss for its metric's direction."""
    if v is None:
        return Cell("–")
    better = -v if lower_is_better else v
    style = "gain" if better > 1e-12 else "loss" if better < -1e-12 else None
    return Cell(fmt_delta(v, digits), v, style)


SIGNIFICANT_SE = 2.0  # a change is coloured only beyond this many standard errors


def beyond_noise(v: float, se: float | None) -> bool:
    """Whether change ``v`` exceeds ``SIGNIFICANT_SE`` standard errors (never, when ``se`` is unknown)."""
    return se is not None and abs(v) > SIGNIFICANT_SE * se and abs(v) > 1e-12


def delta_se(v, se, lower_is_better: bool = False, percent: bool = False) -> Cell:
    """A change with ± its standard error, coloured as a gain or a loss only beyond ``SIGNIFICANT_SE``.

    ``se`` None (no standard error known): shown without ±, never coloured. ``percent``: ``v`` and ``se``
    are fractions shown as percentage points with one decimal.
    """
    if v is None:
        return Cell("–")
    if se is None:
        return Cell(f"{100 * v:+.1f}" if percent else fmt_delta(v), v)
    text = f"{100 * v:+.1f}" if percent else (fmt_delta(v) if abs(v) >= 1e-12 else "0")
    text += f" ± {100 * se:.1f}" if percent else f" ± {se:.2g}"
    better = -v if lower_is_better else v
    style = ("gain" if better > 0 else "loss") if beyond_noise(v, se) else None
    return Cell(text, v, style)

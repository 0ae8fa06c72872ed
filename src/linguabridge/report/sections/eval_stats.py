"""How the evaluation numbers read: which metrics are fractions (shown as percent) or lower-is-better, and the
standard error of a row, of a mean over rows and of a difference (the report's ± and its colouring).
"""

from __future__ import annotations

import math

from linguabridge.report.blocks import SIGNIFICANT_SE, Cell, num

# Metrics where a smaller number is better; every other metric (accuracy, BLEU, chrF, F1, ...) is larger-better.
LOWER_IS_BETTER = {
    "loss",
    "bpb",
    "bits_per_byte",
    "perplexity",
    "ppl",
    "word_perplexity",
    "byte_perplexity",
    "ter",
}
# Fractions in results.json, shown as percentages; the binary ones (a mean of 0/1 outcomes) have a closed-form
# standard error when a row carries none.
FRACTION_METRICS = {"acc", "acc_norm", "acc_bytes", "exact_match", "f1"}
BINARY_METRICS = {"acc", "acc_norm", "acc_bytes", "exact_match"}
STDERR_NOTE = (
    f"± is one standard error of the difference, sqrt(se_final² + se_base²) (items treated as independent), "
    f"and a delta is coloured only beyond {SIGNIFICANT_SE:g} of them. A row's standard error is lm-eval's "
    "(sample standard deviation / √n), for accuracy rows without one √(p(1−p)/n), for BLEU/chrF++ "
    "a bootstrap over sentences (1000 resamples); a mean over languages or directions combines them as "
    "√(Σse²)/k. No ±: no standard error known (held-out bits per byte, BLEU/chrF++ on fewer than 10 "
    "sentences), never coloured."
)


def lower_is_better(metric: str) -> bool:
    return str(metric).lower() in LOWER_IS_BETTER


def is_fraction(metric: str) -> bool:
    return str(metric) in FRACTION_METRICS


def row_stderr(row: dict) -> float | None:
    """The row's standard error: its own, or √(p(1−p)/n) for a mean of binary outcomes, else None."""
    se = row.get("stderr")
    if isinstance(se, (int, float)) and math.isfinite(se):
        return float(se)
    n, p = row.get("n"), row.get("value")
    if str(row.get("metric")) in BINARY_METRICS and isinstance(n, (int, float)) and n > 0 and 0 <= p <= 1:
        return math.sqrt(p * (1 - p) / n)
    return None


def combined_se(ses: list[float | None]) -> float | None:
    """Standard error of a mean of independent estimates: √(Σse²)/k; None when one is unknown."""
    if not ses or any(se is None for se in ses):
        return None
    return math.sqrt(sum(se * se for se in ses)) / len(ses)


def value_cell(v, metric: str) -> Cell:
    if v is not None and is_fraction(metric):
        return Cell(f"{100 * v:.1f}", v)
    return num(v)

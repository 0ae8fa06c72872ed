"""Benchmark definitions, one file per family; ``BENCHMARKS`` maps each task name to its definition."""

from __future__ import annotations

from linguabridge.errors import LinguabridgeError, did_you_mean
from linguabridge.eval.tasks.base import Benchmark, Default, HubSource, Protocol, TaskSpec
from linguabridge.eval.tasks.choice import ARC, MMLU, MMMLU, AGIEval, Belebele, CEval, XStoryCloze
from linguabridge.eval.tasks.copa import XCOPA, DemoCOPA
from linguabridge.eval.tasks.flores import WMT16, DemoFlores, Flores
from linguabridge.eval.tasks.tydiqa import TyDiQA

BENCHMARKS: dict[str, Benchmark] = {
    b.name: b
    for b in (
        XCOPA(),
        Belebele(),
        XStoryCloze(),
        MMMLU(),
        TyDiQA(),
        Flores(),
        WMT16(),
        MMLU(),
        ARC(),
        CEval(),
        AGIEval(),
        DemoCOPA(),
        DemoFlores(),
    )
}
# Tasks computed outside lm-eval (eval/runner.py).
NATIVE_TASKS = ("heldout_bpb",)


def get_benchmark(name: str) -> Benchmark:
    if name not in BENCHMARKS:
        known = list(BENCHMARKS) + list(NATIVE_TASKS)
        raise LinguabridgeError(
            f"unknown evaluation task {name!r}", did_you_mean(name, known) or f"tasks: {', '.join(known)}"
        )
    return BENCHMARKS[name]


__all__ = [
    "BENCHMARKS",
    "NATIVE_TASKS",
    "Benchmark",
    "Default",
    "HubSource",
    "Protocol",
    "TaskSpec",
    "get_benchmark",
]

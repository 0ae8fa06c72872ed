"""The quiet console: library noise goes to the stage's log.txt, the terminal gets progress and summaries."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import warnings

import pytest

from linguabridge import console


@pytest.fixture
def level():
    """Set a verbosity for one test, and put the default back afterwards."""
    old = console.verbosity()
    yield console.set_verbosity
    console.set_verbosity(old)


def _noise() -> None:
    """What the libraries do today: loggers, warnings, prints, and a subprocess writing to stderr."""
    logging.getLogger("lm_eval.api.task").warning("Custom kwargs can be passed to `--metadata`")
    logging.getLogger("transformers.trainer").warning("a transformers warning")
    warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
    print("{'loss': '11.95', 'grad_norm': '0.6897'}")
    print("a bar\r", file=sys.stderr)
    subprocess.run([sys.executable, "-c", "import sys; sys.stderr.write('fatal: not a git repository\\n')"])


def test_library_output_goes_to_the_log_not_the_terminal(tmp_path, capfd, level):
    level(console.NORMAL)
    log = tmp_path / "stage" / console.LOG_FILE
    with console.stage_output(log):
        _noise()
        logging.getLogger("linguabridge.cpt").warning("forgetting: eng_Latn held-out loss rose")
    term = capfd.readouterr()
    text = log.read_text()
    for needle in ("Custom kwargs", "a transformers warning", "is_gradient_checkpointing", "'loss'",
                   "a bar", "fatal: not a git repository", "forgetting"):  # fmt: skip
        assert needle in text, needle
    shown = term.out + term.err
    assert "forgetting: eng_Latn" in shown  # our own warnings stay on the terminal
    for needle in ("Custom kwargs", "transformers warning", "is_gradient", "'loss'", "fatal", "a bar"):
        assert needle not in shown, needle
    # the terminal is back afterwards
    print("after")
    assert capfd.readouterr().out == "after\n"


def test_verbose_keeps_library_output_on_the_terminal_and_in_the_log(tmp_path, capfd, level):
    level(console.VERBOSE)
    log = tmp_path / console.LOG_FILE
    with console.stage_output(log):
        _noise()
    term = capfd.readouterr()
    assert "fatal: not a git repository" in term.err and "'loss'" in term.out
    assert "is_gradient_checkpointing" in term.err
    assert "Custom kwargs" in log.read_text() and "is_gradient_checkpointing" in log.read_text()


def test_quiet_hides_our_warnings_but_not_errors(tmp_path, capfd, level):
    level(console.QUIET)
    with console.stage_output(tmp_path / console.LOG_FILE):
        logging.getLogger("linguabridge.x").warning("a warning of ours")
        logging.getLogger("linguabridge.x").error("an error of ours")
    shown = "".join(capfd.readouterr())
    assert "an error of ours" in shown and "a warning of ours" not in shown


def test_in_memory_streams_are_redirected_too(tmp_path, capsys, level):
    level(console.NORMAL)
    log = tmp_path / console.LOG_FILE
    with console.stage_output(log):
        print("library print")
        warnings.warn("a library warning", UserWarning, stacklevel=1)
    assert "library print" not in capsys.readouterr().out
    assert "library print" in log.read_text() and "a library warning" in log.read_text()


def test_progress_is_a_no_op_unless_normal(level):
    level(console.QUIET)
    with console.progress("x", 3) as bar:
        bar.update(completed=2, info="loss 1.0")  # nothing to show, nothing to fail
    assert not console.shows_progress()
    level(console.NORMAL)
    assert console.shows_progress()


SMALL = ["mixture.stages.0.tokens=2560", "mixture.stages.1.tokens=1536", "cpt_stage1.eval_every=2"]


def _run(out, *options: str, only: str) -> subprocess.CompletedProcess:
    sets = [a for s in SMALL for a in ("--set", s)]
    cmd = [sys.executable, "-m", "linguabridge.cli.main", *options, "run", "demo", "--out", str(out), *sets]
    env = os.environ | {
        "LINGUABRIDGE_NO_TENSORBOARD": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "COLUMNS": "120",
    }
    proc = subprocess.run([*cmd, "--only", only], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.slow
def test_stages_print_summaries_not_library_noise(tmp_path):
    out = tmp_path / "run"
    quiet = _run(out, "--quiet", only="data")
    lines = quiet.stderr.strip().splitlines()
    assert lines[0].startswith("data done in") and "documents kept" in lines[1], quiet.stderr
    assert "─" not in quiet.stderr.split("╭")[0]  # no stage rule; only the summary (and the closing panel)
    normal = _run(out, only="data,mixture,tokens,cpt_stage1")
    err = normal.stderr
    assert "skip data: complete" in err
    assert "{'" not in err and "%|" not in err and "\r" not in err  # no log dicts, no tqdm, no CR redraws
    for needle in ("tokens done in", "per source:", "cpt_stage1 done in", "held-out bpb high-resource"):
        assert needle in err, needle
    assert len(err.splitlines()) < 40, err
    assert (out / "cpt_stage1" / console.LOG_FILE).is_file()
    done = json.loads((out / "cpt_stage1" / "_COMPLETE.json").read_text())["summary"]
    assert set(done["heldout_bpb_by_tier"]) == {"high", "low"}


def test_lm_eval_request_bars_are_off_and_the_model_keeps_its_name():
    from linguabridge.eval.lmeval_bridge import _without_request_bars

    class HFLM:  # lm-eval's signature: each request method shows a bar unless told otherwise
        def loglikelihood(self, requests, disable_tqdm=False):
            return disable_tqdm

        loglikelihood_rolling = generate_until = loglikelihood

    quiet = _without_request_bars(HFLM)()
    assert type(quiet).__name__ == "HFLM" and isinstance(quiet, HFLM)  # lm-eval records the class name
    assert quiet.loglikelihood([]) and quiet.loglikelihood_rolling([]) and quiet.generate_until([])


def test_summaries_say_what_each_stage_did():
    from linguabridge import stage_summaries as say
    from linguabridge.stages import _rejections, deltas_by_tier

    steps = {"url": {"in": 9, "out": 8, "dropped:url_blocklist": 1}, "dedup": {"dropped:exact_duplicate": 3}}
    data = {"web": {"input": 10, "kept": 6, "rejected": 4}, "web_rejected_by_reason": _rejections(steps)}
    assert list(data["web_rejected_by_reason"]) == ["exact_duplicate", "url_blocklist"]
    lines = say.describe_data(data, 2.0)
    assert lines[0] == "web: 6 of 10 documents kept, 4 rejected (5 docs/s)"
    assert lines[1] == "top rejections: exact_duplicate 3, url_blocklist 1"
    cpt = {"steps": 30, "tokens": 15360, "heldout_bpb_by_tier": {"high": {"before": 4.4, "after": 3.9}}}
    assert "held-out bpb high-resource: 4.400 -> 3.900" in say.describe_cpt("cpt_stage1")(cpt, 1.0)
    rows = [
        {"checkpoint": c, "task": "copa", "language": lang, "metric": "acc", "value": v}
        for c, lang, v in [("base", "eng_Latn", 0.5), ("dpo", "eng_Latn", 0.75), ("base", "kaz_Cyrl", 0.5)]
    ]
    deltas = deltas_by_tier(rows, "base", "dpo")  # kaz_Cyrl has no dpo row: not compared
    assert deltas == {"high": {"copa acc": 0.25}}
    lines = say.describe_eval({"rows": 3, "checkpoints": ["base", "dpo"], "deltas_by_tier": deltas}, 1.0)
    assert "  high-resource: copa acc +0.25" in lines
    assert say.describe_mixture({}, 1.0) == [
        "outputs: mixture/plan.json, mixture/inventory.tsv"
    ]  # older summary


def test_trainers_show_one_progress_line_instead_of_log_dicts(capsys, level):
    from types import SimpleNamespace

    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    from linguabridge.train.callbacks import ConsoleProgressMixin, TrainProgress

    class Trainer:  # what transformers' Trainer does with its default printer
        def __init__(self):
            self.callbacks = [ProgressCallback, PrinterCallback]

        def remove_callback(self, cb):
            self.callbacks.remove(cb)

        def add_callback(self, cb):
            self.callbacks.append(cb)

    level(console.NORMAL)
    (progress,) = type("Quiet", (ConsoleProgressMixin, Trainer), {})().callbacks
    assert isinstance(progress, TrainProgress)
    state = SimpleNamespace(is_world_process_zero=True, max_steps=4, global_step=0)
    progress.on_train_begin(None, state, None)
    with console.progress("nested", 2) as inner:  # a second bar joins the live display
        inner.update(advance=1)
    state.global_step = 2
    progress.on_step_end(None, state, None)
    progress.on_log(None, state, None, logs={"loss": 1.5, "num_tokens": 100.0})
    progress.on_log(None, state, None, logs={"train_runtime": 1.0, "train_loss": 1.5})  # the summary row
    progress.on_train_end(None, state, None)
    err = capsys.readouterr().err
    assert "2/4" in err and "loss 1.5" in err and "tokens/s" in err and "{'" not in err
    level(console.VERBOSE)  # today's output: transformers keeps its own callbacks
    assert type("Loud", (ConsoleProgressMixin, Trainer), {})().callbacks == [
        ProgressCallback,
        PrinterCallback,
    ]

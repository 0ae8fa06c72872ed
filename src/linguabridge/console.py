"""What the terminal shows while the pipeline runs: one progress display per stage, a summary when it ends.

Three levels, set once by the CLI (``--quiet`` / ``--verbose``):

- ``normal``: a rich progress display per stage, the stage's summary, our own warnings and errors.
- ``quiet``: summaries and errors only.
- ``verbose``: today's full library output on the terminal as well (their bars, the Trainer's log dicts).

Whatever the level, :func:`stage_output` keeps the libraries' output (logging, ``warnings``, bars, prints
and what their subprocesses write, such as the ``git`` lm-eval runs) in the stage's ``log.txt``: kept, not
lost. Under a multi-process launch only rank 0 prints; the other ranks log to ``log.rank<N>.txt``.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text

QUIET, NORMAL, VERBOSE = "quiet", "normal", "verbose"
LOG_FILE = "log.txt"
# Libraries whose loggers keep their own terminal handlers (propagate=False): muted during a stage.
LIBRARY_LOGGERS = ("transformers", "datasets", "lm_eval", "trl", "accelerate", "peft", "huggingface_hub")

_level = NORMAL
_active: Progress | None = None  # the live progress display, while one runs


def _rank() -> int:
    # read from the launcher's environment as train.distributed does (this module sits below train/)
    return int(os.environ.get("RANK", "0"))


console = Console(stderr=True, quiet=_rank() != 0)


def set_verbosity(level: str) -> None:
    """``quiet``, ``normal`` or ``verbose`` for the rest of the process (the CLI's global options)."""
    global _level
    if level not in (QUIET, NORMAL, VERBOSE):
        raise ValueError(f"unknown verbosity {level!r}")
    _level = level
    if level != VERBOSE:
        # tqdm reads its defaults from the environment when imported: libraries' bars stay off (ours are rich)
        os.environ.setdefault("TQDM_DISABLE", "1")
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def verbosity() -> str:
    return _level


def shows_progress() -> bool:
    """Our progress displays: at the normal level only (verbose shows the libraries' own bars instead)."""
    return _level == NORMAL and _rank() == 0


# ------------------------------------------------------------------------------------------- stage log
def stage_log_path(stage_dir: Path) -> Path:
    rank = _rank()
    return stage_dir / (LOG_FILE if rank == 0 else f"log.rank{rank}.txt")


@contextlib.contextmanager
def stage_output(log_path: Path) -> Iterator[None]:
    """Route library output to ``log_path`` while the block runs (and to the terminal too when verbose).

    Python ``logging`` (root and the libraries' own loggers) and ``warnings`` go to the file through a handler;
    anything else written to stdout/stderr -- prints, bars, C extensions, subprocesses -- is caught by pointing
    file descriptors 1 and 2 at the file, while :data:`console` keeps writing to the real terminal.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a", encoding="utf-8", buffering=1) as log_file:
        handler = logging.StreamHandler(log_file)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        with _logging_to(handler), _warnings_to_logging():
            if _level == VERBOSE:
                yield
            else:
                with _own_warnings_on_console(), _streams_to(log_file):
                    yield


@contextlib.contextmanager
def _logging_to(handler: logging.Handler) -> Iterator[None]:
    root = logging.getLogger()
    muted: list[tuple[logging.Logger, logging.Handler]] = []
    separate = [logging.getLogger(n) for n in LIBRARY_LOGGERS if not logging.getLogger(n).propagate]
    for logger in separate:
        logger.addHandler(handler)
        if _level != VERBOSE:
            for h in list(logger.handlers):
                if h is not handler and isinstance(h, logging.StreamHandler):
                    logger.removeHandler(h)
                    muted.append((logger, h))
    handlers = [handler]
    if _level == VERBOSE:  # py.warnings and loggers without a handler of their own: on the terminal too
        handlers.append(logging.StreamHandler(sys.stderr))
    for h in handlers:
        root.addHandler(h)
    old_level = root.level
    root.setLevel(min(old_level, logging.INFO))
    try:
        yield
    finally:
        root.setLevel(old_level)
        for h in handlers:
            root.removeHandler(h)
        for logger in separate:
            logger.removeHandler(handler)
        for logger, h in muted:
            logger.addHandler(h)


@contextlib.contextmanager
def _warnings_to_logging() -> Iterator[None]:
    logging.captureWarnings(True)  # ``warnings`` -> the ``py.warnings`` logger -> the root handlers
    try:
        yield
    finally:
        logging.captureWarnings(False)


@contextlib.contextmanager
def _own_warnings_on_console() -> Iterator[None]:
    """Our own warnings (``linguabridge.*`` loggers) stay on the terminal; quiet keeps errors only."""
    from rich.logging import RichHandler

    handler = RichHandler(console=console, show_time=False, show_path=False, markup=False)
    handler.setLevel(logging.ERROR if _level == QUIET else logging.WARNING)
    ours = logging.getLogger("linguabridge")
    ours.addHandler(handler)
    try:
        yield
    finally:
        ours.removeHandler(handler)


def _fd_of(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        return None


@contextlib.contextmanager
def _streams_to(log_file) -> Iterator[None]:
    """File descriptors 1 and 2 (subprocesses, C code, Python's own streams) -> the log; Python streams that are
    not those descriptors (a test runner's, a notebook's) are redirected as well."""
    on_fds = _fd_of(sys.stdout) == 1 and _fd_of(sys.stderr) == 2
    sys.stdout.flush()
    sys.stderr.flush()
    with contextlib.ExitStack() as stack:
        if on_fds:
            terminal = stack.enter_context(
                os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
            )
        else:
            terminal = sys.stderr
            stack.enter_context(contextlib.redirect_stdout(log_file))
            stack.enter_context(contextlib.redirect_stderr(log_file))
        for fd in (1, 2):
            saved = os.dup(fd)
            stack.callback(os.close, saved)
            stack.callback(os.dup2, saved, fd)
            os.dup2(log_file.fileno(), fd)
        stack.callback(sys.stderr.flush)  # (run first) what Python buffered goes to the log, not the terminal
        stack.callback(sys.stdout.flush)
        console.file = terminal
        stack.callback(setattr, console, "file", None)  # back to whatever sys.stderr is then
        yield


# -------------------------------------------------------------------------------------------- progress
class Bar:
    """One task of a rich progress display: ``update(completed, info=...)`` with live figures as text."""

    def __init__(self, progress: Progress | None, task: int | None):
        self._progress = progress
        self._task = task

    def update(self, completed: float | None = None, advance: float | None = None, info: str | None = None):
        if self._progress is None:
            return
        fields = {} if info is None else {"info": info}
        self._progress.update(self._task, completed=completed, advance=advance, **fields)


@contextlib.contextmanager
def progress(
    description: str, total: float | None, completed: float = 0, unit: str = "", enabled: bool = True
) -> Iterator[Bar]:
    """A progress display with M/N, elapsed time, ETA and a line of live figures (a no-op unless ``enabled``
    and :func:`shows_progress`). On a non-terminal (CI logs, pipes) rich prints only the final state: no
    carriage-return spam."""
    if not (enabled and shows_progress()):
        yield Bar(None, None)
        return
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(bar_width=30),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    ]
    global _active
    if _active is not None:  # rich allows one live display at a time: a nested bar is a line of the outer one
        task = _active.add_task(description, total=total, completed=completed, info="")
        try:
            yield Bar(_active, task)
        finally:
            _active.remove_task(task)
        return
    # redirect_*=False: stage_output owns stdout/stderr; rich must not pull library output back on screen
    with Progress(*columns, console=console, redirect_stdout=False, redirect_stderr=False) as bar:
        _active = bar
        try:
            task = bar.add_task(description, total=total, completed=completed, info="")
            yield Bar(bar, task)
        finally:
            _active = None


# -------------------------------------------------------------------------------------------- summaries
def stage_start(name: str) -> None:
    if _level != QUIET:
        console.rule(f"[bold]{name}")


def note(text: str) -> None:
    """A line that is neither a summary nor an error (``skip data: complete``): hidden by ``--quiet``."""
    if _level != QUIET:
        console.print(text, highlight=False)


def stage_done(name: str, seconds: float, lines: list[str], log_path: Path | None = None) -> None:
    """``<stage> done in Ns`` and the stage's summary lines (shown at every level, quiet included)."""
    console.print(f"[green]{name} done[/green] in {seconds:.1f}s", highlight=False)
    for line in lines:
        console.print(f"  {line}", highlight=False, markup=False)
    if log_path is not None and log_path.is_file() and log_path.stat().st_size and _level != VERBOSE:
        console.print(f"  [dim]library output: {log_path}[/dim]", highlight=False)


def closing_panel(title: str, lines: list[str]) -> None:
    """The last thing ``run``/``demo`` prints: what ran, how long, where everything is."""
    console.print(Panel(Text("\n".join(lines)), title=title, expand=False))

"""Sharded, resumable execution of per-shard work: local processes, or Ray on a cluster.

A shard's work writes its files atomically and then a completion marker; a shard with a marker is skipped,
so a killed run (even ``kill -9``) restarts where it stopped, and since every output depends only on the
shard's input, the result is byte-identical to an uninterrupted run.

Cluster path: ``data.executor: ray`` submits each shard as a Ray task (``ray.init()`` joins the cluster
named by ``RAY_ADDRESS``, or starts a local one); on Slurm, start a Ray cluster in the allocation and run the
same command. Shards must then live on a filesystem every node sees.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from linguabridge.errors import require
from linguabridge.io import write_json
from linguabridge.runtime import die_with_parent

MARKER = "_COMPLETE.json"  # a whole run's, last file written (every stage's convention, pipeline.MARKER)
SHARD_MARKER = "_DONE.json"  # one shard's or pass's, inside the run's _work/ (removed with it)


def is_done(folder: Path) -> bool:
    return (folder / SHARD_MARKER).is_file()


def mark_done(folder: Path, info: dict) -> None:
    write_json(folder / SHARD_MARKER, info)


def run_shards(
    fn: Callable,
    args: Sequence[tuple],
    workers: int = 1,
    executor: str = "local",
    desc: str = "",
    progress=False,
) -> list:
    """``fn(*a)`` for each ``a``; results in input order. ``workers`` processes locally, or Ray tasks."""
    if not args:
        return []
    if executor == "ray":
        ray = require("ray", "data")
        if not ray.is_initialized():
            ray.init(ignore_reinit_error=True, include_dashboard=False, log_to_driver=False)
        remote = ray.remote(fn)
        return ray.get([remote.remote(*a) for a in args])
    from linguabridge.console import progress as progress_bar

    with progress_bar(desc, len(args), unit="shards", enabled=progress) as bar:
        if workers <= 1 or len(args) == 1:
            return [_advance(bar, fn(*a)) for a in args]
        # spawn: workers import cleanly (no forked locks or half-initialised segmenters); each loads its own models.
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(workers, len(args)), mp_context=ctx, initializer=die_with_parent
        ) as pool:
            futures = [pool.submit(fn, *a) for a in args]
            return [_advance(bar, f.result()) for f in futures]


def _advance(bar, result):
    bar.update(advance=1)
    return result

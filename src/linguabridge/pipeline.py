"""The stage graph behind ``linguabridge run`` / ``demo``: order, outputs, completion markers, resume.

Each stage writes under ``RUN/<stage>/`` and, when done, ``RUN/<stage>/_COMPLETE.json`` (with the hash of
the config it ran with). Re-running skips completed stages; a stage without a marker is run again (data
stages from scratch, which is deterministic; training stages from their newest complete checkpoint).
A completed stage whose config changed is refused rather than silently reused.
"""

from __future__ import annotations

import copy
import json
import os
import platform
import shutil
import time
from pathlib import Path

from linguabridge.config import RunConfig
from linguabridge.console import console, note, stage_done, stage_log_path, stage_output, stage_start
from linguabridge.errors import ConfigError, LinguabridgeError, did_you_mean
from linguabridge.io import write_json
from linguabridge.provenance import fingerprint as hash_facts
from linguabridge.provenance import package_versions
from linguabridge.recipe import load_recipe, recipe_files, resolve_recipe
from linguabridge.stages import STAGE_NAMES, STAGES, Stage
from linguabridge.train.distributed import is_main_process, world_size

MARKER = "_COMPLETE.json"


# Settings that change how fast a stage runs, not what it produces: not part of the fingerprint.
NOT_FINGERPRINTED = ("data.workers", "mixture.workers", "synthetic.concurrency")


def _pick(data: dict, dotted: str):
    for part in dotted.split("."):
        data = data[part]
    return data


def fingerprint(config: RunConfig | dict, keys: tuple[str, ...], upstream: tuple[str, ...] = ()) -> str:
    """Hash of the config keys a stage depends on, the seed and its upstream stages' fingerprints.

    ``config`` is a :class:`RunConfig` or its JSON dump (the table test perturbs dumps key by key).
    """
    data = config.model_dump(mode="json") if isinstance(config, RunConfig) else copy.deepcopy(config)
    for dotted in NOT_FINGERPRINTED:
        section, _, key = dotted.rpartition(".")
        parent = _pick(data, section)
        if isinstance(parent, dict):
            parent.pop(key, None)
    picked = {k: _pick(data, k) for k in keys} | {"seed": data["seed"], "upstream": list(upstream)}
    return hash_facts(picked)


def stage_fingerprints(config: RunConfig | dict, stages: list[Stage]) -> dict[str, str]:
    """Every stage's fingerprint, chained through ``after`` so a change upstream invalidates what follows."""
    fps: dict[str, str] = {}
    for stage in stages:
        fps[stage.name] = fingerprint(
            config, stage.config_keys, tuple(fps[d] for d in stage.after if d in fps)
        )
    return fps


def stage_dir(run_dir: Path, name: str) -> Path:
    return run_dir / name


def is_complete(run_dir: Path, name: str) -> bool:
    return (run_dir / name / MARKER).is_file()


def _wait_for(path: Path, poll: float = 2.0) -> None:
    """File barrier for non-main processes: the process group may not exist outside training stages."""
    while not path.is_file():
        time.sleep(poll)


def run_recipe(
    recipe: str | Path,
    run_dir: Path,
    only: list[str] | None = None,
    force: bool = False,
    overrides: list[str] | None = None,
) -> Path | None:
    """Load a recipe (a YAML path or a built-in name: ``demo``, ``marco``) and run its stages into ``run_dir``.

    What ``linguabridge run``/``demo`` and ``linguabridge train stage`` call. Returns the report's index.html,
    or None when ``only`` left the report stage out (an older report would describe another state).
    """
    path = resolve_recipe(str(recipe))
    cfg = load_recipe(path, overrides or [])
    for name in only or []:
        if name not in STAGE_NAMES:
            raise LinguabridgeError(
                f"unknown stage {name!r}",
                did_you_mean(name, STAGE_NAMES) or f"stages: {', '.join(STAGE_NAMES)}",
            )
    problems = cfg.missing_mixture_stages(only or STAGE_NAMES)
    if problems:  # before any work: the CPT stage would fail hours later
        raise ConfigError(
            f"{path}: {problems[0]}",
            "add that stage under mixture.stages, point the CPT stage at one, or leave it out with --only",
        )
    run_pipeline(cfg, run_dir, STAGES, only=only, force=force, recipe_files=recipe_files(path))
    if only and "report" not in only:
        return None
    return run_dir / "report" / "index.html"


def run_pipeline(
    cfg: RunConfig,
    run_dir: Path,
    stages: list[Stage],
    only: list[str] | None = None,
    force: bool = False,
    recipe_files: list[Path] | None = None,
) -> None:
    """Run ``stages`` in order into ``run_dir``; completed stages are skipped (``force`` reruns them).

    Under a multi-process launch, training stages run on every process and everything else on the main
    process only; only the main process writes markers and run facts, the others wait for its markers.
    """
    main = is_main_process()
    run_dir.mkdir(parents=True, exist_ok=True)
    if main:
        write_json(run_dir / "recipe.resolved.json", cfg.model_dump(mode="json"))
        _write_run_facts(run_dir, recipe_files, cfg)
    names = [s.name for s in stages]
    fps = stage_fingerprints(cfg, stages)
    for stage in stages:
        if only and stage.name not in only:
            continue
        out = stage_dir(run_dir, stage.name)
        marker = out / MARKER
        fp = fps[stage.name]
        if marker.is_file() and not force and not stage.always:
            done = json.loads(marker.read_text())
            if done.get("fingerprint") != fp:
                raise LinguabridgeError(
                    f"stage {stage.name!r} in {run_dir} was completed with a different config",
                    f"use a new --out directory, or --force to rerun it (changed: {', '.join(stage.config_keys)})",
                )
            note(f"[dim]skip {stage.name}: complete[/dim]")
            continue
        for dep in stage.after:
            if dep in names and not is_complete(run_dir, dep):
                raise LinguabridgeError(
                    f"stage {stage.name!r} needs {dep!r} first", f"run without --only, or add {dep}"
                )
        if not main and not stage.distributed:
            _wait_for(marker)
            continue
        if main:
            if out.exists() and (stage.clean_on_retry or force):
                shutil.rmtree(out)
            marker.unlink(missing_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        stage_start(stage.name)
        t0 = time.time()
        log_path = stage_log_path(out)
        try:
            with stage_output(log_path):  # library output goes to the stage's log.txt
                summary = stage.run(cfg, run_dir) or {}
        except BaseException:
            console.print(f"[red]{stage.name} failed[/red]; library output in {log_path}", highlight=False)
            raise
        elapsed = time.time() - t0
        if main:
            write_json(
                marker,
                {"stage": stage.name, "fingerprint": fp, "seconds": round(elapsed, 2), "summary": summary},
            )
            lines = stage.describe(summary, elapsed) if stage.describe else []
            stage_done(stage.name, elapsed, lines, log_path)
        else:
            _wait_for(marker)


def _write_run_facts(
    run_dir: Path, recipe_files: list[Path] | None = None, cfg: RunConfig | None = None
) -> None:
    from linguabridge.models.sources import source_facts

    facts = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "recipe_files": [str(p) for p in recipe_files or []],
        "world_size": world_size(),
    }
    if cfg is not None:  # for a GGUF or built-in model: which file was converted, and with what
        facts["base_model"] = source_facts(cfg.model.name_or_path)
        facts["tokenizer_source"] = source_facts(cfg.tokenizer.name_or_path)
    facts |= package_versions(
        ("linguabridge", "torch", "transformers", "trl", "accelerate", "datasets", "tokenizers", "lm-eval")
    )
    try:
        import torch

        facts["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    write_json(run_dir / "run_facts.json", facts)

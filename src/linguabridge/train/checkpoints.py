"""Checkpoints that survive a kill at any moment, resume that never trusts a damaged one, the final save.

:class:`AtomicCheckpointMixin` makes a Trainer write each checkpoint into ``checkpoints/.staging``, seal it with a
manifest (every file's size, optionally its sha256, plus caller facts such as the data position), and only then
rename it to ``checkpoints/checkpoint-N``. :func:`latest_checkpoint` resumes from the newest checkpoint whose
files still match its manifest; a corrupt one is moved to ``checkpoints/rejected/`` (kept for inspection, never
resumed from) and the previous one is used.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

from linguabridge.io import sha256_file, write_json
from linguabridge.tokenizer import make_portable
from linguabridge.train.distributed import is_main_process

MANIFEST = "linguabridge_checkpoint.json"
STAGING = ".staging"
REJECTED = "rejected"



def write_manifest(ckpt: Path, verify: str = "sha256", extra: dict | None = None) -> dict:
    """Seal a finished checkpoint directory: size (and sha256) of every file, written last."""
    files = {}
    for path in sorted(p for p in ckpt.rglob("*") if p.is_file() and p.name != MANIFEST):
        entry: dict = {"bytes": path.stat().st_size}
        if verify == "sha256":
            entry["sha256"] = sha256_file(path)
        files[str(path.relative_to(ckpt))] = entry
    manifest = {"verify": verify, "files": files, "written_at": time.time(), **(extra or {})}
    write_json(ckpt / MANIFEST, manifest)
    return manifest


def read_manifest(ckpt: str | Path) -> dict | None:
    try:
        return json.loads((Path(ckpt) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def checkpoint_problem(ckpt: Path) -> str | None:
    """Why ``ckpt`` cannot be resumed from, or None when it is sound."""
    manifest_path = ckpt / MANIFEST
    if manifest_path.exists():
        manifest = read_manifest(ckpt)
        if manifest is None:
            return f"{MANIFEST} is unreadable"
        for rel, entry in manifest["files"].items():
            path = ckpt / rel
            if not path.is_file():
                return f"{rel} is missing"
            if path.stat().st_size != entry["bytes"]:
                return f"{rel} has {path.stat().st_size} bytes, the manifest says {entry['bytes']}"
            if "sha256" in entry and sha256_file(path) != entry["sha256"]:
                return f"{rel} does not match its sha256"
        return None
    # Checkpoints written by a stock Trainer (no manifest): the files a resume needs must be there.
    for name in ("trainer_state.json", "optimizer.pt", "scheduler.pt"):
        if not (ckpt / name).is_file():
            return f"{name} is missing (no {MANIFEST} either)"
    if not any(ckpt.glob("*.safetensors")):
        return "no *.safetensors weights"
    try:
        json.loads((ckpt / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return "trainer_state.json is unreadable"
    return None


def _step_dirs(root: Path) -> list[Path]:
    return sorted(
        (p for p in root.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )


def latest_checkpoint(out_dir: Path, rejected: list[dict] | None = None) -> str | None:
    """Newest sound checkpoint under ``out_dir/checkpoints``; unsound ones are moved to ``rejected/`` (by
    the main process) and the previous one is used. ``rejected`` collects ``{checkpoint, reason}``."""
    ckpt_root = Path(out_dir) / "checkpoints"
    if not ckpt_root.is_dir():
        return None
    if is_main_process():
        shutil.rmtree(ckpt_root / STAGING, ignore_errors=True)  # a save that never finished
    for ckpt in reversed(_step_dirs(ckpt_root)):
        problem = checkpoint_problem(ckpt)
        if problem is None:
            return str(ckpt)
        if rejected is not None:
            rejected.append({"checkpoint": ckpt.name, "reason": problem})
        if is_main_process():
            target = ckpt_root / REJECTED / ckpt.name
            shutil.rmtree(target, ignore_errors=True)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(ckpt, target)
            (target / "REJECTED.txt").write_text(problem + "\n", encoding="utf-8")
    return None


def rotate(ckpt_root: Path, keep_last: int) -> None:
    """Delete all but the newest ``keep_last`` checkpoints (by step number, not mtime); 0 keeps all.

    The only retention (TrainingArguments gets no ``save_total_limit``). The Trainer's own rotation runs inside
    its save, before the new checkpoint is sealed and renamed (under the mixin it only sees ``.staging``), and it
    orders by mtime. Called after the rename, this never deletes the newest complete checkpoint, and the one a
    run resumed from goes only once ``keep_last`` newer sealed ones exist.
    """
    if keep_last <= 0:
        return
    for old in _step_dirs(ckpt_root)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)


class AtomicCheckpointMixin:
    """Mix into a ``transformers.Trainer``: checkpoints are staged, sealed with a manifest, then renamed.

    A kill at any moment leaves either the previous checkpoints or a complete new one; a half-written
    one stays in ``.staging`` and is discarded on resume. Subclasses may override
    :meth:`checkpoint_extra` to record facts (e.g. the data position) in the manifest.
    """

    _staging_root: str | None = None

    def __init__(self, *args, checkpoint_verify: str = "sha256", keep_last: int = 2, **kwargs):
        self.checkpoint_verify = checkpoint_verify
        self.keep_last = keep_last
        super().__init__(*args, **kwargs)

    def checkpoint_extra(self) -> dict:
        return {}

    def _get_output_dir(self, trial):
        if self._staging_root is not None:
            return self._staging_root
        return super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial):
        final_root = Path(super()._get_output_dir(trial))
        staging_root = final_root / STAGING
        name = f"checkpoint-{self.state.global_step}"
        if self.args.should_save:
            shutil.rmtree(staging_root, ignore_errors=True)
            staging_root.mkdir(parents=True, exist_ok=True)
        self.accelerator.wait_for_everyone()
        self._staging_root = str(staging_root)
        try:
            super()._save_checkpoint(model, trial)
        finally:
            self._staging_root = None
        extra = self.checkpoint_extra()  # may be collective: every process calls it
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            staged = staging_root / name
            make_portable(staged)  # before the manifest hashes it
            write_manifest(staged, self.checkpoint_verify, {"step": self.state.global_step, **extra})
            target = final_root / name
            if target.exists():  # the same step saved again (a resumed run re-reaching it)
                shutil.rmtree(target)
            os.replace(staged, target)
            shutil.rmtree(staging_root, ignore_errors=True)
            rotate(final_root, self.keep_last)
        self.accelerator.wait_for_everyone()


def step_of(checkpoint: str | None) -> int | None:
    return int(checkpoint.rsplit("-", 1)[-1]) if checkpoint else None


# ------------------------------------------------------------------------------------------ final save
def save_final(trainer, tokenizer, out_dir: Path, extra: dict | None = None) -> Path:
    """Save the final model + tokenizer atomically to ``out_dir/model`` (temporary directory, then rename).

    Every process takes part (sharded weights are gathered); only the main one writes and renames.
    """
    final = out_dir / "model"
    tmp = out_dir / "model.tmp"
    old = out_dir / "model.old"
    main = trainer.args.should_save
    if main:
        shutil.rmtree(tmp, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    trainer.save_model(str(tmp))
    if main:
        tokenizer.save_pretrained(str(tmp))
        make_portable(tmp)
        _for_inference(tmp)
        if extra:
            write_json(tmp / "linguabridge.json", extra)
        shutil.rmtree(old, ignore_errors=True)
        if final.exists():
            os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    trainer.accelerator.wait_for_everyone()
    return final


def _for_inference(folder: Path) -> None:
    """The final model is for inference: training turns the KV cache off (packed rows), the saved files must not.

    Patched in the saved JSON rather than on the live model, so that a resumed or sharded trainer is untouched."""
    for name in ("config.json", "generation_config.json"):
        path = folder / name
        if path.is_file():
            config = json.loads(path.read_text(encoding="utf-8"))
            if config.get("use_cache") is False:
                config["use_cache"] = True
                write_json(path, config)

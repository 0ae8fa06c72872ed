"""Shared fixtures: the real Qwen2 tokenizer (built once per session), ../shared data when present."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
if os.environ.get("LINGUABRIDGE_SHARED"):
    SHARED = Path(os.environ["LINGUABRIDGE_SHARED"])


@pytest.fixture(scope="session", autouse=True)
def _cache_dir(tmp_path_factory):
    """Keep the tokenizer cache inside pytest's temp area unless the user set one."""
    if "LINGUABRIDGE_CACHE" not in os.environ:
        os.environ["LINGUABRIDGE_CACHE"] = str(Path.home() / ".cache" / "linguabridge")
    os.environ.setdefault("LINGUABRIDGE_NO_TENSORBOARD", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from linguabridge.runtime import tune_malloc

    tune_malloc()  # as the CLI does: large logits buffers stay in the heap instead of page-faulting each step


@pytest.fixture(scope="session")
def qwen_tokenizer():
    from linguabridge.tokenizer import load_tokenizer

    return load_tokenizer("qwen2")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (CI data). Tests that need it skip cleanly when it is absent."""
    if not SHARED.is_dir():
        pytest.skip("../shared is not present (CI-only data)")
    return SHARED

"""Run task specs on lm-evaluation-harness: our scorer, lm-eval's HFLM (a model object; CPU or GPU) or vLLM.

lm-eval does the prompting and per-item metrics; scoring and generation are the backend's: ``linguabridge``
(``eval/lm_backend.py``, the default), ``hf`` (lm-eval's HFLM, the reference) or ``vllm``. This module
only builds its model wrapper and its inline task dicts (local files, offline) and hands back lm-eval's
results with the logged samples. We never call lm-eval's TaskManager over its built-in task directory
(indexing it costs ~20 s and its tasks would download from the Hub).
"""

from __future__ import annotations

import logging
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linguabridge import console
from linguabridge.config import EvalConfig
from linguabridge.errors import LinguabridgeError, require
from linguabridge.eval.tasks import TaskSpec


def lm_eval_version() -> str:
    import importlib.metadata as md

    return md.version("lm-eval")


@contextmanager
def _generation_cache(model):
    """Generation needs the KV cache, which training checkpoints switch off (packed sequences)."""
    config = getattr(model, "config", None)
    old = getattr(config, "use_cache", None)
    if config is not None:
        config.use_cache = True
    try:
        yield
    finally:
        if config is not None:
            config.use_cache = old


def _device(cfg: EvalConfig) -> str:
    import torch

    return cfg.device or ("cuda" if torch.cuda.is_available() else "cpu")


def hf_lm(model, tokenizer, cfg: EvalConfig):
    """lm-eval's HFLM around a loaded model (moved to ``cfg.device``, default cuda when available)."""
    from lm_eval.models.huggingface import HFLM

    model = model.to(_device(cfg)).eval()
    cls = HFLM if console.verbosity() == console.VERBOSE else _with_our_progress(HFLM)
    return cls(pretrained=model, tokenizer=tokenizer, batch_size=cfg.batch_size)


def _with_our_progress(cls):
    """``cls`` with lm-eval's per-request tqdm bars (it passes ``disable=`` itself, which overrides
    ``TQDM_DISABLE``) replaced by a line of our progress display per request type: count and time so far.
    Keeps the class name, which lm-eval records as the model's name in its results."""

    def with_progress(method):
        def call(self, requests, disable_tqdm: bool = True):
            with console.progress(method, len(requests), unit="requests") as bar:
                out = getattr(cls, method)(self, requests, disable_tqdm=disable_tqdm)
                bar.update(completed=len(requests))
            return out

        return call

    names = ("loglikelihood", "loglikelihood_rolling", "generate_until")
    return type(cls.__name__, (cls,), {name: with_progress(name) for name in names})


def linguabridge_lm(model, tokenizer, cfg: EvalConfig):
    """Our scorer as an lm-eval model, around a loaded model (on ``cfg.device``, default cuda when available)."""
    from linguabridge.eval.lm_backend import LinguabridgeLM

    return LinguabridgeLM(model, tokenizer, device=_device(cfg))


def vllm_lm(model_path: str | Path, cfg: EvalConfig):
    """lm-eval's vLLM wrapper: continuous batching, tensor (``tensor_parallel_size``) and data parallel."""
    require("vllm", "gpu")
    from lm_eval.models.vllm_causallms import VLLM

    return VLLM(
        pretrained=str(model_path),
        tensor_parallel_size=cfg.tensor_parallel_size,
        data_parallel_size=cfg.data_parallel_size,
        batch_size="auto",
        max_gen_toks=cfg.max_new_tokens,
        dtype="auto",
        seed=cfg.fewshot_seed,
        load_format="safetensors",  # never unpickle *.bin/*.pt weights (vLLM's "auto" falls back to them)
    )


@contextmanager
def build_lm(model, tokenizer, cfg: EvalConfig, model_path: str | Path | None = None):
    """The lm-eval LM for ``cfg.backend``; vLLM loads from a path (a model object is saved to a temp dir)."""
    if cfg.backend in ("linguabridge", "hf"):
        if model is None:
            raise LinguabridgeError(
                f"the {cfg.backend} backend needs a loaded model", "pass model= (or use --model PATH)"
            )
        make = linguabridge_lm if cfg.backend == "linguabridge" else hf_lm
        with _generation_cache(model):
            yield make(model, tokenizer, cfg)
        return
    if model_path is None:
        with tempfile.TemporaryDirectory(prefix="lb-vllm-") as tmp:
            model.save_pretrained(tmp, safe_serialization=True)
            tokenizer.save_pretrained(tmp)
            yield vllm_lm(tmp, cfg)
        return
    yield vllm_lm(model_path, cfg)


def run_specs(lm, specs: list[TaskSpec], cfg: EvalConfig) -> dict[str, Any]:
    """Evaluate ``specs`` in one lm-eval call (requests of every task are batched together).

    Returns lm-eval's output: ``results[task]["<metric>,none"]``, ``samples[task]`` (per-item arguments and
    responses), ``n-samples[task]["effective"]``.
    """
    from lm_eval import evaluator
    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    configs = [spec.lm_eval_config() for spec in specs]
    manager = TaskManager(include_defaults=False)  # inline dicts only: nothing from the Hub
    out = evaluator.simple_evaluate(
        model=lm,
        tasks=configs,
        task_manager=manager,
        limit=cfg.limit,
        bootstrap_iters=1000,  # closed-form stderr for means; our corpus metrics report none
        log_samples=True,
        apply_chat_template=cfg.chat_template,
        fewshot_as_multiturn=cfg.chat_template,
        random_seed=cfg.fewshot_seed,
        numpy_random_seed=cfg.fewshot_seed,
        torch_random_seed=cfg.fewshot_seed,
        fewshot_random_seed=cfg.fewshot_seed,
    )
    if out is None:  # only non-zero ranks get None
        raise LinguabridgeError("lm-eval returned no results on this rank", "run evaluation in one process")
    return out

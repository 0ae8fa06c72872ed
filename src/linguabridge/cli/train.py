"""``linguabridge train ...``: the training stages of a run, the budget planner, vocabulary extension."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from linguabridge.cli.common import SetOpt, load_cli_recipe, out

app = typer.Typer(help="Training stages: CPT stage I/II, SFT, DPO; budget planning.", no_args_is_help=True)


@app.command("stage")
def stage(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML.")],
    stage: Annotated[str, typer.Option(help="cpt_stage1, cpt_stage2, sft or dpo.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Run directory holding the earlier stages.")],
    set_: SetOpt = None,
) -> None:
    """Run one training stage of a run (its inputs must be complete); resumes from its last checkpoint.

    Multi-GPU / multi-node: launch this command with torchrun or `accelerate launch` (configs and a Slurm
    example in recipes/launch/); every process runs the stage, the first one writes the outputs.

    Example: linguabridge train stage recipes/marco/run.yaml --stage cpt_stage2 --out runs/marco
    """
    from linguabridge import api

    out.print(f"model: {api.train_stage(recipe, stage, out_dir, overrides=set_)}")


@app.command("plan")
def plan(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML (or a built-in name: demo, marco).")],
    stage: Annotated[
        list[str] | None,
        typer.Option(help="CPT stage to plan (repeatable); default: cpt_stage1 and cpt_stage2."),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            help="Model size (qwen2-0.5b, qwen2-1.5b, qwen2-7b, qwen2-72b) or a dir with config.json; "
            "default: the recipe's model."
        ),
    ] = None,
    gpu: Annotated[str, typer.Option(help="GPU type: h100, h200, b200, a100, l40s, l4, mi300x.")] = "h100",
    mfu: Annotated[float, typer.Option(help="Model FLOPs utilisation to assume (0-1).")] = 0.4,
    gpus: Annotated[
        int, typer.Option(help="Number of GPUs (sets gradient accumulation and wall-clock).")
    ] = 8,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    set_: SetOpt = None,
) -> None:
    """Print each CPT stage's steps, tokens, FLOPs and estimated GPU-hours for a model size, GPU and MFU.

    Example: linguabridge train plan recipes/marco/run.yaml --model qwen2-72b --gpu h100 --gpus 64
    """
    from linguabridge.train.budget import plan_budget

    cfg = load_cli_recipe(recipe, set_)
    result = plan_budget(cfg, stage, model, gpu, mfu, gpus)
    if as_json:
        print(json.dumps(result, indent=2))
        return
    out.print(
        f"model {result['model']} ({result['params'] / 1e9:.2f}B params), {gpus} x {gpu} "
        f"({result['peak_tflops']:.0f} TFLOP/s bf16 peak) at {mfu:.0%} MFU"
    )
    head = ("stage", "tokens", "seq", "batch", "tok/step", "steps", "FLOPs", "GPU-hours", "days")
    lines = [head] + [
        (
            r["stage"],
            _human(r["trained_tokens"]),
            str(r["seq_len"]),
            str(r["global_batch_sequences"]),
            _human(r["tokens_per_step"]),
            f"{r['steps']:,}",
            f"{r['flops']:.2e}",
            f"{r['gpu_hours']:,.1f}",
            f"{r['wall_clock_hours'] / 24:,.1f}",
        )
        for r in result["stages"]
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    for line in lines:  # plain aligned text: readable in any terminal width and in logs
        print(
            "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))
            )
        )
    out.print(f"total: {_human(result['total_tokens'])} tokens, {result['total_gpu_hours']:,.0f} GPU-hours")


def _human(n: float) -> str:
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if n >= size:
            return f"{n / size:.1f}{unit}"
    return f"{n:.0f}"


@app.command("extend-vocab")
def extend_vocab(
    corpus: Annotated[list[Path], typer.Argument(help="JSONL files (or folders) of documents with 'text'.")],
    out_dir: Annotated[Path, typer.Option("--out", help="Where to write the extended model and tokenizer.")],
    model: Annotated[str, typer.Option(help="Base model: HF directory/name or tiny-qwen2.")] = "tiny-qwen2",
    tokenizer: Annotated[str, typer.Option(help="Base tokenizer: qwen2 or an HF directory/name.")] = "qwen2",
    language: Annotated[
        str | None, typer.Option(help="Only documents whose metadata.language is this.")
    ] = None,
    new_tokens: Annotated[int, typer.Option(help="How many tokens to add at most.")] = 1000,
) -> None:
    """Add tokens learnt from a language's corpus; new embeddings start as the mean of their sub-tokens.

    Then point model.name_or_path and tokenizer.name_or_path at --out, and consider
    cpt_stage1.embeddings_warmup_steps to train only the embeddings first.

    Example: linguabridge train extend-vocab runs/demo/data/web/kept --language th --new-tokens 2000 --out vocab-th/
    """
    from linguabridge.config import ModelConfig
    from linguabridge.data.records import Document, read_documents
    from linguabridge.errors import LinguabridgeError
    from linguabridge.io import write_json
    from linguabridge.languages import canonical
    from linguabridge.models import load_model
    from linguabridge.tokenizer import load_tokenizer, make_portable
    from linguabridge.train.vocab import extend_vocabulary

    want = canonical(language) if language else None
    texts = [
        d.text
        for d in read_documents(corpus)
        if isinstance(d, Document) and (want is None or canonical(d.metadata.get("language", "und")) == want)
    ]
    if not texts:
        raise LinguabridgeError(
            f"no documents{' in ' + want if want else ''} in {', '.join(map(str, corpus))}",
            "give JSONL with 'text' (and metadata.language when --language is used)",
        )
    base = load_tokenizer(tokenizer)
    lm = load_model(ModelConfig(name_or_path=model), vocab_size=len(base))
    result = extend_vocabulary(lm, base, texts, new_tokens)
    out_dir.mkdir(parents=True, exist_ok=True)
    result["model"].save_pretrained(str(out_dir))
    result["tokenizer"].save_pretrained(str(out_dir))
    make_portable(out_dir)
    report = {
        k: result[k]
        for k in ("added", "first_id", "embedding_rows", "tokens_per_byte_before", "tokens_per_byte_after")
    }
    report["documents"] = len(texts)
    write_json(out_dir / "vocab_extension.json", report)
    out.print(
        f"added {len(result['added'])} tokens (ids {result['first_id']}..{result['first_id'] + len(result['added']) - 1}); "
        f"tokens per byte {result['tokens_per_byte_before']:.3f} -> {result['tokens_per_byte_after']:.3f}; wrote {out_dir}"
    )

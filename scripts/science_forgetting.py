"""Tiny-scale check of Marco-LLM's mechanism: replaying high-resource data during continual pretraining
limits forgetting while the new languages are learnt.

1. Pretrain a tiny Qwen2 (random init) on two "high-resource" languages only (English, Chinese).
2. From that model, continually pretrain with the same budget and learning rate:
   (a) on the new languages alone;
   (b) on a Marco-style replay mixture (stage I keeps en+zh at 49%: here 30% en, 20% zh, 50% new).
3. Compare held-out loss per language before and after: forgetting = the rise on en/zh, learning = the
   drop on the new languages. Everything runs through the real CPT runner (forgetting guard included).

Text: the bundled demo corpus (default), or any JSONL with ``text`` + ``language`` (``--corpus``, e.g.
../shared/data/udhr/udhr-articles-1-15.jsonl). Runs on CPU in a few minutes:

  python scripts/science_forgetting.py --out runs/science_forgetting
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # run from a checkout without installing
# the small CPT setups (toy corpus, small tokenizer, tiny model) are test scaffolding, kept in tests/
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

HIGH = ["eng_Latn", "zho_Hans"]
NEW = ["tha_Thai", "npi_Deva", "kaz_Cyrl", "ell_Grek"]


def train(cfg_kw: dict, shares: dict, steps: int, tokens_dir: Path, model, tok, out: Path, seed: int) -> dict:
    import toy_cpt as toy
    from linguabridge.config import CPTConfig, OptimConfig
    from linguabridge.train.cpt import run_cpt

    optim = OptimConfig(lr=cfg_kw["lr"], warmup_ratio=0.05, min_lr_ratio=0.1, weight_decay=0.0)
    cfg = CPTConfig(
        seq_len=cfg_kw["seq_len"],
        micro_batch_size=cfg_kw["micro_batch"],
        optim=optim,
        save_every=10**6,  # no intermediate checkpoints: this is a measurement, not a long run
        log_every=10,
        eval_every=cfg_kw["eval_every"],
        eval_docs_per_language=50,
        forgetting_languages=HIGH,
        forgetting_margin=0.05,
        checkpoint_verify="size",
    )
    plan = toy.stage_plan(out.name, shares, steps * cfg.seq_len * cfg.micro_batch_size)
    return run_cpt(cfg, plan, tokens_dir, model, tok, out, seed)


def one_seed(args, docs: dict, seed: int, work: Path) -> dict:
    from transformers import AutoModelForCausalLM

    import toy_cpt as toy

    tok = toy.small_tokenizer([t for v in docs.values() for t in v], args.vocab)
    tokens_dir = toy.build_tokens(docs, tok, work, heldout_per_language=args.heldout, seed=seed)
    kw = {
        "lr": args.lr,
        "seq_len": args.seq_len,
        "micro_batch": args.micro_batch,
        "eval_every": args.eval_every,
    }
    model = toy.tiny_qwen2(len(tok), tok.eos_token_id, hidden=args.hidden, layers=args.layers, seed=seed)
    base = train(
        kw, {lang: 1.0 for lang in HIGH}, args.pretrain_steps, tokens_dir, model, tok, work / "pretrain", seed
    )
    runs = {"pretrain": base}
    mixtures = {
        "a_new_only": {lang: 1.0 / len(args.new) for lang in args.new},
        "b_replay": {"eng_Latn": 0.30, "zho_Hans": 0.20, **{lang: 0.50 / len(args.new) for lang in args.new}},
    }
    for name, shares in mixtures.items():
        start = AutoModelForCausalLM.from_pretrained(str(work / "pretrain" / "model"))
        runs[name] = train(kw, shares, args.cpt_steps, tokens_dir, start, tok, work / name, seed)
    return {
        name: {k: r[k] for k in ("heldout_start", "heldout_end", "forgetting_guard")}
        for name, r in runs.items()
    }


def summarise(results: list[dict], new: list[str]) -> dict:
    """Mean over seeds of the held-out loss change per language, forgetting and learning per run."""
    out = {}
    for name in ("a_new_only", "b_replay"):
        per_lang = {}
        for lang in HIGH + new:
            before = [r[name]["heldout_start"][lang]["loss"] for r in results]
            after = [r[name]["heldout_end"][lang]["loss"] for r in results]
            per_lang[lang] = {
                "before": statistics.mean(before),
                "after": statistics.mean(after),
                "delta": statistics.mean(a - b for a, b in zip(after, before, strict=True)),
                "before_bpb": statistics.mean(r[name]["heldout_start"][lang]["bpb"] for r in results),
                "after_bpb": statistics.mean(r[name]["heldout_end"][lang]["bpb"] for r in results),
            }
        forgetting = [
            statistics.mean(
                r[name]["heldout_end"][x]["loss"] - r[name]["heldout_start"][x]["loss"] for x in HIGH
            )
            for r in results
        ]
        learning = [
            statistics.mean(
                r[name]["heldout_start"][x]["loss"] - r[name]["heldout_end"][x]["loss"] for x in new
            )
            for r in results
        ]
        out[name] = {
            "languages": per_lang,
            "forgetting_high": statistics.mean(forgetting),  # mean rise of en/zh held-out loss (nats/token)
            "forgetting_high_per_seed": forgetting,
            "learning_new": statistics.mean(learning),  # mean drop of the new languages' held-out loss
            "learning_new_per_seed": learning,
            "guard_events": sum(len(r[name]["forgetting_guard"]["events"]) for r in results),
        }
    a, b = out["a_new_only"], out["b_replay"]
    out["verdict"] = {
        "replay_forgets_less_every_seed": all(
            y < x for x, y in zip(a["forgetting_high_per_seed"], b["forgetting_high_per_seed"], strict=True)
        ),
        "replay_learns_new_languages": all(v > 0 for v in b["learning_new_per_seed"]),
        "forgetting_ratio_b_over_a": b["forgetting_high"] / a["forgetting_high"]
        if a["forgetting_high"]
        else None,
    }
    return out


def markdown(summary: dict, args, seconds: float) -> str:
    lines = [
        "# Replay vs new-languages-only continual pretraining (tiny scale)",
        "",
        f"Tiny Qwen2 ({args.layers} layers, hidden {args.hidden}, vocab {args.vocab}), pretrained {args.pretrain_steps} "
        f"steps on {', '.join(HIGH)}; then {args.cpt_steps} CPT steps of {args.micro_batch}x{args.seq_len} tokens at "
        f"LR {args.lr}. Seeds: {', '.join(map(str, args.seeds))}. Held-out loss in nats/token (mean over seeds). "
        f"Wall time {seconds / 60:.1f} min on {os.cpu_count()} CPU cores.",
        "",
        "| language | group | before | (a) new only | (b) replay | Δ (a) | Δ (b) |",
        "|---|---|---|---|---|---|---|",
    ]
    a, b = summary["a_new_only"]["languages"], summary["b_replay"]["languages"]
    for lang in a:
        group = "high" if lang in HIGH else "new"
        lines.append(
            f"| {lang} | {group} | {a[lang]['before']:.3f} | {a[lang]['after']:.3f} | {b[lang]['after']:.3f} "
            f"| {a[lang]['delta']:+.3f} | {b[lang]['delta']:+.3f} |"
        )
    sa, sb = summary["a_new_only"], summary["b_replay"]
    lines += [
        "",
        f"- forgetting (mean rise on en/zh): (a) {sa['forgetting_high']:+.3f}, (b) {sb['forgetting_high']:+.3f}",
        f"- learning (mean drop on new languages): (a) {sa['learning_new']:+.3f}, (b) {sb['learning_new']:+.3f}",
        f"- forgetting-guard events (5% margin on en/zh): (a) {sa['guard_events']}, (b) {sb['guard_events']}",
        f"- verdict: {json.dumps(summary['verdict'])}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", type=Path, default=Path("runs/science_forgetting"))
    p.add_argument("--corpus", default="demo", help="'demo' or a JSONL file with text + language")
    p.add_argument("--new", nargs="+", default=NEW, help="the new languages")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--vocab", type=int, default=2048)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--seq-len", type=int, default=128)
    p.add_argument("--micro-batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--pretrain-steps", type=int, default=150)
    p.add_argument("--cpt-steps", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=25)
    p.add_argument("--heldout", type=int, default=3, help="held-out documents per language")
    args = p.parse_args(argv)
    os.environ.setdefault("LINGUABRIDGE_NO_TENSORBOARD", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    import toy_cpt as toy

    wanted = HIGH + args.new
    docs = toy.demo_corpus(wanted) if args.corpus == "demo" else toy.jsonl_corpus(args.corpus, wanted)
    missing = [lang for lang in wanted if len(docs.get(lang, [])) <= 2 * args.heldout]
    if missing:
        raise SystemExit(f"too few documents for {missing} in {args.corpus}")
    t0 = time.time()
    results = [one_seed(args, docs, seed, args.out / f"seed{seed}") for seed in args.seeds]
    summary = summarise(results, args.new)
    seconds = time.time() - t0
    report = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()}, "seconds": seconds,
              "summary": summary, "per_seed": results}  # fmt: skip
    (args.out / "results.json").write_text(json.dumps(report, indent=2) + "\n")
    md = markdown(summary, args, seconds)
    (args.out / "results.md").write_text(md)
    print(md)
    return report


if __name__ == "__main__":
    main()

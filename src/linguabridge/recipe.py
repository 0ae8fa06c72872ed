"""Reading a recipe: YAML files with ``inherit``, ``--set`` overrides, validation into a :class:`RunConfig`.

A recipe is one YAML file whose top-level keys are the sections of :class:`RunConfig` (config.py). A file may
``inherit`` other files (paths relative to itself, merged in order, the file's own keys last), so the Marco
recipe is a set of small per-stage files (``mixture.yaml``, ``cpt_stage1.yaml``...) that are also loadable
alone. Every problem is one :class:`ConfigError` line naming the ``--set`` or the file and line it came from,
with a "did you mean" for unknown keys; ``inherit`` never reads outside the recipe's folder.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from linguabridge.config import CPT_STAGES, POST_STAGES, CPTConfig, PostTrainConfig, RunConfig
from linguabridge.errors import ConfigError, did_you_mean


def _deep_merge(base: dict, top: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


class _RecipeLoader(yaml.SafeLoader):
    """``yaml.safe_load`` that refuses a key written twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                if isinstance(key, (dict, list)) or key == "<<":  # unhashable keys fail later; merge keys
                    continue
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"key {key!r} is written twice in one section", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _parse_yaml(text: str, where: str, lines: bool = True):
    """Parse recipe YAML; a syntax error becomes a one-line ConfigError at ``where:line`` (no file content)."""
    try:
        return yaml.load(text, Loader=_RecipeLoader)  # noqa: S506 -- _RecipeLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"{where}:{mark.line + 1}" if mark is not None and lines else where
        problem = getattr(exc, "problem", None) or type(exc).__name__
        raise ConfigError(f"{at}: invalid YAML ({problem})", "fix the YAML syntax") from None


def _recipe_roots(top: Path) -> list[Path]:
    """Folders an ``inherit`` may read from: the top recipe's folder, the built-in recipes, and any folder
    listed in ``$LINGUABRIDGE_RECIPE_ROOTS`` (``os.pathsep``-separated) -- never the rest of the machine."""
    import os

    roots = [top.parent, Path(__file__).resolve().parents[2] / "recipes"]
    roots += [Path(p).resolve() for p in os.environ.get("LINGUABRIDGE_RECIPE_ROOTS", "").split(os.pathsep) if p]
    return roots


def _inherited_paths(raw: dict, path: Path, top: Path) -> list[Path]:
    parents = raw.pop("inherit", []) or []
    if isinstance(parents, str):
        parents = [parents]
    if not isinstance(parents, list) or not all(isinstance(p, str) and p for p in parents):
        raise ConfigError(f"{path}: 'inherit' must be a path or a list of paths", "e.g. inherit: [mixture.yaml]")
    out = []
    roots = _recipe_roots(top)
    for parent in parents:
        target = (path.parent / parent).resolve()
        if target.suffix not in (".yaml", ".yml"):
            raise ConfigError(f"{path}: inherit {parent!r} is not a .yaml recipe", "inherit recipe files only")
        if not any(target.is_relative_to(root.resolve()) for root in roots):
            raise ConfigError(
                f"{path}: inherit {parent!r} is outside the recipe's folder {top.parent}",
                "move it into that folder, or allow its folder with LINGUABRIDGE_RECIPE_ROOTS=/path/to/folder",
            )
        out.append(target)
    return out


def _read_yaml(path: Path, _seen: tuple[Path, ...] = (), _top: Path | None = None) -> tuple[dict, list[Path]]:
    """Read a recipe with its ``inherit`` chain; returns the merged dict and every file read (in order)."""
    path = path.resolve()
    top = _top or path
    if path in _seen:
        raise ConfigError(f"{path}: inherit cycle", "remove the circular 'inherit' entry")
    if path.is_dir():
        raise ConfigError(f"{path} is a folder, not a recipe file", f"pass a file, e.g. {path / 'run.yaml'}")
    if not path.is_file():
        raise ConfigError(f"recipe file not found: {path}", "check the path (recipes live in recipes/)")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start})", "a recipe is a YAML text file saved as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})", "check the file's permissions") from None
    raw = _parse_yaml(text, str(path)) or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a recipe must be a mapping of sections", "see recipes/demo/run.yaml")
    merged: dict = {}
    files: list[Path] = []
    for parent in _inherited_paths(raw, path, top):
        data, read = _read_yaml(parent, _seen + (path,), top)
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
        key, _, text = item.partition("=")
        value = _parse_yaml(text, f"--set {item!r}", lines=False)
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
                    node[int(part)] = value
                else:
                    node = node[int(part)]
            elif isinstance(node, dict):
                if last:
                    node[part] = value
                else:
                    node = node.setdefault(part, {})
            else:
                raise ConfigError(
                    f"override {item!r}: {parts[i - 1]!r} is not a section", "override a leaf key"
                )
    return data


def _override_of(overrides: list[str], loc: tuple) -> str | None:
    """The last ``--set`` that wrote ``loc`` (or a section holding it), as the place to name in an error."""
    dotted = ".".join(str(p) for p in loc)
    for item in reversed(overrides):
        key = item.partition("=")[0].strip()
        if dotted == key or dotted.startswith(key + ".") or key.startswith(dotted + "."):
            return f"--set {item}"
    return None


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


# Keys older recipes used, and where they live now (the error names the new place).
MOVED_KEYS = {
    "data.sft": "conversations",
    "data.synthetic": "synthetic",
    "data.languages": "languages (top level; data.languages was never read)",
    **{
        f"{stage}.lora": f"{stage}.post.lora: {{}} (a LoRA section, {{}} for the default shape; "
        "leave it out for full fine-tuning)"
        for stage in ("sft", "dpo")
    },
}
# Keys that no longer exist, and why (the error says so instead of a bare "unknown key").
REMOVED_KEYS = {
    "synthetic.backoff_s": "remove it: retries wait as the openai client does (0.5 s doubling to 8 s, or the "
    "server's Retry-After), at most synthetic.retry_wait_max_s; synthetic.max_retries still sets how many",
}


def _other_stage_hint(loc: tuple) -> str | None:
    """A CPT-only key set on SFT/DPO (or the reverse): say which stages take it."""
    if len(loc) != 2:
        return None
    stage, key = loc
    for own, other, cls in ((POST_STAGES, CPT_STAGES, CPTConfig), (CPT_STAGES, POST_STAGES, PostTrainConfig)):
        if stage in own and key in cls.model_fields:
            return f"{key!r} is a key of {' and '.join(other)} only: remove it from {stage}"
    return None


def validate_recipe(
    data: dict, files: list[Path] | None = None, overrides: list[str] | None = None
) -> RunConfig:
    """Validate a merged recipe dict; the first problem becomes a one-line :class:`ConfigError` that names
    where the value came from: the ``--set`` that gave it, else the file and line that wrote it."""
    files = files or []
    try:
        return RunConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        dotted = ".".join(str(p) for p in loc) or "<recipe>"
        where = _override_of(overrides or [], loc) or _yaml_line(files, loc)
        if err["type"] == "extra_forbidden":
            if dotted in REMOVED_KEYS:
                raise ConfigError(f"{where}: {dotted!r} is no longer a setting", REMOVED_KEYS[dotted]) from None
            if dotted in MOVED_KEYS:
                moved = f"write it as {MOVED_KEYS[dotted]!r}"
                raise ConfigError(f"{where}: {dotted!r} has moved", moved) from None
            hint = _other_stage_hint(loc) or did_you_mean(str(loc[-1]), _field_names(loc)) or "remove it"
            raise ConfigError(f"{where}: unknown key {dotted!r}", hint) from None
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{where}: {dotted}: {msg}", "fix the value in the recipe or with --set") from None


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Load, merge, override and validate a recipe. Raises :class:`ConfigError` with file:line on problems."""
    data, files = _read_yaml(Path(path))
    data = apply_overrides(data, overrides or [])
    return validate_recipe(data, files, overrides)


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


def resolve_recipe(path: str) -> Path:
    """A recipe path as given, or the file of a built-in recipe named ``demo`` / ``marco``."""
    p = Path(path)
    if not p.exists() and "/" not in path and not path.endswith((".yaml", ".yml")):
        p = builtin_recipe(path)
    return p

"""Fetch Debian packages with ``apt-get download`` and unpack them with ``dpkg-deb -x``, cached, with a manifest.

Nothing is installed: the ``.deb`` is downloaded as a file and extracted into ``<cache>/pkgs/<name>_<version>/``.
The manifest (``<cache>/manifest.json``) records each package's name, version, architecture and the sha256 of
the ``.deb``; a second call with the same names finds every package there and runs no command at all. Pinning
the versions of an earlier manifest (``versions=``) fetches exactly those (``apt-get download NAME=VERSION``),
so a corpus can be rebuilt from the same bytes elsewhere while the archive still has them.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from linguabridge.errors import LinguabridgeError, UnknownLanguageError
from linguabridge.io import sha256_file, write_json
from linguabridge.languages import get_language

MANIFEST = "manifest.json"


# Locale names whose region decides the script (get_language alone maps every zh_* to Simplified).
_LOCALE_LANGUAGE = {
    "zh_CN": "zho_Hans",
    "zh_SG": "zho_Hans",
    "zh_Hans": "zho_Hans",
    "zh_TW": "zho_Hant",
    "zh_HK": "zho_Hant",
    "zh_Hant": "zho_Hant",
}


def locale_language(locale: str) -> str | None:
    """FLORES code of a Debian locale folder name (``de``, ``pt_BR``, ``zh_TW``, ``fr.UTF-8``); None for
    variants such as ``sr@latin``, the ``C``/``POSIX`` locales and names the registry does not know."""
    locale = locale.split(".", 1)[0]  # "de.UTF-8": the charset is not part of the language
    if "@" in locale or locale in ("C", "POSIX", ""):
        return None
    if locale in _LOCALE_LANGUAGE:
        return _LOCALE_LANGUAGE[locale]
    try:
        return get_language(locale).code
    except UnknownLanguageError:
        return None


def locale_rank(locale: str) -> tuple[int, str]:
    """Sort key among locale folders of one language: the plain one (``de``) before regional overlays
    (``de_CH``, ``de_AT``), which hold only what differs and are not full translations."""
    plain = locale in _LOCALE_LANGUAGE or "_" not in locale.split(".", 1)[0]
    return (0 if plain else 1, locale)


@dataclass(frozen=True)
class Package:
    """One fetched and unpacked package; ``root`` is relative to the cache folder."""

    name: str
    version: str
    architecture: str
    sha256: str
    deb: str
    root: str

    def to_json(self) -> dict:
        return asdict(self)


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise LinguabridgeError(
            f"{name!r} is not on PATH: Debian packages cannot be fetched here",
            "run on a Debian/Ubuntu machine (apt and dpkg), or copy a built corpus folder here",
        )
    return path


def _run(cmd: list[str], cwd: Path | None = None, hint: str = "rerun; the cache keeps what finished") -> str:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        lines = proc.stderr.strip().splitlines() or ["no output"]
        said = lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"
        raise LinguabridgeError(f"`{' '.join(cmd)}` failed: {said}", hint)
    return proc.stdout



def read_manifest(cache_dir: str | Path) -> dict[str, Package]:
    path = Path(cache_dir) / MANIFEST
    if not path.exists():
        return {}
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))["packages"]
        return {r["name"]: Package(**r) for r in rows}
    except (ValueError, KeyError, TypeError) as exc:
        raise LinguabridgeError(
            f"{path}: not a package manifest ({exc})", "delete the file to fetch the packages again"
        ) from None


def _write_manifest(cache_dir: Path, packages: Mapping[str, Package]) -> None:
    write_json(cache_dir / MANIFEST, {"packages": [packages[n].to_json() for n in sorted(packages)]})


def _fetch_one(name: str, version: str | None, cache_dir: Path) -> Package:
    apt, dpkg = _tool("apt-get"), _tool("dpkg-deb")
    debs = cache_dir / "debs"
    staging = debs / f".download-{name}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _run(
        [apt, "download", f"{name}={version}" if version else name],
        cwd=staging,
        hint="check the name and version with `apt-cache policy NAME` (after `apt-get update` if it knows none)",
    )
    found = sorted(staging.glob("*.deb"))
    if len(found) != 1:
        raise LinguabridgeError(f"apt-get download {name} gave {len(found)} .deb files", "rerun the command")
    fields = dict(
        line.split(": ", 1)
        for line in _run([dpkg, "-f", str(found[0]), "Package", "Version", "Architecture"]).splitlines()
        if ": " in line
    )
    deb = debs / found[0].name
    found[0].replace(deb)
    staging.rmdir()
    pkg_version = fields.get("Version", "unknown")
    if version and pkg_version != version:
        raise LinguabridgeError(
            f"apt-get download {name}={version} gave version {pkg_version}", "check the pinned version"
        )
    root = Path("pkgs") / f"{name}_{pkg_version}".replace(":", "%3a")  # epochs ("1:2.3") are not path-safe
    target = cache_dir / root
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.parent.mkdir(parents=True, exist_ok=True)  # dpkg-deb creates the folder, not its parents
    _run([dpkg, "-x", str(deb), str(tmp)])
    shutil.rmtree(target, ignore_errors=True)
    tmp.replace(target)  # only a complete extraction gets the final name
    return Package(name, pkg_version, fields.get("Architecture", ""), sha256_file(deb), deb.name, str(root))


def fetch_packages(
    names: Iterable[str], cache_dir: str | Path, versions: Mapping[str, str] | None = None
) -> list[Package]:
    """Fetch and unpack ``names`` into ``cache_dir`` (what the manifest already has is reused as is).

    A package already in the manifest with its folder present is not fetched again, unless ``versions``
    pins another version for it. The manifest is rewritten after each fetched package, so an interrupted
    call keeps what it finished.
    """
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    have = read_manifest(cache_dir)
    versions = dict(versions or {})
    out: list[Package] = []
    for name in dict.fromkeys(names):  # keep order, drop repeats
        pkg = have.get(name)
        pinned = versions.get(name)
        if pkg is None or not (cache_dir / pkg.root).is_dir() or (pinned and pinned != pkg.version):
            pkg = _fetch_one(name, pinned, cache_dir)
            have[name] = pkg
            _write_manifest(cache_dir, have)
        out.append(pkg)
    return out


__all__ = [
    "MANIFEST",
    "Package",
    "fetch_packages",
    "locale_language",
    "locale_rank",
    "read_manifest",
    "sha256_file",
]

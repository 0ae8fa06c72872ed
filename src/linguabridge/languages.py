"""The language registry: a language is a typed value with a canonical FLORES-200 code.

Canonical codes are ``iso639-3_Script`` (``tha_Thai``, ``zho_Hans``). Input may also use ISO 639-1
(``th``), a bare ISO 639-3 code when it is unambiguous (``tha``), BCP-47-like forms (``zh-Hans``, ``zh_CN``)
or a few macrolanguage aliases (``cmn_Hani`` as FineWeb-2 spells Chinese). Per-language knowledge lives in
``assets/languages.tsv``, not in code.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import cache
from typing import Literal

from linguabridge.errors import UnknownLanguageError, did_you_mean
from linguabridge.io import read_asset_table

Tier = Literal["high", "low"]

# Aliases that no column of the table gives (macrolanguages, FineWeb-2 / fastText spellings, locales).
_EXTRA_ALIASES = {
    "cmn_hani": "zho_Hans",
    "cmn": "zho_Hans",
    "zho": "zho_Hans",
    "zh-cn": "zho_Hans",
    "zh_cn": "zho_Hans",
    "zh-hans": "zho_Hans",
    "zh-tw": "zho_Hant",
    "zh_tw": "zho_Hant",
    "zh-hant": "zho_Hant",
    "ara": "arb_Arab",
    "msa": "zsm_Latn",
    "may": "zsm_Latn",
    "aze": "azj_Latn",
    "nep": "npi_Deva",
    "fas": "pes_Arab",
    "per": "pes_Arab",
    "lav": "lvs_Latn",
    "swa": "swh_Latn",
    "uzb": "uzn_Latn",
    "mon": "khk_Cyrl",
    "pt-br": "por_Latn",
    "pt-pt": "por_Latn",
}


@dataclass(frozen=True)
class Language:
    """One language in one script."""

    code: str  # canonical FLORES-200 code, e.g. "tha_Thai"
    iso639_1: str | None  # "th", or None
    name: str  # English name
    native_name: str | None
    script: str  # script name in words ("Thai", "Latin", ...)
    tier: Tier | None  # Marco-LLM tier, None for languages outside the 29

    @property
    def iso639_3(self) -> str:
        return self.code.split("_")[0]

    @property
    def script_code(self) -> str:
        """ISO 15924 code: ``Thai``, ``Latn``, ``Hans`` ..."""
        return self.code.split("_")[1]

    @property
    def is_marco(self) -> bool:
        return self.tier is not None

    def to_dict(self) -> dict:
        return asdict(self) | {"iso639_3": self.iso639_3, "script_code": self.script_code}

    def __str__(self) -> str:
        return self.code


@cache
def _table() -> tuple[dict[str, Language], dict[str, str]]:
    """Languages by canonical code, and every accepted spelling (lower-case) -> canonical code."""
    by_code: dict[str, Language] = {}
    for row in read_asset_table("languages.tsv"):
        lang = Language(
            code=row["code"],
            iso639_1=row["iso639_1"] or None,
            name=row["name"],
            native_name=row["native_name"] or None,
            script=row["script"],
            tier=row["tier"] or None,  # type: ignore[arg-type]
        )
        by_code[lang.code] = lang
    aliases: dict[str, str] = {}
    iso3_count: dict[str, int] = {}
    for lang in by_code.values():
        iso3_count[lang.iso639_3] = iso3_count.get(lang.iso639_3, 0) + 1
    for lang in by_code.values():
        aliases[lang.code.lower()] = lang.code
        if iso3_count[lang.iso639_3] == 1:
            aliases.setdefault(lang.iso639_3, lang.code)
    for lang in by_code.values():  # ISO 639-1 last: it wins over nothing but fills gaps
        if lang.iso639_1:
            aliases.setdefault(lang.iso639_1.lower(), lang.code)
    for alias, code in _EXTRA_ALIASES.items():
        if code in by_code:
            aliases.setdefault(alias, code)
    return by_code, aliases


def get_language(code: str | Language) -> Language:
    """Resolve any accepted spelling to a :class:`Language`; unknown codes fail with suggestions."""
    if isinstance(code, Language):
        return code
    by_code, aliases = _table()
    key = str(code).strip().lower()
    if key in aliases:
        return by_code[aliases[key]]
    # BCP-47 with a region or script we do not track ("vi-VN", "th_TH"): fall back to the base language.
    parts = key.replace("-", "_").split("_")
    base = parts[0]
    region_only = len(parts) == 2 and (len(parts[1]) == 2 or parts[1].isdigit())  # a script suffix must match
    if region_only and base in aliases and len(base) in (2, 3):
        return by_code[aliases[base]]
    hint = did_you_mean(str(code), list(by_code) + [a for a in aliases if len(a) <= 3])
    raise UnknownLanguageError(
        f"unknown language code {code!r}",
        (hint + " " if hint else "")
        + "use a FLORES-200 code like 'tha_Thai' or an ISO 639-1 code like 'th'; "
        "`linguabridge languages` lists them",
    )


def canonical(code: str | Language) -> str:
    """The canonical code for any accepted spelling."""
    return get_language(code).code


def all_languages() -> list[Language]:
    return list(_table()[0].values())


def marco_languages(tier: Tier | None = None) -> list[Language]:
    """The 29 Marco-LLM languages (or one tier), in table order."""
    return [lang for lang in all_languages() if lang.tier and (tier is None or lang.tier == tier)]

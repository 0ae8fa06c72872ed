import json

import pytest
from typer.testing import CliRunner

from linguabridge.cli.main import app
from linguabridge.errors import UnknownLanguageError
from linguabridge.languages import all_languages, canonical, get_language, marco_languages


def test_registry_has_flores200_and_marco_tiers():
    langs = all_languages()
    assert len(langs) == 204
    assert len(marco_languages("high")) == 10
    assert len(marco_languages("low")) == 19
    assert {lang.code for lang in marco_languages("high")} >= {"eng_Latn", "zho_Hans", "arb_Arab", "tur_Latn"}


@pytest.mark.parametrize(
    "alias,code",
    [
        ("th", "tha_Thai"),
        ("zh", "zho_Hans"),
        ("ms", "zsm_Latn"),
        ("ne", "npi_Deva"),
        ("az", "azj_Latn"),
        ("tha", "tha_Thai"),
        ("THA_THAI", "tha_Thai"),
        ("cmn_Hani", "zho_Hans"),
        ("zh-TW", "zho_Hant"),
        ("vi-VN", "vie_Latn"),
        ("ar", "arb_Arab"),
        ("kk", "kaz_Cyrl"),
    ],
)
def test_aliases_resolve(alias, code):
    assert canonical(alias) == code


def test_language_fields():
    th = get_language("th")
    assert (th.code, th.iso639_1, th.script, th.tier, th.script_code) == (
        "tha_Thai",
        "th",
        "Thai",
        "low",
        "Thai",
    )
    assert th.native_name
    assert get_language("sw").tier is None  # any FLORES-200 language, outside the 29


def test_unknown_code_suggests_close_matches():
    with pytest.raises(UnknownLanguageError) as err:
        get_language("tha_Thia")
    assert "tha_Thai" in str(err.value)


def test_languages_cli_json():
    result = CliRunner().invoke(app, ["languages", "--json", "--marco"])
    assert result.exit_code == 0
    rows = json.loads(result.stdout)
    assert len(rows) == 29
    assert {"code", "iso639_1", "name", "script", "tier"} <= set(rows[0])

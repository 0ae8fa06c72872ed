"""A curated corpus for the mixture tests, built from the bundled demo corpus, and the reader's error paths.

The demo web documents carry no language until the data stage runs; their ground truth
(``web_truth.jsonl``) labels the ones curation keeps, so these tests get curated-looking input without
running curation. Parallel pairs are rendered with the project's own templates.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path

import pytest

from linguabridge.errors import LinguabridgeError
from linguabridge.mixture.inventory import iter_curated, select_heldout

DEMO = Path(str(resources.files("linguabridge").joinpath("assets/demo")))


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def write_demo_corpus(root: Path) -> list[Path]:
    """Write curated web (kept demo documents with their true language) and rendered parallel documents,
    laid out like a run's data stage output; returns the files in reading order."""
    from linguabridge.data.bitext.render import render_pairs

    truth = {r["id"]: r for r in _jsonl(DEMO / "web_truth.jsonl")}
    web = []
    for doc in _jsonl(DEMO / "web.jsonl"):
        t = truth[doc["id"]]
        if t["expected"] == "keep":
            web.append(
                {
                    "id": doc["id"],
                    "text": doc["text"],
                    "metadata": {"source": "web", "language": t["language"]},
                }
            )
    kept = root / "data" / "web" / "kept" / "part-00000.jsonl.gz"
    kept.parent.mkdir(parents=True)
    with gzip.open(kept, "wt", encoding="utf-8") as fh:
        fh.writelines(json.dumps(d, ensure_ascii=False) + "\n" for d in web)
    rendered = root / "data" / "parallel" / "rendered" / "part-00000.jsonl"
    rendered.parent.mkdir(parents=True)
    with open(rendered, "w", encoding="utf-8") as fh:
        for doc in render_pairs(_jsonl(DEMO / "parallel.jsonl"), seed=1):
            fh.write(json.dumps(doc.to_json(), ensure_ascii=False) + "\n")
    return [kept, rendered]


def test_demo_corpus_reads_with_languages_and_sources(tmp_path):
    files = write_demo_corpus(tmp_path)
    docs = list(iter_curated(files))
    sources = {d.source for d in docs}
    assert "parallel" in sources and "eng_Latn" in sources and "tha_Thai" in sources
    assert all(d.source == d.language for d in docs if d.source != "parallel")
    assert len({d.language for d in docs}) == 16


def test_document_without_language_names_file_and_line(tmp_path):
    f = tmp_path / "kept.jsonl"
    f.write_text('{"id": "a", "text": "x", "metadata": {"language": "en"}}\n{"id": "b", "text": "y"}\n')
    with pytest.raises(LinguabridgeError, match=rf"{f}:2: document 'b' has no metadata.language"):
        list(iter_curated([f]))
    f.write_text('{"id": "a", "text": "x", "metadata": {"language": "en"}}\n{"id": "b", "text": \n')
    with pytest.raises(LinguabridgeError, match=rf"{f}:2: bad JSON"):
        list(iter_curated([f]))


def test_language_aliases_are_canonicalised_and_kinds_kept(tmp_path):
    f = tmp_path / "kept.jsonl"
    f.write_text(
        '{"id": "a", "text": "x", "metadata": {"language": "th"}}\n'
        '{"id": "b", "text": "y", "metadata": {"language": "de", "source": "knowledge"}}\n'
    )
    docs = list(iter_curated([f]))
    assert [(d.language, d.source) for d in docs] == [("tha_Thai", "tha_Thai"), ("deu_Latn", "knowledge")]


def test_heldout_is_seeded_per_language_and_skips_small_languages(tmp_path):
    docs = list(iter_curated(write_demo_corpus(tmp_path)))
    held = select_heldout(docs, 2, seed=5)
    assert held == select_heldout(docs, 2, seed=5)
    assert held != select_heldout(docs, 2, seed=6)
    by_lang = {}
    for d in docs:
        if d.id in held:
            assert d.source == d.language  # only web text is held out
            by_lang[d.language] = by_lang.get(d.language, 0) + 1
    assert set(by_lang.values()) == {2} and len(by_lang) == 16
    assert select_heldout(docs, 7, seed=5) == set()  # 14 documents per language: none can be spared

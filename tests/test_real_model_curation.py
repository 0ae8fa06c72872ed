"""Man pages survive curation: their source's own thresholds (``data.source_thresholds``) over the web rules.

The pages are written here in the shape scripts/build_real_corpus.py extracts them (plain text of a translated
man page: NAME/SYNOPSIS/DESCRIPTION/OPTIONS headings, synopsis lines, option lists). The web rules reject them
(lines without terminal punctuation, words without letters such as ``-q`` or ``[BERKAS]...``), as they
rejected every real page of manpages-id and manpages-vi; with the man-page rules they are kept, while the
same text labelled as web is still rejected and a page of repeated lines is still rejected as a man page.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from linguabridge.config import DataConfig
from linguabridge.data.thresholds import RulesBook
from linguabridge.errors import ConfigError

IND = """NAMA
salin - menyalin berkas dan direktori

RINGKASAN
salin [OPSI]... [-T] SUMBER TUJUAN
salin [OPSI]... SUMBER... DIREKTORI
salin [OPSI]... -t DIREKTORI SUMBER...

DESKRIPSI
Menyalin SUMBER ke TUJUAN, atau beberapa SUMBER ke dalam DIREKTORI. Argumen yang wajib untuk opsi panjang juga wajib untuk opsi pendek.

Jika berkas tujuan sudah ada, isinya akan ditimpa tanpa bertanya, kecuali jika opsi -i diberikan. Program ini tidak menyalin direktori kecuali jika opsi -r atau -R dipakai.

OPSI
-a, --archive
sama dengan -dR --preserve=all
-b
seperti --backup tetapi tidak menerima argumen
-f, --force
jika berkas tujuan tidak dapat dibuka, hapus berkas itu dan coba lagi
-i, --interactive
tanyakan dulu sebelum menimpa berkas yang sudah ada
-n, --no-clobber
jangan menimpa berkas yang sudah ada
-r, -R, --recursive
salin direktori beserta seluruh isinya
-v, --verbose
jelaskan apa yang sedang dikerjakan
--help
tampilkan bantuan ini lalu keluar
--version
tampilkan informasi versi lalu keluar

PENGARANG
Ditulis oleh para pengembang dan disunting oleh tim penerjemah.

LIHAT JUGA
pindah(1), hapus(1), tautan(1)"""

VIE = """TÊN
ngủ - tạm dừng trong một khoảng thời gian

TÓM TẮT
ngủ SỐ[HẬU TỐ]...
ngủ TÙY CHỌN

MÔ TẢ
Tạm dừng trong SỐ giây. HẬU TỐ có thể là s cho giây, m cho phút, h cho giờ hoặc d cho ngày. Khác với phần lớn các bản cài đặt, ở đây SỐ có thể là một số thực.

Khi có hai hay nhiều đối số thì chương trình sẽ tạm dừng trong khoảng thời gian bằng tổng của các giá trị đó. Người dùng có thể dừng chương trình bằng tổ hợp phím của thiết bị cuối.

--help
hiển thị trợ giúp này rồi thoát
--version
đưa ra thông tin phiên bản rồi thoát

TÁC GIẢ
Được viết bởi các nhà phát triển và được nhóm dịch thuật biên dịch sang tiếng Việt.

BÁO CÁO LỖI
Hãy báo cáo lỗi dịch cho nhóm dịch thuật của dự án.

XEM THÊM
chờ(1), hẹn giờ(1)"""


def _docs(tmp_path: Path, docs: list[dict]) -> Path:
    path = tmp_path / "in.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    return path


def _page(doc_id: str, text: str, language: str, source: str) -> dict:
    return {
        "id": doc_id,
        "text": text,
        "metadata": {"language": language, "source": source, "split": "train"},
    }


def _outcomes(out: Path) -> dict[str, str | None]:
    import gzip

    seen = {}
    for f in sorted(out.glob("kept/*")) + sorted(out.glob("rejected/*")):
        with gzip.open(f, "rt", encoding="utf-8") if f.suffix == ".gz" else open(f, encoding="utf-8") as fh:
            for line in fh:
                d = json.loads(line)
                seen[d["id"]] = d["metadata"].get("reject_reason")
    return seen


@pytest.fixture(scope="module")
def curated(tmp_path_factory):
    from linguabridge.data.clean import clean

    tmp = tmp_path_factory.mktemp("manpages")
    repeated = "NAMA\n" + "\n".join(["-x, --contoh", "lihat opsi sebelumnya"] * 40)
    docs = [
        _page("ind-man", IND, "ind_Latn", "manpages"),
        _page("vie-man", VIE, "vie_Latn", "manpages"),
        _page("ind-web", IND, "ind_Latn", "web"),
        _page("vie-web", VIE, "vie_Latn", "web"),
        _page("ind-junk", repeated, "ind_Latn", "manpages"),
    ]
    cfg = DataConfig(dedup="none", decontaminate="none", min_words=20)
    out = tmp / "out"
    clean([_docs(tmp, docs)], out, cfg, ["ind_Latn", "vie_Latn"])
    return out


def test_man_pages_are_kept_by_their_own_rules(curated):
    seen = _outcomes(curated)
    assert seen["ind-man"] is None and seen["vie-man"] is None


def test_the_same_text_as_web_is_still_rejected_by_the_web_rules(curated):
    seen = _outcomes(curated)
    assert seen["ind-web"] in ("alpha_words_ratio", "line_punct_ratio", "list_ratio")
    assert seen["vie-web"] in ("alpha_words_ratio", "line_punct_ratio", "list_ratio")


def test_the_other_rules_still_hold_for_man_pages(curated):
    assert _outcomes(curated)["ind-junk"] is not None  # repeated lines: Gopher repetition still applies


def test_stats_name_the_rules_each_source_was_judged_by(curated):
    rules = json.loads((curated / "stats.json").read_text())["rules"]
    assert rules["ind_Latn/manpages"]["line_punct_thr"] == 0.0
    assert rules["ind_Latn"]["line_punct_thr"] == pytest.approx(0.111)  # FineWeb-2's value for web text


def test_source_rules_layer_over_language_rules():
    book = RulesBook(
        overrides={"ind_Latn": {"language_score": 0.5}},
        source_overrides={"manpages": {"*": {"line_punct_thr": 0.0}, "vie": {"new_line_ratio": 0.5}}},
    )
    web, man = book.get("ind_Latn"), book.get("ind_Latn", "manpages")
    assert (web.language_score, man.language_score) == (
        0.5,
        0.5,
    )  # the recipe's language override holds for both
    assert web.line_punct_thr > 0 and man.line_punct_thr == 0.0
    assert (
        book.get("vie_Latn", "manpages").new_line_ratio == 0.5 and book.get("vie_Latn").new_line_ratio < 0.5
    )
    assert book.get("ind_Latn", "fortunes") == web  # a source without its own rules is judged as the rest
    assert (book.label("ind_Latn", "manpages"), book.label("ind_Latn", "web")) == (
        "ind_Latn/manpages",
        "ind_Latn",
    )
    with pytest.raises(ConfigError, match="source_thresholds.manpages.ind_Latn: unknown key"):
        RulesBook(source_overrides={"manpages": {"*": {"line_punct": 0}}}).get("ind_Latn", "manpages")


def test_the_default_config_carries_the_man_page_rules():
    rules = DataConfig().source_thresholds["manpages"]["*"]
    assert rules["line_punct_thr"] == 0.0 and 0 < rules["max_non_alpha_words_ratio"] < 0.8


def test_curation_keeps_the_corpus_split(curated):
    import gzip

    kept = [json.loads(line) for f in curated.glob("kept/*") for line in gzip.open(f, "rt", encoding="utf-8")]
    assert {d["metadata"]["split"] for d in kept} == {"train"}


def test_the_corpus_held_out_pages_are_the_held_out_set(tmp_path):
    """Man pages held out by page name stay held out, and a language with such pages gets no random ones."""
    from linguabridge.mixture.inventory import iter_curated, select_heldout

    docs = [_page(f"ind-{i}", f"teks {i}", "ind_Latn", "manpages") for i in range(10)]
    docs += [_page(f"vie-{i}", f"văn bản {i}", "vie_Latn", "manpages") for i in range(10)]
    docs += [_page(f"tur-{i}", f"metin {i}", "tur_Latn", "web") for i in range(10)]
    for d in docs:
        if d["id"].endswith("-3"):
            d["metadata"]["split"] = "heldout"  # page 3 is held out in every language that has it
    del docs[-1]["metadata"]["split"]  # web text without a split: the seeded choice as before
    path = _docs(tmp_path, docs)
    heldout = select_heldout(iter_curated([path]), per_language=2, seed=0)
    assert {"ind-3", "vie-3", "tur-3"} <= heldout
    assert {h for h in heldout if not h.startswith("tur")} == {"ind-3", "vie-3"}
    assert len([h for h in heldout if h.startswith("tur")]) == 1  # tur has a corpus split too: only that page

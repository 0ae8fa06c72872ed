"""Tiny benchmark files in the local layout ``eval --data-dir`` reads, written for the tests (no downloads)."""

from __future__ import annotations

import json
from pathlib import Path


def write_jsonl(path: Path, records: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


COPA_ZH = [
    {
        "premise": "该物品用气泡包装纸包着。",
        "choice1": "它很易碎。",
        "choice2": "它很小。",
        "question": "cause",
        "label": 0,
        "idx": 0,
    },
    {
        "premise": "我掏空了口袋。",
        "choice1": "我找到了一张票根。",
        "choice2": "我找到了一件武器。",
        "question": "effect",
        "label": 0,
        "idx": 1,
    },
    {
        "premise": "白蚁入侵了这所房子。",
        "choice1": "白蚁消失了。",
        "choice2": "白蚁吃穿了木头。",
        "question": "effect",
        "label": 1,
        "idx": 2,
    },
]
COPA_TH = [  # Thai premises end in a letter, and the upstream file marks every item "effect"
    {
        "premise": "สิ่งของถูกห่อไว้ในพลาสติก",
        "choice1": "มันบอบบาง",
        "choice2": "มันเล็ก",
        "question": "effect",
        "label": 0,
        "idx": 0,
    },
    {
        "premise": "ฉันเอาของออกจากกระเป๋า",
        "choice1": "ฉันเจอตั๋ว",
        "choice2": "ฉันเจออาวุธ",
        "question": "effect",
        "label": 0,
        "idx": 1,
    },
    {
        "premise": "ปลวกบุกบ้าน",
        "choice1": "ปลวกหายไป",
        "choice2": "ปลวกกินไม้",
        "question": "effect",
        "label": 1,
        "idx": 2,
    },
]
COPA_ID = [
    {
        "premise": "Barang itu dikemas dalam bungkus gelembung.",
        "choice1": "Barang itu rapuh.",
        "choice2": "Barang itu kecil.",
        "question": "cause",
        "label": 0,
        "idx": 0,
    },
    {
        "premise": "Saya mengosongkan saku saya.",
        "choice1": "Saya menemukan tiket.",
        "choice2": "Saya menemukan senjata.",
        "question": "effect",
        "label": 0,
        "idx": 1,
    },
    {
        "premise": "Rayap menyerbu rumah itu.",
        "choice1": "Rayap menghilang.",
        "choice2": "Rayap memakan kayu.",
        "question": "effect",
        "label": 1,
        "idx": 2,
    },
]


def write_xcopa(root: Path, copies: int = 2) -> Path:
    """val and test files for zh, th, id (``copies`` x 3 items, idx renumbered: enough for 5 shots)."""
    for key, rows in (("zh", COPA_ZH), ("th", COPA_TH), ("id", COPA_ID)):
        items = [dict(r, idx=i) for i, r in enumerate(rows * copies)]
        for stem in ("val", "test"):
            write_jsonl(root / "xcopa" / key / f"{stem}.{key}.jsonl", items)
    return root


def _letters(i: int) -> dict:
    return {"A": f"option a {i}", "B": f"option b {i}", "C": f"option c {i}", "D": f"option d {i}"}


def write_all_benchmarks(root: Path) -> Path:
    """Three records per split for every benchmark of the Marco suite, in the layout fetch writes."""
    write_xcopa(root)
    for code in ("zho_Hans", "tha_Thai"):
        rows = [
            {
                "flores_passage": f"Passage {i}.",
                "question": f"Question {i}?",
                "mc_answer1": "one",
                "mc_answer2": "two",
                "mc_answer3": "three",
                "mc_answer4": "four",
                "correct_answer_num": str(1 + i % 4),
            }
            for i in range(3)
        ]
        write_jsonl(root / "belebele" / code / "test.jsonl", rows)
    story = [
        {
            "input_sentence_1": "他醒了。",
            "input_sentence_2": "他饿了。",
            "input_sentence_3": "他去厨房。",
            "input_sentence_4": "冰箱是空的。",
            "sentence_quiz1": "他很失望。",
            "sentence_quiz2": "他很开心。",
            "answer_right_ending": 1,
        }
    ] * 6
    for split in ("train", "eval"):
        write_jsonl(root / "xstorycloze" / "zh" / f"{split}.jsonl", story)
    mmmlu = [{"Question": f"Q{i}?", **_letters(i), "Answer": "ABCD"[i % 4], "Subject": "x"} for i in range(6)]
    write_jsonl(root / "mmmlu" / "ZH_CN" / "test.jsonl", mmmlu)
    qa = [
        {
            "id": f"english-{i}",
            "context": "Paris is the capital of France.",
            "question": "What is the capital of France?",
            "answers": {"text": ["Paris"], "answer_start": [0]},
        }
        for i in range(3)
    ]
    for split in ("train", "validation"):
        write_jsonl(root / "tydiqa" / "en" / f"{split}.jsonl", qa)
    mmlu = [
        {"question": f"Q{i}?", "choices": ["a", "b", "c", "d"], "answer": i % 4, "subject": s}
        for s in ("anatomy", "astronomy")
        for i in range(6)
    ]
    for split in ("dev", "validation", "test"):
        write_jsonl(root / "mmlu" / "en" / f"{split}.jsonl", mmlu)
    ceval = [
        {"question": f"问题{i}", **_letters(i), "answer": "ABCD"[i % 4], "subject": "law"} for i in range(6)
    ]
    for split in ("dev", "val", "test"):
        write_jsonl(root / "ceval" / "zh" / f"{split}.jsonl", ceval)
    arc = [
        {
            "question": f"Q{i}?",
            "choices": {"text": ["x", "y", "z"], "label": ["A", "B", "C"]},
            "answerKey": "B",
        }
        for i in range(26)  # 25 shots
    ]
    for split in ("train", "validation", "test"):
        write_jsonl(root / "arc" / "en" / f"{split}.jsonl", arc)
    agi = [
        {"query": f"Q{i}: pick", "choices": ["(A) x", "(B) y"], "gold": [i % 2], "subject": "lsat-ar"}
        for i in range(6)
    ]
    write_jsonl(root / "agieval" / "en" / "test.jsonl", agi)
    write_flores(root / "flores")
    wmt = [{"translation": {"de": f"Hallo Welt {i}.", "en": f"Hello world {i}."}} for i in range(3)]
    for split in ("validation", "test"):
        write_jsonl(root / "wmt16" / "de-en" / f"{split}.jsonl", wmt)
    return root


FLORES = [
    {
        "id": 0,
        "eng_Latn": "The cat sleeps on the warm mat.",
        "zho_Hans": "猫在温暖的垫子上睡觉。",
        "tha_Thai": "แมวนอนบนเสื่ออุ่น",
    },
    {
        "id": 1,
        "eng_Latn": "We walked to the old market.",
        "zho_Hans": "我们走到了老市场。",
        "tha_Thai": "เราเดินไปตลาดเก่า",
    },
    {
        "id": 2,
        "eng_Latn": "The river is wide and calm today.",
        "zho_Hans": "今天河面宽阔而平静。",
        "tha_Thai": "วันนี้แม่น้ำกว้างและสงบ",
    },
]


def write_flores(root: Path) -> Path:
    """Multi-parallel dev and devtest files (the layout fetch writes for the demo fixture's shape)."""
    for split in ("dev", "devtest"):
        write_jsonl(root / f"{split}.jsonl", FLORES)
    return root

import pytest

from linguabridge.tokenizer import CHATML_TEMPLATE, qwen2_tokenizer_path

TEXTS = [
    "Hello, world!",
    "สวัสดีครับ ยินดีต้อนรับสู่กรุงเทพ",
    "你好，世界！今天天气很好。",
    "Привет, мир! Как дела?",
    "नमस्ते दुनिया, आप कैसे हैं?",
    "안녕하세요, 세계!",
    "مرحبا بالعالم",
    "שלום עולם",
    "Tiếng Việt có dấu: Hà Nội",
    "Καλημέρα κόσμε",
    "Сәлем, әлем! Қазақ тілі",
    "日本語のテキスト、カタカナとひらがな。",
    "emoji 🙂 and tabs\tand\nnewlines  double  spaces",
]


def test_known_ids(qwen_tokenizer):
    assert qwen_tokenizer("Hello, world!")["input_ids"] == [9707, 11, 1879, 0]
    assert qwen_tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>"]) == [
        151643,
        151644,
        151645,
    ]
    assert qwen_tokenizer.eos_token_id == 151643


@pytest.mark.parametrize("text", TEXTS)
def test_round_trip(qwen_tokenizer, text):
    ids = qwen_tokenizer(text, add_special_tokens=False)["input_ids"]
    assert qwen_tokenizer.decode(ids) == text


def test_special_tokens_are_single_ids(qwen_tokenizer):
    ids = qwen_tokenizer("<|im_start|>user\nhi<|im_end|>", add_special_tokens=False)["input_ids"]
    assert ids[0] == 151644 and ids[-1] == 151645


def test_chat_template_and_generation_mask(qwen_tokenizer):
    msgs = [{"role": "user", "content": "Xin chào"}, {"role": "assistant", "content": "Chào bạn"}]
    text = qwen_tokenizer.apply_chat_template(msgs, tokenize=False)
    assert text.startswith("<|im_start|>system\n") and text.endswith("Chào bạn<|im_end|>\n")
    enc = qwen_tokenizer.apply_chat_template(
        msgs, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    ids, mask = enc["input_ids"], enc["assistant_masks"]
    assistant_ids = [i for i, m in zip(ids, mask, strict=True) if m]
    assert qwen_tokenizer.decode(assistant_ids) == "Chào bạn<|im_end|>"
    assert qwen_tokenizer.chat_template == CHATML_TEMPLATE


def test_cached_build_is_reused():
    assert qwen2_tokenizer_path() == qwen2_tokenizer_path()
    assert (qwen2_tokenizer_path() / "tokenizer.json").is_file()

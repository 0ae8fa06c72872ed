"""PII replacement: e-mail addresses, IP addresses and phone numbers become placeholders, counted per kind.

Regexes are hand-written (as datatrove's PIIFormatter does for e-mails and IPs): no maintained multilingual
PII library ships offline. Phone numbers need a ``+country`` prefix or a grouped 9-15 digit shape, so years,
prices and article numbers stay untouched.
"""

from __future__ import annotations

import ipaddress
import re

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])")
PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w])"
    r"|(?<![\w+])\+\d{8,14}(?!\w)"
)
PLACEHOLDERS = {"email": "<EMAIL>", "ip": "<IP_ADDRESS>", "phone": "<PHONE>"}


def _valid_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


def _phone_like(s: str) -> bool:
    digits = sum(c.isdigit() for c in s)
    # A +prefix or parentheses mark a phone; bare digit groups must be 9-15 digits (not a date "2024 01 05").
    return 9 <= digits <= 15 and (s.startswith("+") or "(" in s or len(re.findall(r"\d+", s)) >= 3)


def redact(text: str) -> tuple[str, dict[str, int]]:
    """Text with PII replaced, and how many of each kind were replaced (only kinds found)."""
    counts: dict[str, int] = {}

    def sub(kind: str, pattern: re.Pattern, text: str, check=None) -> str:
        def repl(m: re.Match) -> str:
            if check is not None and not check(m.group(0)):
                return m.group(0)
            counts[kind] = counts.get(kind, 0) + 1
            return PLACEHOLDERS[kind]

        return pattern.sub(repl, text)

    if "@" in text:
        text = sub("email", EMAIL, text)
    text = sub("ip", IPV4, text, _valid_ip)
    if ":" in text:
        text = sub("ip", IPV6, text, _valid_ip)
    text = sub("phone", PHONE, text, _phone_like)
    return text, counts

"""PII replacement: e-mail addresses, IP addresses and phone numbers become placeholders, counted per kind.

E-mails and IPs are hand-written regexes (as datatrove's PIIFormatter does). Phone numbers go through
``phonenumbers`` (Google's libphonenumber data): a number with a ``+country`` prefix is redacted in any language
when its shape is possible for that country; a number in national format (``030 12345678``) only when it is
valid in a region where the document's language is written (``assets/data/phone_regions.tsv``), so years,
prices, dates and article numbers stay untouched.
"""

from __future__ import annotations

import ipaddress
import re
from functools import cache

from linguabridge.errors import require
from linguabridge.io import read_asset_table

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,}(?![\w-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f]{1,4}(?![\w:])")
DIGITS = re.compile(r"\d(?:[\s().-]*\d){5}")  # at least 6 digits close together: a phone number may be there
PLACEHOLDERS = {"email": "<EMAIL>", "ip": "<IP_ADDRESS>", "phone": "<PHONE>"}


def _valid_ip(s: str) -> bool:
    try:
        ipaddress.ip_address(s)
        return True
    except ValueError:
        return False


@cache
def phone_regions(language: str | None) -> tuple[str, ...]:
    """Regions whose national-format numbers are redacted in ``language`` (none for unknown languages)."""
    table = {row["code"]: tuple(row["regions"].split()) for row in read_asset_table("data/phone_regions.tsv")}
    return table.get(language or "", ())


def _phones(text: str, language: str | None) -> tuple[str, int]:
    pn = require("phonenumbers", "data")
    found = 0
    # "ZZ" (no region): only +country numbers; POSSIBLE, since a "+" already says "phone number" (+1 555 ...).
    passes = [("ZZ", pn.Leniency.POSSIBLE)] + [(r, pn.Leniency.VALID) for r in phone_regions(language)]
    for region, leniency in passes:
        matches = list(pn.PhoneNumberMatcher(text, region, leniency=leniency))
        for m in reversed(matches):  # from the end, so earlier offsets stay right
            text = text[: m.start] + PLACEHOLDERS["phone"] + text[m.end :]
        found += len(matches)
        if not DIGITS.search(text):
            break
    return text, found


def redact(text: str, language: str | None = None) -> tuple[str, dict[str, int]]:
    """Text with PII replaced, and how many of each kind were replaced (only kinds found). ``language`` (a
    canonical code) decides which national phone formats are recognised."""
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
    if DIGITS.search(text):
        text, phones = _phones(text, language)
        if phones:
            counts["phone"] = phones
    return text, counts

"""Keep values that may be personal out of everything the platform records about a batch.

Check samples, check values, error messages and alerts end up in Dagster's run history, logs,
the CLI's output and alerts.log, which every operator reads. Columns classified as personal are
redacted by classification (quality/engine.py); these helpers decide by *content*, for the
personal value that sits in a column nobody classified:

- an e-mail address anywhere in the text (`diamond-jane@example.org` included);
- a run of 9 or more digits (card, account, national id or unformatted phone numbers);
- 7 or more digits in groups split by spaces, dots, dashes or parentheses, as phone and card
  numbers are written (several in a row are one group) (`+44 20 7946 0958`, `4111-1111-1111-1111`); ISO dates and times are not.

Only text is judged: numbers stay visible (they are the ids that make a sample useful), so a
column that stores phone numbers as numbers must be classified. Names cannot be told by their
look: an engine's error message loses every quoted literal instead (`without_values`).
"""

from __future__ import annotations

import re
from typing import Any

LOOKS_PERSONAL = "••• (may be personal data)"
HIDDEN = "•••"

_WORD = re.compile(r"\S+")
_LONG_DIGITS = re.compile(r"\d{9,}")
# A group starts and ends a word: the digits inside `N12345`, `ORD-2024-0001` or a UUID are codes.
_DIGIT_GROUPS = re.compile(r"(?<![\w.\-])\+?\(?\d[\d ().\-]*\d(?![\w\-])")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?")
MIN_PHONE_DIGITS = 7
_QUOTED = re.compile(r"'(?:[^']|'')*'")


def _holds_address(word: str) -> bool:
    """`x@y.z` inside a word with no space: lenient on purpose, more so than the policy that
    refuses addresses (over-hiding costs a sample a value, under-hiding leaks one into every log).
    Plain string work, not a regular expression: `[^@]+@` backtracks quadratically over a long
    word without an '@', and a cell may be megabytes of text."""
    parts = word.split("@")
    return any(local and "." in domain[1:-1] for local, domain in zip(parts, parts[1:]))


def _hide_addresses(text: str) -> str:
    return _WORD.sub(lambda m: HIDDEN if "@" in m.group() and _holds_address(m.group()) else m.group(), text)


def _phone_like(match: re.Match) -> bool:
    # A bare number is judged by its length alone (_LONG_DIGITS): `1234567 failing rows` stays.
    group = match.group()
    return not group.isdigit() and sum(c.isdigit() for c in group) >= MIN_PHONE_DIGITS


def looks_personal(text: str) -> bool:
    """True if `text` holds something shaped like an e-mail address, a phone or a card number."""
    if ("@" in text and any(_holds_address(w) for w in text.split())) or _LONG_DIGITS.search(text):
        return True
    return any(_phone_like(m) for m in _DIGIT_GROUPS.finditer(_DATE_TIME.sub(" ", text)))


def redact_value(value: Any) -> Any:
    """A sample's cell as it may be shown: text that looks personal is replaced as a whole (the
    rest of a cell that holds an address, a name beside it, is as personal); anything else as is."""
    return LOOKS_PERSONAL if isinstance(value, str) and looks_personal(value) else value


def scrub(text: str) -> str:
    """`text` with every part that looks personal hidden: for messages, whose other words matter."""
    text = _hide_addresses(text)
    text = _LONG_DIGITS.sub(HIDDEN, text)
    kept = _DATE_TIME.sub(lambda m: "\0" * len(m.group()), text)  # same length: positions line up
    pieces, last = [], 0
    for match in _DIGIT_GROUPS.finditer(kept):
        if _phone_like(match):
            pieces += [text[last:match.start()], HIDDEN]
            last = match.end()
    return "".join(pieces) + text[last:]


def without_values(message: str) -> str:
    """An engine's error (DuckDB, Arrow) as one line that names no value of the data.

    Engines quote the value they choked on (`Could not convert string 'jane@example.org' to
    INT32`), and a name or a street is personal without looking it: every single-quoted literal
    goes, whatever it holds, and what is left is scrubbed.
    """
    return scrub(_QUOTED.sub(f"'{HIDDEN}'", " ".join(str(message).split())))

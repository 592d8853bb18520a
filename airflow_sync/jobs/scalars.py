"""CData's wire scalars, defined once: the regular expressions the server accepts and the JSON Schema that
documents them (the same pattern text), so the OpenAPI document and the validation cannot drift apart.

CData clients send every scalar either as a JSON value or as a string: ``true``, ``"True"``, ``"yes"``,
``1`` and ``"1"`` are booleans; ``500`` and ``"500"`` are integers. The string forms accepted here are
exactly those the schema fragments describe (ECMA-262 patterns that mean the same in Python's ``re``):

* boolean text: ``true false yes no 1 0`` in any case, with whitespace (:data:`WS`) around;
* integer text: decimal digits without sign or leading zeros, inside the field's range, with spaces or
  whitespace around (the range is part of the pattern, so a schema-valid value is never out of range);
* only `` \\t\\r\\n`` count as surrounding whitespace (:data:`WS`), in patterns and in ``strip`` alike.

No Airflow imports: the job model, the CLI and the API all use this module.
"""

from __future__ import annotations

import math
import re
from typing import Any

#: the whitespace the server strips around text values (and that patterns allow around scalars)
WS = " \t\r\n"
_WS_RE = r"[ \t\r\n]*"
BOOL_WORDS_TRUE = ("true", "yes", "1")
BOOL_WORDS_FALSE = ("false", "no", "0")
INT_MAX = 2**31 - 1


def case_insensitive(word: str) -> str:
    """A regex matching ``word`` in any case (``[Tt][Rr][Uu][Ee]``); patterns carry no flags."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def words_pattern(words: tuple[str, ...] | list[str]) -> str:
    """An anchored pattern for any of ``words`` in any case, spaces/tabs around allowed."""
    alternatives = "|".join(case_insensitive(w) for w in words)
    return f"^{_WS_RE}(?:{alternatives}){_WS_RE}$"


BOOL_PATTERN = words_pattern(BOOL_WORDS_TRUE + BOOL_WORDS_FALSE)
_BOOL_RE = re.compile(BOOL_PATTERN[1:-1])


def _digits_range(lo: str, hi: str) -> list[str]:
    """Regex alternatives for the decimal strings from ``lo`` to ``hi`` (same length, lo <= hi)."""
    if lo == hi:
        return [lo]
    if set(lo) == {"0"} and set(hi) == {"9"}:
        return [r"\d" if len(lo) == 1 else f"\\d{{{len(lo)}}}"]
    if len(lo) == 1:
        return [f"[{lo}-{hi}]"]
    if set(lo[1:]) == {"0"} and set(hi[1:]) == {"9"}:  # d0..0 - e9..9
        return [f"[{lo[0]}-{hi[0]}]" + (r"\d" if len(lo) == 2 else f"\\d{{{len(lo) - 1}}}")]
    if lo[0] == hi[0]:
        return [lo[0] + part for part in _digits_range(lo[1:], hi[1:])]
    out: list[str] = []
    rest = len(lo) - 1
    # lo's first digit with the rest from lo[1:] up to 99..9
    out += [lo[0] + part for part in _digits_range(lo[1:], "9" * rest)]
    first, last = int(lo[0]) + 1, int(hi[0]) - 1
    if first <= last:
        digit = str(first) if first == last else f"[{first}-{last}]"
        out.append(digit + r"\d" * rest if rest <= 3 else f"{digit}\\d{{{rest}}}")
    out += [hi[0] + part for part in _digits_range("0" * rest, hi[1:])]
    return out


def int_range_regex(lo: int, hi: int) -> str:
    """A regex (no anchors) for the decimal integers ``lo..hi`` without sign or leading zeros.

    :param lo: smallest value (>= 0)
    :param hi: largest value (>= lo)
    """
    if lo < 0 or hi < lo:
        raise ValueError(f"unsupported range {lo}..{hi}")
    parts: list[str] = []
    for length in range(len(str(lo)), len(str(hi)) + 1):
        start = max(lo, 10 ** (length - 1) if length > 1 else 0)
        end = min(hi, 10**length - 1)
        if start <= end:
            parts += _digits_range(str(start), str(end))
    return "(?:" + "|".join(parts) + ")"


def int_pattern(lo: int, hi: int) -> str:
    """The anchored pattern of an integer field's string form (spaces/tabs around allowed)."""
    return f"^{_WS_RE}{int_range_regex(lo, hi)}{_WS_RE}$"


def parse_bool(value: Any) -> bool | None:
    """A CData boolean (JSON ``true``/``false``, ``0``/``1``, or the boolean text), None when it is none."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and _BOOL_RE.fullmatch(value):
        return value.strip(WS).lower() in BOOL_WORDS_TRUE
    return None


def parse_int(value: Any, lo: int, hi: int) -> int | None:
    """A CData integer in ``lo..hi`` (a JSON integer, an integral JSON number, or the integer text), else
    None. Booleans are not integers on the wire."""
    result: int | None = None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        result = value
    elif isinstance(value, float) and math.isfinite(value) and value.is_integer():
        result = int(value)
    elif isinstance(value, str):
        if not re.fullmatch(int_pattern(lo, hi)[1:-1], value):
            return None
        result = int(value.strip(WS))
    if result is None or not lo <= result <= hi:
        return None
    return result


# ------------------------------------------------------------------------------- JSON Schema fragments


def _nullable(schema: dict[str, Any], nullable: bool) -> dict[str, Any]:
    if not nullable:
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    return {"anyOf": [schema, {"type": "null"}], **{k: v for k, v in schema.items() if k == "description"}}


def bool_schema(description: str = "", *, nullable: bool = True) -> dict[str, Any]:
    """A boolean as CData sends it: JSON boolean, 0/1, or the boolean text (any case)."""
    schema: dict[str, Any] = {
        "anyOf": [
            {"type": "boolean"},
            {"type": "integer", "enum": [0, 1]},
            {"type": "string", "pattern": BOOL_PATTERN},
        ]
    }
    if description:
        schema["description"] = description
    return _nullable(schema, nullable)


def int_schema(lo: int, hi: int, description: str = "", *, nullable: bool = True) -> dict[str, Any]:
    """An integer in ``lo..hi`` as CData sends it: JSON integer or its decimal text."""
    schema: dict[str, Any] = {
        "anyOf": [
            {"type": "integer", "minimum": lo, "maximum": hi},
            {"type": "string", "pattern": int_pattern(lo, hi)},
        ]
    }
    if description:
        schema["description"] = description
    return _nullable(schema, nullable)


def str_schema(
    max_length: int,
    description: str = "",
    *,
    min_length: int = 0,
    pattern: str | None = None,
    nullable: bool = True,
) -> dict[str, Any]:
    """A text value of at most ``max_length`` characters (counted as sent, before trimming)."""
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    if pattern:
        schema["pattern"] = pattern
    if description:
        schema["description"] = description
    return _nullable(schema, nullable)


#: a text value that holds something besides whitespace
NOT_BLANK = r"[^ \t\r\n]"

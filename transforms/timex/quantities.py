"""Rules for clock times, durations, ages, sets ("every week", "annual") and the PRESENT/PAST/FUTURE_REF
words. Each turns a regex match into a Candidate."""

from __future__ import annotations

import re
from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from transforms.parse.pubtime import ZONE_ABBREVIATIONS
from transforms.timex import calendar as cal
from transforms.timex.lexicon import (
    Candidate,
    Context,
    NUMBER_WORDS,
    PARTS_OF_DAY,
    SEASONS,
    VAGUE,
    WEEKDAY_NUMBER,
    number_value,
    unit_name,
    words_before,
)

__all__ = [
    "time_rule",
    "duration_rule",
    "age_rule",
    "vague_duration_rule",
    "long_adjective_rule",
    "set_word_rule",
    "set_every_rule",
    "ref_rule",
]


@lru_cache(maxsize=32)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def time_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """A clock time; its day is filled in later from the sentence (see ``_resolve_times``). A zone
    abbreviation or offset after it converts it to UTC; region zones (ET) use the anchor date's DST."""
    ampm = (m["ampm"] or "").lower().replace(".", "")
    if m["noon"]:
        hour, minute = (12, 0) if m["noon"].lower() == "noon" else (0, 0)
    elif m["hhmm"]:
        hour, minute = int(m["hhmm"][:2]), int(m["hhmm"][2:])
    else:
        hour, minute = int(m["h"]), int(m["min"] or 0)
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm == "pm" else 0)
    if hour > 23 or minute > 59:
        return None
    if not (m["min"] or ampm or m["noon"] or m["zone"]):
        return None
    offset = None
    if m["zone"]:
        base = ZONE_ABBREVIATIONS.get(m["zone"])
        if isinstance(base, str):
            noon = datetime(ctx.anchor.year, ctx.anchor.month, ctx.anchor.day, 12, tzinfo=_zone(base))
            base = int(noon.utcoffset().total_seconds() // 60)
        offset = base
        if m["sign"]:
            if base != 0:
                return None
            offset = (int(m["zh"]) * 60 + int(m["zm"] or 0)) * (-1 if m["sign"] == "-" else 1)
    end = m.end()
    matched = ctx.text[m.start():end]
    if matched.count("(") > matched.count(")"):
        end = m.start() + matched.rindex("(")
        end = m.start() + len(ctx.text[m.start():end].rstrip())
    elif matched.count(")") > matched.count("("):
        end -= 1
    return Candidate(m.start(), end, "TIME", "", clock=(hour, minute, offset))


# words after which "a year", "a week" measure time ("took a year", "for a week")
_DURATION_CONTEXT = {"for", "than", "about", "nearly", "almost", "within", "after", "over", "in", "just", "only",
                     "least", "up", "under", "half", "of", "around", "some", "roughly", "take", "takes", "took",
                     "taken", "taking", "last", "lasts", "lasted", "spend", "spent", "spends", "wait", "waited",
                     "need", "needs", "needed", "barely", "once"}


def _quantity_before(ctx: Context, start: int) -> bool:
    """A rate: "$300 million in fuel a year", "15 aircraft a month" (a number within four words)."""
    window = words_before(ctx, start, 4)
    return any(re.fullmatch(r"\d[\d,.]*|million|billion|thousand|trillion|%", w.lower()) for w in window) \
        and "," not in window and "." not in window


def duration_rule(m: re.Match, ctx: Context) -> Candidate | None:
    quant = re.sub(r"\s+", " ", m["quant"].lower())
    unit = unit_name(m["unit"])
    amount = number_value(quant)
    vague = quant in VAGUE
    if amount is None and not vague:
        return None
    plural = m["unit"].lower().endswith("s")
    if quant in ("a", "an"):
        if plural:
            return None
        before = [w.lower() for w in words_before(ctx, m.start(), 2)]
        prev = before[-1] if before else ""
        if re.fullmatch(r"\d[\d,.]*|once|twice|times|million|billion|thousand|hundred|trillion|dozen|%", prev) \
                or prev in NUMBER_WORDS or (prev not in _DURATION_CONTEXT and _quantity_before(ctx, m.start())):
            value = cal.duration_value(1, unit)
            return Candidate(m.start(), m.end(), "SET", value)
        after = ctx.text[m.end(): m.end() + 12].lower()
        if prev not in _DURATION_CONTEXT \
                and not re.match(r"\s*(?:ago|later|earlier|before|after|long|-long|from now)\b", after) \
                and not m["approx"] and not m["edge"]:
            return None
    if amount is not None and amount > 1 and not plural and "-" not in m.group(0) and quant not in ("a dozen",) \
            and not re.match(r"\s+[a-z]", ctx.text[m.end(): m.end() + 2]):
        return None  # "three year" is a duration only as a modifier ("a two hour stoppage")
    value = cal.duration_value(amount, unit)
    return Candidate(m.start(), m.end(), "DURATION", value)


def age_rule(m: re.Match, ctx: Context) -> Candidate | None:
    amount = number_value(m["quant"])
    if amount is None:
        return None
    return Candidate(m.start(), m.end(), "DURATION", cal.duration_value(amount, unit_name(m["unit"])))


def vague_duration_rule(m: re.Match, ctx: Context) -> Candidate | None:
    unit = unit_name(m["unit"])
    return Candidate(m.start(), m.end(), "DURATION", cal.duration_value(None, unit))


def long_adjective_rule(m: re.Match, ctx: Context) -> Candidate | None:
    unit = unit_name(m["unit"])
    amount = None if m["unit"].lower().endswith("s") else 1
    return Candidate(m.start(), m.end(), "DURATION", cal.duration_value(amount, unit))


_SET_WORDS = {"annual": "P1Y", "annually": "P1Y", "yearly": "P1Y", "daily": "P1D", "weekly": "P1W",
              "monthly": "P1M", "quarterly": "P3M", "hourly": "PT1H", "biannual": "P6M", "biennial": "P2Y",
              "semiannual": "P6M", "nightly": "XXXX-XX-XXTNI"}


def set_word_rule(m: re.Match, ctx: Context) -> Candidate | None:
    return Candidate(m.start(), m.end(), "SET", _SET_WORDS[m["word"]])


def set_every_rule(m: re.Match, ctx: Context) -> Candidate | None:
    what = m["what"].lower()
    n = m["n"]
    amount = 2 if n and n.lower() == "other" else (number_value(n) if n else 1)
    if what in WEEKDAY_NUMBER:
        return Candidate(m.start(), m.end(), "SET", f"XXXX-WXX-{WEEKDAY_NUMBER[what] + 1}")
    if what in PARTS_OF_DAY:
        return Candidate(m.start(), m.end(), "SET", f"XXXX-XX-XXT{PARTS_OF_DAY[what]}")
    if what == "weekend":
        return Candidate(m.start(), m.end(), "SET", "XXXX-WXX-WE")
    if what in SEASONS:
        return Candidate(m.start(), m.end(), "SET", f"XXXX-{SEASONS[what]}")
    if what == "season":
        return Candidate(m.start(), m.end(), "SET", "P3M")
    if what == "quarter":
        return Candidate(m.start(), m.end(), "SET", f"P{3 * (amount or 1):g}M")
    return Candidate(m.start(), m.end(), "SET", cal.duration_value(amount, unit_name(what)))


_REFS = {"now": "PRESENT_REF", "currently": "PRESENT_REF", "presently": "PRESENT_REF", "at present": "PRESENT_REF",
         "nowadays": "PRESENT_REF", "these days": "PRESENT_REF", "right now": "PRESENT_REF",
         "at the moment": "PRESENT_REF", "recently": "PAST_REF", "more recently": "PAST_REF",
         "most recently": "PAST_REF", "lately": "PAST_REF", "the past": "PAST_REF", "the future": "FUTURE_REF",
         "soon": "FUTURE_REF", "the near future": "FUTURE_REF", "the present": "PRESENT_REF"}


def ref_rule(m: re.Match, ctx: Context) -> Candidate | None:
    word = re.sub(r"\s+", " ", m["word"].lower())
    if word in ("the past", "the future", "the near future", "the present"):
        before = [w.lower() for w in words_before(ctx, m.start())]
        if not before or before[-1] not in ("in", "into", "for"):
            return None
    if word == "now" and ctx.text[m.end(): m.end() + 1] == "-":
        return None  # "the now-cancelled deal"
    if word == "soon" and (ctx.text[m.end(): m.end() + 6].lower().startswith(" after")
                           or ctx.text[m.end(): m.end() + 1] == "-"):
        return None  # "soon after the launch", "the soon-to-open terminal"
    return Candidate(m.start(), m.end(), "DATE", _REFS[word])



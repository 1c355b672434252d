"""The surface grammar of English time expressions: one regular expression per rule family, and the
rule that turns a match into a candidate (span, type, value) against the anchor date."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from transforms.pubtime import ZONE_ABBREVIATIONS
from transforms.timex import calendar as cal
from transforms.timex.tense import FUTURE, PAST, UNKNOWN

__all__ = ["Candidate", "Context", "RULES", "number_value", "shifted"]


@dataclass
class Context:
    """What the rules may read: the text, the parsed Doc (for tense), the local anchor date."""

    text: str
    doc: object
    anchor: date
    offset_minutes: int | None
    direction: Callable[[int, int], str]
    month_first: bool = True


@dataclass
class Candidate:
    start: int
    end: int
    type: str
    value: str
    resolved: cal.Resolved | None = None
    priority: int = 0
    clock: tuple | None = None  # (hour, minute, offset minutes or None) for times awaiting a date
    container: bool = False  # may overlap the timexes it contains ("from 2009 to 2011")
    extras: dict = field(default_factory=dict)


# ---------------------------------------------------------------- lexicon

_MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
_MONTH_NUMBER = {name.lower(): i for i, name in enumerate(_MONTHS, start=1)}
_MONTH_NUMBER.update({name[:3].lower(): i for i, name in enumerate(_MONTHS, start=1)})
_MONTH_NUMBER["sept"] = 9
_WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
_WEEKDAY_NUMBER = {name.lower(): i for i, name in enumerate(_WEEKDAYS)}

_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "a": 1, "an": 1, "dozen": 12, "a dozen": 12, "half a": 0.5, "half an": 0.5, "a half": 0.5,
    "a couple of": 2, "couple of": 2,
}
_VAGUE = {"several", "many", "a few", "few", "some", "a number of", "numerous", "countless"}
_ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "final": 4, "last": 4}
_CENTURY_WORDS = {"eighteenth": 18, "nineteenth": 19, "twentieth": 20, "twenty-first": 21, "twenty first": 21}
_SEASONS = {"spring": "SP", "summer": "SU", "autumn": "FA", "fall": "FA", "winter": "WI"}
_SEASON_MONTHS = {"SP": (3, 5), "SU": (6, 8), "FA": (9, 11), "WI": (12, 14)}
_PARTS_OF_DAY = {"morning": "MO", "afternoon": "AF", "evening": "EV", "night": "NI", "tonight": "NI"}
_UNIT_NAMES = {"second": "second", "sec": "second", "minute": "minute", "min": "minute", "hour": "hour",
               "hr": "hour", "day": "day", "week": "week", "fortnight": "fortnight", "month": "month",
               "year": "year", "decade": "decade", "century": "century", "centurie": "century"}
_ZONES = sorted((z for z in ZONE_ABBREVIATIONS if len(z) >= 2 and z != "UK"), key=len, reverse=True)

# ---------------------------------------------------------------- regex fragments

_MONTH = r"(?P<month>" + "|".join(_MONTHS) + r")"
_MONTH_ABBR = (r"(?P<month>" + "|".join(_MONTHS)
               + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)")
_WEEKDAY = r"(?P<weekday>" + "|".join(_WEEKDAYS) + r")"
_DAYNUM = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>(?:19|20)\d\d)(?![\d%])"
_MOD = r"(?P<mod>(?i:(?:early|late|mid|the\s+(?:very\s+)?(?:beginning|start|end|middle|rest|close)\s+of)[\s-]+))"
_NUMWORD = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen"
            r"|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)")
_QUANT = (r"(?P<quant>\d+(?:\.\d+)?|" + _NUMWORD + r"(?:[\s-]" + _NUMWORD + r")?(?:\s+and\s+a\s+half)?"
          r"|a\s+(?:couple\s+of|few|dozen|half)|half\s+an?|several|many|few|some|a\s+number\s+of|numerous|an?)")
_UNIT = r"(?P<unit>seconds?|minutes?|hours?|days?|weeks?|fortnights?|months?|years?|decades?|centur(?:y|ies))"
_REL = r"(?P<rel>this|last|next|coming|previous|past|current|following|upcoming)"
_ZONE = r"(?P<zone>" + "|".join(_ZONES) + r")"
_AMPM = r"(?P<ampm>[ap]\.m\.|[ap]m\b|[AP]M\b)"
_NOT_AFTER_DIGIT = r"(?<![\d,.$£€#/-])"


def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern)


# ---------------------------------------------------------------- helpers


def number_value(text: str) -> float | None:
    """2, "two", "twenty-five", "two and a half", "a couple of" -> a number; vague quantities -> None."""
    text = re.sub(r"\s+", " ", text.lower().strip())
    if text in _VAGUE:
        return None
    half = 0.0
    if text.endswith(" and a half"):
        text, half = text[: -len(" and a half")], 0.5
    try:
        return float(text) + half
    except ValueError:
        pass
    if text in _NUMBER_WORDS:
        return _NUMBER_WORDS[text] + half
    parts = re.split(r"[\s-]", text)
    if all(p in _NUMBER_WORDS for p in parts):
        total = 0.0
        for p in parts:
            total = total * 100 if p == "hundred" else total + _NUMBER_WORDS[p]
        return total + half
    return None


def _unit(text: str) -> str:
    text = text.lower()
    if text.endswith("ies"):
        return "century"
    return _UNIT_NAMES.get(text.rstrip("s"), _UNIT_NAMES.get(text, "year"))


def _word_before(ctx: Context, start: int, n: int = 1) -> list[str]:
    return re.findall(r"[A-Za-z']+|\d[\d,.]*|\S", ctx.text[max(0, start - 60): start])[-n:]


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


_AGAINST_TENSE_COST = 4  # a date against the tense must be this many times closer to win


def _pick(candidates: list[date], anchor: date, direction: str) -> date | None:
    """The candidate nearest the anchor, where distance against the tense counts several times over:
    "arrived on June 18" in a July article is 18 June; "lands on November 11" on 5 November is the 11th."""
    if not candidates:
        return None

    def cost(c: date) -> tuple:
        days = (c - anchor).days
        against = (direction == PAST and days > 0) or (direction == FUTURE and days < 0)
        return (abs(days) * (_AGAINST_TENSE_COST if against else 1), days > 0)

    return min(candidates, key=cost)


def _month_year(m: int, anchor: date, direction: str) -> int:
    if direction == PAST:
        return anchor.year if m <= anchor.month else anchor.year - 1
    if direction == FUTURE:
        return anchor.year if m >= anchor.month else anchor.year + 1
    options = [anchor.year - 1, anchor.year, anchor.year + 1]
    return min(options, key=lambda y: (abs((y * 12 + m) - (anchor.year * 12 + anchor.month)), y != anchor.year))


def _weekday_date(wd: int, anchor: date, direction: str, rel: str | None) -> date:
    back = (anchor.weekday() - wd) % 7
    ahead = (wd - anchor.weekday()) % 7
    if rel == "last" or rel == "past" or rel == "previous":
        return anchor - timedelta(days=back or 7)
    if rel in ("next", "coming", "following", "upcoming"):
        return anchor + timedelta(days=ahead or 7)
    if rel == "this":
        return anchor - timedelta(days=anchor.weekday()) + timedelta(days=wd)
    if direction == PAST:
        return anchor - timedelta(days=back)
    if direction == FUTURE:
        return anchor + timedelta(days=ahead)
    return anchor - timedelta(days=back) if back <= 3 else anchor + timedelta(days=ahead)


def _shift_rel(rel: str) -> int:
    if rel in ("last", "previous", "past"):
        return -1
    if rel in ("next", "coming", "following", "upcoming"):
        return 1
    return 0


def _direction(ctx: Context, m: re.Match) -> str:
    return ctx.direction(m.start(), m.end())


# ---------------------------------------------------------------- rules
# Each rule: (name, compiled regex, function(match, ctx) -> Candidate | None). Where rules overlap,
# the longest candidate wins, then the lower priority number.


def _date_candidate(m: re.Match, ctx: Context, resolved: cal.Resolved | None, kind: str = "DATE",
                    start: int | None = None, end: int | None = None) -> Candidate | None:
    if resolved is None:
        return None
    return Candidate(m.start() if start is None else start, m.end() if end is None else end, kind,
                     resolved.value, resolved)


def _month_day_year(m: re.Match, ctx: Context) -> Candidate | None:
    month = _MONTH_NUMBER.get(m["month"].lower().rstrip("."))
    day_num = int(m["day"])
    if month is None or not 1 <= day_num <= 31:
        return None
    if m["year"]:
        d = _safe_date(int(m["year"]), month, day_num)
        return _date_candidate(m, ctx, cal.day(d) if d else None)
    options = [d for d in (_safe_date(ctx.anchor.year + k, month, day_num) for k in (-1, 0, 1)) if d]
    d = _pick(options, ctx.anchor, _direction(ctx, m))
    return _date_candidate(m, ctx, cal.day(d) if d else None)


def _month_year_rule(m: re.Match, ctx: Context) -> Candidate | None:
    month = _MONTH_NUMBER[m["month"].lower()]
    return _date_candidate(m, ctx, cal.month(int(m["year"]), month))


_BARE_MONTH_BEFORE = {"in", "since", "until", "till", "by", "from", "through", "during", "before", "after",
                      "between", "of", "early", "late", "mid", "last", "next", "this", "and", "to", "or",
                      "throughout", "around", "for", "that", "each", "every", "end", "start"}


_BARE_MONTH_AFTER_PHRASE = {"early as", "late as", "soon as", "until early", "until late"}


def _bare_month(m: re.Match, ctx: Context) -> Candidate | None:
    month = _MONTH_NUMBER[m["month"].lower()]
    rel = (m["rel"] or "").lower()
    before = [w.lower() for w in _word_before(ctx, m.start())]
    if not rel and not m["mod"]:
        two = " ".join(w.lower() for w in _word_before(ctx, m.start(), 3)[:2])
        if not before or (before[-1] not in _BARE_MONTH_BEFORE and two not in _BARE_MONTH_AFTER_PHRASE):
            return None
        if m["month"] in ("May", "March") and before[-1] in ("and", "or", "to", "that"):
            return None
    if rel in ("last", "past", "previous"):
        y = ctx.anchor.year if month < ctx.anchor.month else ctx.anchor.year - 1
    elif rel in ("next", "coming"):
        y = ctx.anchor.year if month > ctx.anchor.month else ctx.anchor.year + 1
    elif rel == "this":
        y = ctx.anchor.year
    else:
        y = _month_year(month, ctx.anchor, _direction(ctx, m))
    return _date_candidate(m, ctx, cal.month(y, month))


def _numeric_date(m: re.Match, ctx: Context) -> Candidate | None:
    if m["iso"]:
        d = _safe_date(int(m["y1"]), int(m["m1"]), int(m["d1"]))
        return _date_candidate(m, ctx, cal.day(d) if d else None)
    a, b, y = int(m["a"]), int(m["b"]), m["y2"]
    year_num = int(y)
    if len(y) == 2:
        year_num += 2000 if year_num <= (ctx.anchor.year % 100) + 10 else 1900
    if a > 12 or (b <= 12 and not ctx.month_first):
        a, b = b, a
    d = _safe_date(year_num, a, b)
    return _date_candidate(m, ctx, cal.day(d) if d else None)


def _year_rule(m: re.Match, ctx: Context) -> Candidate | None:
    y = int(m["year"])
    before = _word_before(ctx, m.start(), 2)
    if before and before[-1].lower() in ("no", "no.", "number", "model", "version", "flight", "route", "windows"):
        return None
    after = ctx.text[m.end(): m.end() + 12]
    if re.match(r"\s*(?:%|per\s*cent|percent|[-–]\d|\.\d)", after):
        return None
    if not m["mod"] and ctx.doc is not None:
        span = ctx.doc.char_span(m.start("year"), m.end("year"))
        if span is not None and len(span) == 1:
            token = span[0]
            if token.dep_ == "nummod" and token.head.tag_ == "NNS":
                return None  # "2000 employees"
            if token.like_num and token.head.lower_ in ("$", "us$", "€", "£"):
                return None
    return _date_candidate(m, ctx, cal.year(y))


def _decade_rule(m: re.Match, ctx: Context) -> Candidate | None:
    if m["century"]:
        first = int(m["century"] + m["digit"] + "0")
    else:
        digit = int(m["digit2"])
        century = 20 if digit * 10 + 2000 <= ctx.anchor.year else 19
        first = century * 100 + digit * 10
    return _date_candidate(m, ctx, cal.decade(first))


def _century_rule(m: re.Match, ctx: Context) -> Candidate | None:
    n = int(m["num"]) if m["num"] else _CENTURY_WORDS.get(re.sub(r"\s+", " ", m["word"].lower()))
    if not n:
        return None
    resolved = cal.century(n)
    return Candidate(m.start(), m.end(), "DATE", resolved.value, resolved)


def _weekday_rule(m: re.Match, ctx: Context) -> Candidate | None:
    wd = _WEEKDAY_NUMBER[m["weekday"].lower()]
    rel = (m["rel"] or "").lower() or None
    d = _weekday_date(wd, ctx.anchor, _direction(ctx, m) if rel is None else UNKNOWN, rel)
    if m["part"]:
        resolved = cal.part_of_day(d, _PARTS_OF_DAY[m["part"].lower()])
        return Candidate(m.start(), m.end(), "TIME", resolved.value, resolved)
    return _date_candidate(m, ctx, cal.day(d))


def _relative_day(m: re.Match, ctx: Context) -> Candidate | None:
    word = re.sub(r"\s+", " ", m["word"].lower())
    shift = {"today": 0, "tonight": 0, "yesterday": -1, "tomorrow": 1, "this": 0, "last": -1,
             "the day before yesterday": -2, "the day after tomorrow": 2}[word]
    d = ctx.anchor + timedelta(days=shift)
    part = (m["part"] or "").lower()
    if word == "tonight":
        part = "night"
    if word == "last":  # "last night"
        if part != "night":
            return None
    if word == "this" and not part:
        return None
    if part:
        resolved = cal.part_of_day(d, _PARTS_OF_DAY[part])
        return Candidate(m.start(), m.end(), "TIME", resolved.value, resolved)
    return _date_candidate(m, ctx, cal.day(d))


def _relative_unit(m: re.Match, ctx: Context) -> Candidate | None:
    rel = (m["rel"] or "").lower()
    unit = re.sub(r"\s+", " ", m["unit"].lower())
    if unit.endswith("quarter"):
        unit = "quarter"
    has_the = bool(m["the"])
    if not rel:
        if not (m["mod"] or m["edge"]):
            return None
        rel = "this"
    if rel == "same":
        return None
    if rel in ("following", "previous", "next") and (has_the or unit == "day") and unit in ("day", "week", "month", "year"):
        # "the following year": counted from the date the narrative is at, resolved in a later pass
        resolved = shifted(ctx.anchor, unit, _shift_rel(rel))
        candidate = _date_candidate(m, ctx, resolved)
        candidate.extras["anaphoric"] = (unit, _shift_rel(rel))
        return candidate
    if unit == "day":
        return None
    if has_the and rel in ("past", "last") and unit not in ("quarter", "weekend") and not (m["mod"] or m["edge"]):
        value = cal.duration_value(1, unit if unit in _UNIT_NAMES else "year")
        return Candidate(m.start(), m.end(), "DURATION", value)
    shift = _shift_rel(rel)
    a = ctx.anchor
    if unit == "week":
        resolved = cal.week(a + timedelta(days=7 * shift))
    elif unit == "weekend":
        resolved = cal.weekend(a + timedelta(days=7 * shift))
    elif unit == "month":
        resolved = cal.month(*cal.shift_month(a.year, a.month, shift))
    elif unit == "year":
        resolved = cal.year(a.year + shift)
    elif unit == "quarter":
        index = a.year * 4 + (a.month - 1) // 3 + shift
        resolved = cal.quarter(index // 4, index % 4 + 1)
    elif unit == "decade":
        resolved = cal.decade(a.year // 10 * 10 + 10 * shift)
    elif unit == "century":
        resolved = cal.century(a.year // 100 + 1 + shift)
    elif unit in ("fiscal year", "financial year"):
        resolved = cal.fiscal(a.year + shift)
    elif unit in _SEASONS:
        code = _SEASONS[unit]
        first, last = _SEASON_MONTHS[code]
        y = a.year
        if shift < 0 and a.month <= last:
            y -= 1
        elif shift > 0 and a.month >= first:
            y += 1
        resolved = cal.season(y, code)
    else:
        return None
    return _date_candidate(m, ctx, resolved)


def shifted(base: date, unit: str, shift: int) -> cal.Resolved:
    """The day, week, month or year ``shift`` units from ``base``."""
    if unit == "day":
        return cal.day(base + timedelta(days=shift))
    if unit == "week":
        return cal.week(base + timedelta(days=7 * shift))
    if unit == "month":
        return cal.month(*cal.shift_month(base.year, base.month, shift))
    return cal.year(base.year + shift)


def _quarter_rule(m: re.Match, ctx: Context) -> Candidate | None:
    q = int(m["q"]) if m["q"] else _ORDINALS[m["ord"].lower()]
    fiscal_year = bool(m["fiscal"])
    if m["year"] or m["qyear"]:
        y = int(m["year"] or m["qyear"])
    elif m["yrel"]:
        y = ctx.anchor.year + _shift_rel(m["yrel"].lower())
    else:
        current = (ctx.anchor.month - 1) // 3 + 1
        y = ctx.anchor.year
        if q > current and _direction(ctx, m) != FUTURE:
            y -= 1
    if m["half"]:
        resolved = cal.half(y, 1 if q == 1 else 2)
    elif fiscal_year:
        resolved = cal.fiscal(y, q)
    else:
        resolved = cal.quarter(y, q)
    return _date_candidate(m, ctx, resolved)


def _fiscal_rule(m: re.Match, ctx: Context) -> Candidate | None:
    y = m["fy"].lstrip("'")
    year_num = int(y) if len(y) == 4 else 2000 + int(y) if int(y) <= ctx.anchor.year % 100 + 10 else 1900 + int(y)
    return _date_candidate(m, ctx, cal.fiscal(year_num))


def _season_rule(m: re.Match, ctx: Context) -> Candidate | None:
    code = _SEASONS[m["season"].lower()]
    if m["year"]:
        return _date_candidate(m, ctx, cal.season(int(m["year"]), code))
    before = [w.lower() for w in _word_before(ctx, m.start())]
    if m["season"].lower() == "fall" or not before or before[-1] not in ("in", "during", "by", "until", "since", "this", "over"):
        return None
    if m["mod"] or (before and before[-1] in ("in", "during", "by", "until", "since", "this", "over")):
        first, last = _SEASON_MONTHS[code]
        direction = _direction(ctx, m)
        y = ctx.anchor.year
        if direction == PAST and ctx.anchor.month < first:
            y -= 1
        return _date_candidate(m, ctx, cal.season(y, code))
    return None


_HOLIDAYS = {"christmas": (12, 25), "christmas day": (12, 25), "christmas eve": (12, 24),
             "new year's day": (1, 1), "new year's eve": (12, 31), "halloween": (10, 31),
             "independence day": (7, 4), "valentine's day": (2, 14), "boxing day": (12, 26)}


def _holiday_rule(m: re.Match, ctx: Context) -> Candidate | None:
    name = re.sub(r"\s+", " ", m["holiday"].lower()).replace("\u2019", "'")
    if name.startswith("thanksgiving"):
        def day_for(y):
            first = date(y, 11, 1)
            return first + timedelta(days=(3 - first.weekday()) % 7 + 21)
    else:
        month, day_num = _HOLIDAYS[name]

        def day_for(y):
            return date(y, month, day_num)
    rel = (m["rel"] or "").lower()
    options = [day_for(ctx.anchor.year + k) for k in (-1, 0, 1)]
    if rel == "last":
        d = max(o for o in options if o < ctx.anchor)
    elif rel == "next":
        d = min(o for o in options if o > ctx.anchor)
    elif rel == "this":
        d = day_for(ctx.anchor.year)
    else:
        d = _pick(options, ctx.anchor, _direction(ctx, m))
    return _date_candidate(m, ctx, cal.day(d))


def _time_rule(m: re.Match, ctx: Context) -> Candidate | None:
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
            from zoneinfo import ZoneInfo
            from datetime import datetime as _dt
            base = int(_dt(ctx.anchor.year, ctx.anchor.month, ctx.anchor.day, 12,
                           tzinfo=ZoneInfo(base)).utcoffset().total_seconds() // 60)
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
    candidate = Candidate(m.start(), end, "TIME", "", clock=(hour, minute, offset))
    return candidate


# words after which "a year", "a week" measure time ("took a year", "for a week")
_DURATION_CONTEXT = {"for", "than", "about", "nearly", "almost", "within", "after", "over", "in", "just", "only",
                     "least", "up", "under", "half", "of", "around", "some", "roughly", "take", "takes", "took",
                     "taken", "taking", "last", "lasts", "lasted", "spend", "spent", "spends", "wait", "waited",
                     "need", "needs", "needed", "than", "nearly", "barely", "once"}


def _quantity_before(ctx: Context, start: int) -> bool:
    """A rate: "$300 million in fuel a year", "15 aircraft a month" (a number within four words)."""
    window = _word_before(ctx, start, 4)
    return any(re.fullmatch(r"\d[\d,.]*|million|billion|thousand|trillion|%", w.lower()) for w in window) \
        and "," not in window and "." not in window


def _duration_rule(m: re.Match, ctx: Context) -> Candidate | None:
    quant = re.sub(r"\s+", " ", m["quant"].lower())
    unit = _unit(m["unit"])
    amount = number_value(quant)
    vague = quant in _VAGUE
    if amount is None and not vague:
        return None
    plural = m["unit"].lower().endswith("s")
    if quant in ("a", "an"):
        if plural:
            return None
        before = [w.lower() for w in _word_before(ctx, m.start(), 2)]
        prev = before[-1] if before else ""
        if re.fullmatch(r"\d[\d,.]*|once|twice|times|million|billion|thousand|hundred|trillion|dozen|%", prev) \
                or prev in _NUMBER_WORDS or (prev not in _DURATION_CONTEXT and _quantity_before(ctx, m.start())):
            value = cal.duration_value(1, unit)
            return Candidate(m.start(), m.end(), "SET", value)
        after = ctx.text[m.end(): m.end() + 12].lower()
        if prev not in _DURATION_CONTEXT \
                and not re.match(r"\s*(?:ago|later|earlier|before|after|long|-long|from now)\b", after) \
                and not m["approx"] and not m["edge"]:
            return None
    if amount is not None and amount == 1 and plural and quant not in ("1",):
        pass
    if amount is not None and amount > 1 and not plural and "-" not in m.group(0) and quant not in ("a dozen",) \
            and not re.match(r"\s+[a-z]", ctx.text[m.end(): m.end() + 2]):
        return None  # "three year" is a duration only as a modifier ("a two hour stoppage")
    value = cal.duration_value(amount, unit)
    return Candidate(m.start(), m.end(), "DURATION", value)


def _age_rule(m: re.Match, ctx: Context) -> Candidate | None:
    amount = number_value(m["quant"])
    if amount is None:
        return None
    return Candidate(m.start(), m.end(), "DURATION", cal.duration_value(amount, _unit(m["unit"])))


def _vague_duration(m: re.Match, ctx: Context) -> Candidate | None:
    unit = _unit(m["unit"])
    return Candidate(m.start(), m.end(), "DURATION", cal.duration_value(None, unit))


def _long_adjective(m: re.Match, ctx: Context) -> Candidate | None:
    unit = _unit(m["unit"])
    amount = None if m["unit"].lower().endswith("s") else 1
    return Candidate(m.start(), m.end(), "DURATION", cal.duration_value(amount, unit))


_SET_WORDS = {"annual": "P1Y", "annually": "P1Y", "yearly": "P1Y", "daily": "P1D", "weekly": "P1W",
              "monthly": "P1M", "quarterly": "P3M", "hourly": "PT1H", "biannual": "P6M", "biennial": "P2Y",
              "semiannual": "P6M", "nightly": "XXXX-XX-XXTNI"}


def _set_word(m: re.Match, ctx: Context) -> Candidate | None:
    return Candidate(m.start(), m.end(), "SET", _SET_WORDS[m["word"]])


def _set_every(m: re.Match, ctx: Context) -> Candidate | None:
    what = m["what"].lower()
    n = m["n"]
    amount = 2 if n and n.lower() == "other" else (number_value(n) if n else 1)
    if what in _WEEKDAY_NUMBER:
        return Candidate(m.start(), m.end(), "SET", f"XXXX-WXX-{_WEEKDAY_NUMBER[what] + 1}")
    if what in _PARTS_OF_DAY:
        return Candidate(m.start(), m.end(), "SET", f"XXXX-XX-XXT{_PARTS_OF_DAY[what]}")
    if what == "weekend":
        return Candidate(m.start(), m.end(), "SET", "XXXX-WXX-WE")
    if what in _SEASONS:
        return Candidate(m.start(), m.end(), "SET", f"XXXX-{_SEASONS[what]}")
    if what == "season":
        return Candidate(m.start(), m.end(), "SET", "P3M")
    if what == "quarter":
        return Candidate(m.start(), m.end(), "SET", f"P{3 * (amount or 1):g}M")
    return Candidate(m.start(), m.end(), "SET", cal.duration_value(amount, _unit(what)))


_REFS = {"now": "PRESENT_REF", "currently": "PRESENT_REF", "presently": "PRESENT_REF", "at present": "PRESENT_REF",
         "nowadays": "PRESENT_REF", "these days": "PRESENT_REF", "right now": "PRESENT_REF",
         "at the moment": "PRESENT_REF", "recently": "PAST_REF", "more recently": "PAST_REF",
         "most recently": "PAST_REF", "lately": "PAST_REF", "the past": "PAST_REF", "the future": "FUTURE_REF",
         "soon": "FUTURE_REF", "the near future": "FUTURE_REF", "the present": "PRESENT_REF"}


def _ref_rule(m: re.Match, ctx: Context) -> Candidate | None:
    word = re.sub(r"\s+", " ", m["word"].lower())
    if word in ("the past", "the future", "the near future", "the present"):
        before = [w.lower() for w in _word_before(ctx, m.start())]
        if not before or before[-1] not in ("in", "into", "for"):
            return None
    if word == "now" and ctx.text[m.end(): m.end() + 1] == "-":
        return None  # "the now-cancelled deal"
    if word == "soon" and (ctx.text[m.end(): m.end() + 6].lower().startswith(" after")
                           or ctx.text[m.end(): m.end() + 1] == "-"):
        return None  # "soon after the launch", "the soon-to-open terminal"
    return Candidate(m.start(), m.end(), "DATE", _REFS[word])


RULES: list[tuple[str, re.Pattern, Callable[[re.Match, Context], Candidate | None]]] = [
    ("month_day_year", _compile(
        r"(?:" + _WEEKDAY.replace("weekday", "wd0") + r",?\s+)?(?:" + _MOD + r")?\b" + _MONTH_ABBR
        + r"\s+" + _DAYNUM + r"\b(?:,?\s+" + _YEAR + r")?"), _month_day_year),
    ("day_month_year", _compile(
        r"(?:" + _WEEKDAY.replace("weekday", "wd0") + r",?\s+)?(?:(?i:the)\s+)?" + _NOT_AFTER_DIGIT + r"\b"
        + _DAYNUM + r"\s+(?:of\s+)?" + _MONTH_ABBR + r"(?:,?\s+" + _YEAR + r")?"), _month_day_year),
    ("month_year", _compile(r"(?:" + _MOD + r")?\b" + _MONTH + r",?\s+(?:of\s+)?" + _YEAR), _month_year_rule),
    ("bare_month", _compile(r"(?:" + _MOD + r"|(?i:" + _REL + r")\s+)?\b" + _MONTH + r"\b(?!\s+\d)"), _bare_month),
    ("numeric_date", _compile(
        _NOT_AFTER_DIGIT + r"\b(?:(?P<iso>(?P<y1>(?:19|20)\d\d)-(?P<m1>[01]\d)-(?P<d1>[0-3]\d))"
        r"|(?P<a>[01]?\d|[23]\d)/(?P<b>[0-3]?\d)/(?P<y2>(?:19|20)\d\d|\d\d))\b(?![/\d])"), _numeric_date),
    ("year", _compile(_NOT_AFTER_DIGIT + r"(?:" + _MOD + r")?(?<![\d,.$£€#/])\b" + _YEAR + r"\b(?!\s*[-–]\s*\d)"
                      + r"(?!'s\b)"), _year_rule),
    ("decade", _compile(r"(?:(?i:the)\s+)?(?:(?i:early|late|mid)[\s-]+)?(?:(?P<century>19|20)(?P<digit>\d)0|'(?P<digit2>\d)0)['’]?s\b"),
     _decade_rule),
    ("century", _compile(r"(?i:the\s+(?:(?P<num>\d{1,2})(?:st|nd|rd|th)|(?P<word>eighteenth|nineteenth|twentieth|twenty[\s-]first))\s+century)"),
     _century_rule),
    ("weekday", _compile(r"(?:(?i:" + _REL + r")\s+)?\b" + _WEEKDAY
                         + r"(?:\s+(?P<part>(?i:morning|afternoon|evening|night)))?\b"), _weekday_rule),
    ("relative_day", _compile(
        r"(?i:\b(?:(?:earlier|later)\s+)?(?P<word>today|tonight|yesterday|tomorrow|the\s+day\s+before\s+yesterday"
        r"|the\s+day\s+after\s+tomorrow|this|last)(?:\s+(?P<part>morning|afternoon|evening|night))?\b)"),
     _relative_day),
    ("relative_unit", _compile(
        r"(?i:\b(?:" + _MOD + r")?(?P<edge>(?:earlier|later)\s+)?(?P<the>the\s+)?(?:(?P<rel>this|last|next|coming|previous|past|current|following|upcoming|same)\s+)?"
        r"(?P<unit>day|week|weekend|month|year|(?:fiscal\s+|financial\s+)?quarter|decade|century|fiscal\s+year|financial\s+year|summer|winter|spring|autumn)\b)(?!-)"),
     _relative_unit),
    ("quarter", _compile(
        r"(?i:\b(?:the\s+)?(?P<fiscal>fiscal\s+|financial\s+)?(?P<ord>first|second|third|fourth|final|1st|2nd|3rd|4th)"
        r"[\s-]+(?:fiscal\s+|financial\s+|calendar\s+)?(?:quarter|(?P<half>half))"
        r"(?:\s+of\s+(?:(?:fiscal\s+)?" + _YEAR + r"|(?P<yrel>this|last|next)\s+year|the\s+year))?"
        r"|\bQ(?P<q>[1-4])(?:\s+(?P<qyear>(?:19|20)\d\d))?\b)"),
     _quarter_rule),
    ("fiscal", _compile(r"(?i:\b(?:fiscal(?:\s+year)?\s+|FY\s?)(?P<fy>(?:19|20)\d\d|'?\d\d)\b)"), _fiscal_rule),
    ("season", _compile(r"(?:" + _MOD + r")?(?i:\b(?P<season>spring|summer|autumn|fall|winter)\b)(?:\s+(?:of\s+)?"
                        + _YEAR + r")?"), _season_rule),
    ("holiday", _compile(r"(?:(?i:(?P<rel>last|next|this))\s+)?\b(?P<holiday>Christmas(?:\s+(?:Day|Eve))?|New\s+Year['’]s\s+(?:Day|Eve)"
                         r"|Halloween|Thanksgiving(?:\s+Day)?|Independence\s+Day|Valentine['’]s\s+Day|Boxing\s+Day)\b"),
     _holiday_rule),
    ("time", _compile(
        r"(?<![\d:.$])\b(?:(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)(?::[0-5]\d)?(?:\s*" + _AMPM + r")?"
        r"|(?P<h2>1[0-2]|0?[1-9])(?:\.(?P<min2>[0-5]\d))?\s*(?P<ampm2>[ap]\.m\.|[ap]m\b|[AP]M\b)"
        r"|(?P<noon>(?i:noon|midnight))|(?P<hhmm>[01]\d[0-5]\d|2[0-3][0-5]\d)(?=\s+(?:GMT|UTC)))"
        r"(?:\s*\(?" + _ZONE + r"(?:\s*(?P<sign>[+-])\s*(?P<zh>\d{1,2})(?::?(?P<zm>\d{2}))?)?\b\)?)?"), None),
    ("age", _compile(r"(?i:\b(?P<quant>\d+|" + _NUMWORD + r"(?:-" + _NUMWORD + r")?)[\s-]" + _UNIT + r"[\s-]old\b)"), _age_rule),
    ("duration", _compile(
        r"(?i:\b(?P<approx>(?:almost|nearly|about|around|approximately|roughly|some)\s+)?"
        r"(?P<edge>the\s+(?:first|last|past|next|previous|coming|following|final)\s+)?" + _QUANT + r"[\s-]+" + _UNIT
        + r"\b)(?![\s-]old)"), _duration_rule),
    ("vague_duration", _compile(r"(?i:\b(?:over\s+the|(?:in\s+)?recent|the\s+(?:past|last|next|coming)(?:\s+few)?)\s+"
                                r"(?P<unit>years|months|weeks|decades|days|centuries)\b)"), _vague_duration),
    ("bare_plural_duration", _compile(r"(?i:(?:(?<=\bfor\s)|(?<=\bjust\s)|(?<=\bonly\s)|(?<=\bwithin\s)|(?<=\btake\s)"
                                      r"|(?<=\btook\s)|(?<=\blast\s))(?P<unit>years|months|weeks|decades|days|hours|centuries)\b"
                                      r"|\b(?P<unit2>years|months|weeks|decades|days)(?=\s+(?:later|earlier|after|before|ago)\b))"),
     lambda m, ctx: Candidate(m.start(), m.end(), "DURATION", cal.duration_value(None, _unit(m["unit"] or m["unit2"])))),
    ("long_adjective", _compile(r"(?i:\b(?P<unit>decades|years|months|weeks|days|hours|year|month|week|day)[\s-]?long\b)"),
     _long_adjective),
    ("set_word", _compile(r"\b(?P<word>annual|annually|yearly|daily|weekly|monthly|quarterly|hourly|biannual|biennial"
                          r"|semiannual|nightly)\b"), _set_word),
    ("set_every", _compile(r"(?i:\b(?:each|every|per)\s+(?:(?P<n>other|\d+|" + _NUMWORD + r")\s+)?"
                           r"(?P<what>seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|seasons?|quarters?"
                           r"|mornings?|afternoons?|evenings?|nights?|weekends?|summer|winter|spring|autumn"
                           r"|Mondays?|Tuesdays?|Wednesdays?|Thursdays?|Fridays?|Saturdays?|Sundays?)\b)"), _set_every),
    ("reference", _compile(r"(?i:\b(?P<word>now|currently|presently|at\s+present|nowadays|these\s+days|right\s+now"
                           r"|at\s+the\s+moment|(?:more\s+|most\s+)?recently|lately|the\s+past|the\s+(?:near\s+)?future"
                           r"|soon|the\s+present)\b)"), _ref_rule),
]

# the time rule reads alternative group names; normalise them in one place
_TIME_INDEX = next(i for i, rule in enumerate(RULES) if rule[0] == "time")


class _TimeMatch:
    """Gives the two alternative hour/minute/am-pm groups of the time pattern one set of names."""

    def __init__(self, match: re.Match):
        self._m = match

    def __getitem__(self, key):
        m = self._m
        if key == "h":
            return m["h"] or m["h2"]
        if key == "min":
            return m["min"] or m["min2"]
        if key == "ampm":
            return m["ampm"] or m["ampm2"]
        return m[key]

    def start(self, *a):
        return self._m.start(*a)

    def end(self, *a):
        return self._m.end(*a)


def _time_entry(m: re.Match, ctx: Context) -> Candidate | None:
    return _time_rule(_TimeMatch(m), ctx)


RULES[_TIME_INDEX] = (RULES[_TIME_INDEX][0], RULES[_TIME_INDEX][1], _time_entry)

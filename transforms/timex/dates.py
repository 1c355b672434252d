"""Rules for calendar expressions: dates, months, years, weekdays, relative units ("last month"),
quarters and fiscal years, seasons, holidays. Each turns a regex match into a Candidate."""

from __future__ import annotations

import re
from datetime import date, timedelta

from transforms.timex import calendar as cal
from transforms.timex.lexicon import (
    CENTURY_WORDS,
    Candidate,
    Context,
    MONTH_NUMBER,
    ORDINALS,
    PARTS_OF_DAY,
    SEASONS,
    SEASON_MONTHS,
    UNIT_NAMES,
    WEEKDAY_NUMBER,
    direction_of,
    month_year_for,
    number_value,
    pick_date,
    safe_date,
    shift_of,
    unit_name,
    weekday_date,
    words_before,
)
from transforms.timex.tense import FUTURE, PAST, UNKNOWN

__all__ = [
    "date_candidate",
    "month_day_year_rule",
    "month_year_rule",
    "bare_month_rule",
    "numeric_date_rule",
    "year_rule",
    "decade_rule",
    "decade_word_rule",
    "century_rule",
    "weekday_rule",
    "relative_day_rule",
    "relative_unit_rule",
    "shifted",
    "quarter_rule",
    "fiscal_rule",
    "season_rule",
    "holiday_rule",
    "offset_date_rule",
    "bare_ago_rule",
    "same_unit_rule",
    "the_unit_rule",
    "streak_rule",
]

# Each rule is a function(match, ctx) -> Candidate | None, paired with its regex in grammar.RULES.


def date_candidate(m: re.Match, ctx: Context, resolved: cal.Resolved | None, kind: str = "DATE",
                    start: int | None = None, end: int | None = None) -> Candidate | None:
    if resolved is None:
        return None
    return Candidate(m.start() if start is None else start, m.end() if end is None else end, kind,
                     resolved.value, resolved)


def month_day_year_rule(m: re.Match, ctx: Context) -> Candidate | None:
    month = MONTH_NUMBER.get(m["month"].lower().rstrip("."))
    day_num = int(m["day"])
    if month is None or not 1 <= day_num <= 31:
        return None
    if m["year"]:
        d = safe_date(int(m["year"]), month, day_num)
        return date_candidate(m, ctx, cal.day(d) if d else None)
    options = [d for d in (safe_date(ctx.anchor.year + k, month, day_num) for k in (-1, 0, 1)) if d]
    d = pick_date(options, ctx.anchor, direction_of(ctx, m))
    return date_candidate(m, ctx, cal.day(d) if d else None)


def month_year_rule(m: re.Match, ctx: Context) -> Candidate | None:
    month = MONTH_NUMBER[m["month"].lower()]
    return date_candidate(m, ctx, cal.month(int(m["year"]), month))


_BARE_MONTH_BEFORE = {"in", "since", "until", "till", "by", "from", "through", "during", "before", "after",
                      "between", "of", "early", "late", "mid", "last", "next", "this", "and", "to", "or",
                      "throughout", "around", "for", "that", "each", "every", "end", "start"}


_BARE_MONTH_AFTER_PHRASE = {"early as", "late as", "soon as", "until early", "until late"}


def bare_month_rule(m: re.Match, ctx: Context) -> Candidate | None:
    month = MONTH_NUMBER[m["month"].lower()]
    if _inside_name(ctx, m.start("month"), m.end("month")):
        return None
    rel = (m["rel"] or "").lower()
    before = [w.lower() for w in words_before(ctx, m.start())]
    if not rel and not m["mod"]:
        two = " ".join(w.lower() for w in words_before(ctx, m.start(), 3)[:2])
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
        y = month_year_for(month, ctx.anchor, direction_of(ctx, m))
    return date_candidate(m, ctx, cal.month(y, month))


def numeric_date_rule(m: re.Match, ctx: Context) -> Candidate | None:
    if m["iso"]:
        d = safe_date(int(m["y1"]), int(m["m1"]), int(m["d1"]))
        return date_candidate(m, ctx, cal.day(d) if d else None)
    if m["y3"]:  # 17.08.2020: dotted dates are day first
        d = safe_date(int(m["y3"]), int(m["b3"]), int(m["a3"]))
        return date_candidate(m, ctx, cal.day(d) if d else None)
    a, b, y = int(m["a"]), int(m["b"]), m["y2"]
    year_num = int(y)
    if len(y) == 2:
        year_num += 2000 if year_num <= (ctx.anchor.year % 100) + 10 else 1900
    if a > 12 or (b <= 12 and not ctx.month_first):
        a, b = b, a
    d = safe_date(year_num, a, b)
    return date_candidate(m, ctx, cal.day(d) if d else None)


_COUNTED_NOUNS = {
    "people", "persons", "employees", "workers", "jobs", "staff", "troops", "soldiers", "police", "officers",
    "passengers", "students", "residents", "members", "units", "planes", "aircraft", "jets", "cars", "vehicles",
    "homes", "houses", "deaths", "cases", "votes", "shares", "points", "feet", "ft", "metres", "meters", "km",
    "kilometres", "kilometers", "miles", "tons", "tonnes", "barrels", "dollars", "euros", "pounds", "rupees",
    "yen", "calories", "words", "pages", "copies", "seats", "rooms", "beds", "signatures", "complaints",
}


def year_rule(m: re.Match, ctx: Context) -> Candidate | None:
    y = int(m["year"])
    before = words_before(ctx, m.start(), 2)
    if before and before[-1].lower() in ("no", "no.", "number", "model", "version", "flight", "route", "windows"):
        return None
    after = ctx.text[m.end(): m.end() + 12]
    if re.match(r"\s*(?:%|per\s*cent|percent|[-–]\d|\.\d)", after):
        return None
    following = re.match(r"\s+([a-z]+)", after)
    if following and following.group(1) in _COUNTED_NOUNS:
        return None  # "2000 employees": a count, not a year (news style writes counts of thousands with a comma)
    return date_candidate(m, ctx, cal.year(y))


def decade_rule(m: re.Match, ctx: Context) -> Candidate | None:
    if m["century"]:
        first = int(m["century"] + m["digit"] + "0")
    else:
        digit = int(m["digit2"])
        century = 20 if digit * 10 + 2000 <= ctx.anchor.year else 19
        first = century * 100 + digit * 10
    return date_candidate(m, ctx, cal.decade(first))


_DECADE_WORDS = {"twenties": 2, "thirties": 3, "forties": 4, "fifties": 5, "sixties": 6, "seventies": 7,
                 "eighties": 8, "nineties": 9}


def decade_word_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """"the 70s", "the eighties" (TIDES: value 197, 198): the latest such decade not after the anchor."""
    digit = int(m["digit"]) if m["digit"] else _DECADE_WORDS[m["word"].lower()]
    century = 20 if digit * 10 + 2000 <= ctx.anchor.year else 19
    return date_candidate(m, ctx, cal.decade(century * 100 + digit * 10))


def century_rule(m: re.Match, ctx: Context) -> Candidate | None:
    n = int(m["num"]) if m["num"] else CENTURY_WORDS.get(re.sub(r"\s+", " ", m["word"].lower()))
    if not n:
        return None
    resolved = cal.century(n)
    return Candidate(m.start(), m.end(), "DATE", resolved.value, resolved)


_NAME_ENTITIES = {"ORG", "PERSON", "WORK_OF_ART", "PRODUCT", "FAC", "EVENT", "GPE", "NORP"}


def _inside_name(ctx: Context, start: int, end: int) -> bool:
    """"the Sunday Times", "August Busch": the word is part of a named entity that is not a date."""
    if ctx.doc is None:
        return False
    span = ctx.doc.char_span(start, end, alignment_mode="expand")
    return span is not None and any(token.ent_type_ in _NAME_ENTITIES for token in span)


def weekday_rule(m: re.Match, ctx: Context) -> Candidate | None:
    wd = WEEKDAY_NUMBER[m["weekday"].lower()]
    if _inside_name(ctx, m.start("weekday"), m.end("weekday")):
        return None
    rel = (m["rel"] or "").lower() or None
    if rel in ("early", "late"):
        rel = None
    d = weekday_date(wd, ctx.anchor, direction_of(ctx, m) if rel is None else UNKNOWN, rel)
    if m["part"]:
        resolved = cal.part_of_day(d, PARTS_OF_DAY[m["part"].lower()])
        return Candidate(m.start(), m.end(), "TIME", resolved.value, resolved)
    return date_candidate(m, ctx, cal.day(d))


def relative_day_rule(m: re.Match, ctx: Context) -> Candidate | None:
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
        resolved = cal.part_of_day(d, PARTS_OF_DAY[part])
        return Candidate(m.start(), m.end(), "TIME", resolved.value, resolved)
    return date_candidate(m, ctx, cal.day(d))


def relative_unit_rule(m: re.Match, ctx: Context) -> Candidate | None:
    rel = (m["rel"] or "").lower()
    unit = re.sub(r"\s+", " ", m["unit"].lower())
    if unit.endswith("quarter"):
        unit = "quarter"
    has_the = bool(m["the"])
    if not rel and has_the and unit == "weekend" and not (m["mod"] or m["edge"]):
        # "over the weekend": the weekend before the anchor in the past tense, else the coming one
        back = ctx.anchor.weekday() < 5 and direction_of(ctx, m) == PAST
        return date_candidate(m, ctx, cal.weekend(ctx.anchor - timedelta(days=7 if back else 0)))
    if not rel:
        if not (m["mod"] or m["edge"]):
            return None
        rel = "this"
    if rel == "same":
        return None
    if rel in ("following", "previous", "next") and (has_the or unit == "day") and unit in ("day", "week", "month", "year"):
        # "the following year": counted from the date the narrative is at, resolved in a later pass
        resolved = shifted(ctx.anchor, unit, shift_of(rel))
        candidate = date_candidate(m, ctx, resolved)
        candidate.extras["anaphoric"] = (unit, shift_of(rel))
        return candidate
    if unit == "day":
        return None
    if has_the and rel in ("past", "last") and unit not in ("quarter", "weekend") and not (m["mod"] or m["edge"]):
        value = cal.duration_value(1, unit if unit in UNIT_NAMES else "year")
        return Candidate(m.start(), m.end(), "DURATION", value)
    shift = shift_of(rel)
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
    elif unit in SEASONS:
        code = SEASONS[unit]
        first, last = SEASON_MONTHS[code]
        y = a.year
        if shift < 0 and a.month <= last:
            y -= 1
        elif shift > 0 and a.month >= first:
            y += 1
        resolved = cal.season(y, code)
    else:
        return None
    return date_candidate(m, ctx, resolved)


def shifted(base: date, unit: str, shift: int) -> cal.Resolved:
    """The day, week, month, quarter or year ``shift`` units from ``base``."""
    if unit == "day":
        return cal.day(base + timedelta(days=shift))
    if unit == "week":
        return cal.week(base + timedelta(days=7 * shift))
    if unit == "month":
        return cal.month(*cal.shift_month(base.year, base.month, shift))
    if unit == "quarter":
        index = base.year * 4 + (base.month - 1) // 3 + shift
        return cal.quarter(index // 4, index % 4 + 1)
    return cal.year(base.year + shift)


def quarter_rule(m: re.Match, ctx: Context) -> Candidate | None:
    q = int(m["q"]) if m["q"] else ORDINALS[m["ord"].lower()]
    fiscal_year = bool(m["fiscal"])
    if m["year"] or m["qyear"]:
        y = int(m["year"] or m["qyear"])
    elif m["yrel"]:
        y = ctx.anchor.year + shift_of(m["yrel"].lower())
    else:
        current = (ctx.anchor.month - 1) // 3 + 1
        y = ctx.anchor.year
        if q > current and direction_of(ctx, m) != FUTURE:
            y -= 1
    if m["half"]:
        resolved = cal.half(y, 1 if q == 1 else 2)
    elif fiscal_year:
        resolved = cal.fiscal(y, q)
    else:
        resolved = cal.quarter(y, q)
    return date_candidate(m, ctx, resolved)


def fiscal_rule(m: re.Match, ctx: Context) -> Candidate | None:
    y = m["fy"].lstrip("'")
    year_num = int(y) if len(y) == 4 else 2000 + int(y) if int(y) <= ctx.anchor.year % 100 + 10 else 1900 + int(y)
    return date_candidate(m, ctx, cal.fiscal(year_num))


_SEASON_BEFORE = {"in", "during", "by", "until", "since", "over", "through", "throughout"}


def season_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """"summer 2011", "the fall of 2011", "in (the) summer"; a bare season needs a preposition, and
    "fall" needs a year (it is mostly a verb)."""
    code = SEASONS[m["season"].lower()]
    if m["year"]:
        return date_candidate(m, ctx, cal.season(int(m["year"]), code))
    before = [w.lower() for w in words_before(ctx, m.start(), 2)]
    if before and before[-1] == "the":
        before = before[:-1]
    if m["season"].lower() == "fall" or not before or before[-1] not in _SEASON_BEFORE:
        return None
    first, _ = SEASON_MONTHS[code]
    y = ctx.anchor.year
    if direction_of(ctx, m) == PAST and ctx.anchor.month < first:
        y -= 1
    return date_candidate(m, ctx, cal.season(y, code))


_HOLIDAYS = {"christmas": (12, 25), "christmas day": (12, 25), "christmas eve": (12, 24),
             "new year's day": (1, 1), "new year's eve": (12, 31), "halloween": (10, 31),
             "independence day": (7, 4), "valentine's day": (2, 14), "boxing day": (12, 26)}


def holiday_rule(m: re.Match, ctx: Context) -> Candidate | None:
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
        d = pick_date(options, ctx.anchor, direction_of(ctx, m))
    return date_candidate(m, ctx, cal.day(d))




# ---------------------------------------------------------------- relative dates (TIDES 2005, sec. 4.2)
# "three years ago" is a point in time, not a length: TIDES/TimeML value it as the date that far
# back from the reference time, at the granularity of the unit ("two weeks ago" -> a week value),
# and "years ago" (no number) as PAST_REF. "a year earlier", "two days later" count from the time
# the narrative is at (the last mentioned date; the publication date when the text names none).
# Source: the guidelines' examples (tests/transforms/test_timex_guidelines.py), not a dev folder.

_OFFSET_UNITS = {"day": "day", "week": "week", "fortnight": "week", "month": "month", "year": "year",
                 "decade": "decade"}


def offset_date_rule(m: re.Match, ctx: Context) -> Candidate | None:
    direction = m["dir"].lower()
    unit = unit_name(m["unit"])
    amount = number_value(re.sub(r"\s+", " ", m["quant"].lower()))
    if amount is None:  # "several years ago": a vague point in the past
        return Candidate(m.start(), m.end(), "DATE", "PAST_REF") if direction == "ago" else None
    if unit not in _OFFSET_UNITS or amount != int(amount) or amount <= 0:
        return None  # "two hours ago" (a clock time we cannot place), "two and a half years ago"
    n = int(amount) * (2 if unit == "fortnight" else 1)
    unit = _OFFSET_UNITS[unit]
    if unit == "decade":
        if direction != "ago":
            return None
        return date_candidate(m, ctx, cal.decade(ctx.anchor.year // 10 * 10 - 10 * n))
    shift = n if direction == "later" else -n
    candidate = date_candidate(m, ctx, shifted(ctx.anchor, unit, shift))
    if direction != "ago":
        candidate.extras["anaphoric"] = (unit, shift)
    return candidate


def bare_ago_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """"years ago", "decades ago": TimeML PAST_REF."""
    return Candidate(m.start(), m.end(), "DATE", "PAST_REF")


def same_unit_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """"the same day", "that week", "that year": the unit of the time the narrative is at (TimeML
    reference time), resolved in the anaphora pass; the publication date's unit when none precedes."""
    unit = m["unit"].lower()
    if unit in PARTS_OF_DAY:  # "that night", "the same morning": a part of the reference day
        part = PARTS_OF_DAY[unit]
        resolved = cal.part_of_day(ctx.anchor, part)
        candidate = Candidate(m.start(), m.end(), "TIME", resolved.value, resolved)
        candidate.extras["anaphoric"] = ("day", 0)
        candidate.extras["part"] = part
        return candidate
    return _reference_unit(m, ctx, unit)


def the_unit_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """"profit for the quarter", "sales in the year": a definite calendar unit after a preposition is
    the unit of the reference time (TimeML annotates it as a DATE), like "the same year"."""
    unit = m["unit"].lower()
    return _reference_unit(m, ctx, unit, start=m.start("span"))


def streak_rule(m: re.Match, ctx: Context) -> Candidate | None:
    """"for a second consecutive day", "the third straight week": the unit the streak has reached, that
    of the reference time (the day of the report when the text names no other): a DATE, not a length."""
    unit = m["unit"].lower()
    return _reference_unit(m, ctx, unit)


def _reference_unit(m: re.Match, ctx: Context, unit: str, start: int | None = None) -> Candidate:
    """The ``unit`` of the reference time: the anchor's until the anaphora pass finds a prior date."""
    candidate = date_candidate(m, ctx, shifted(ctx.anchor, unit, 0), start=start)
    candidate.extras["anaphoric"] = (unit, 0)
    return candidate

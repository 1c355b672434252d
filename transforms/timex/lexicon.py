"""The lexicon of English time expressions (month, weekday and number words, regex fragments) and the
helpers every rule shares: the candidate record, the rule context, and date picking by tense."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Callable

from transforms.parse.pubtime import ZONE_ABBREVIATIONS
from transforms.timex import calendar as cal
from transforms.timex.tense import FUTURE, PAST

__all__ = [
    "Context",
    "Candidate",
    "number_value",
    "unit_name",
    "words_before",
    "safe_date",
    "pick_date",
    "month_year_for",
    "weekday_date",
    "shift_of",
    "direction_of",
    "MONTHS",
    "MONTH_NUMBER",
    "WEEKDAYS",
    "WEEKDAY_NUMBER",
    "NUMBER_WORDS",
    "VAGUE",
    "ORDINALS",
    "CENTURY_WORDS",
    "SEASONS",
    "SEASON_MONTHS",
    "PARTS_OF_DAY",
    "UNIT_NAMES",
    "ZONES",
    "MONTH",
    "MONTH_ABBR",
    "WEEKDAY",
    "DAYNUM",
    "YEAR",
    "MOD",
    "NUMWORD",
    "QUANT",
    "UNIT",
    "REL",
    "ZONE",
    "AMPM",
    "NOT_AFTER_DIGIT",
]


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
    """One possible timex: a span of the text with its type and value (or, for a clock time, the
    hour, minute and zone offset until its day is known)."""

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

MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December"]
MONTH_NUMBER = {name.lower(): i for i, name in enumerate(MONTHS, start=1)}
MONTH_NUMBER.update({name[:3].lower(): i for i, name in enumerate(MONTHS, start=1)})
MONTH_NUMBER["sept"] = 9
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAY_NUMBER = {name.lower(): i for i, name in enumerate(WEEKDAYS)}

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
    "a": 1, "an": 1, "dozen": 12, "a dozen": 12, "half a": 0.5, "half an": 0.5, "a half": 0.5,
    "a couple of": 2, "couple of": 2,
}
VAGUE = {"several", "many", "a few", "few", "some", "a number of", "numerous", "countless"}
ORDINALS = {"first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
             "final": 4, "last": 4}
CENTURY_WORDS = {"eighteenth": 18, "nineteenth": 19, "twentieth": 20, "twenty-first": 21, "twenty first": 21}
SEASONS = {"spring": "SP", "summer": "SU", "autumn": "FA", "fall": "FA", "winter": "WI"}
SEASON_MONTHS = {"SP": (3, 5), "SU": (6, 8), "FA": (9, 11), "WI": (12, 14)}
PARTS_OF_DAY = {"morning": "MO", "afternoon": "AF", "evening": "EV", "night": "NI", "tonight": "NI"}
UNIT_NAMES = {"second": "second", "sec": "second", "minute": "minute", "min": "minute", "hour": "hour",
               "hr": "hour", "day": "day", "week": "week", "fortnight": "fortnight", "month": "month",
               "year": "year", "decade": "decade", "century": "century", "centurie": "century"}
ZONES = sorted((z for z in ZONE_ABBREVIATIONS if len(z) >= 2 and z != "UK"), key=len, reverse=True)

# ---------------------------------------------------------------- regex fragments

MONTH = r"(?P<month>" + "|".join(MONTHS) + r")"
MONTH_ABBR = (r"(?P<month>" + "|".join(MONTHS)
               + r"|(?:Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)\.?)")
WEEKDAY = r"(?P<weekday>" + "|".join(WEEKDAYS) + r")"
DAYNUM = r"(?P<day>[0-3]?\d)(?:st|nd|rd|th)?"
YEAR = r"(?P<year>(?:19|20)\d\d)(?![\d%])"
MOD = r"(?P<mod>(?i:(?:early|late|mid|the\s+(?:very\s+)?(?:beginning|start|end|middle|rest|close)\s+of)[\s-]+))"
NUMWORD = (r"(?:zero|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen"
            r"|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety|hundred)")
QUANT = (r"(?P<quant>(?<![\d,.])\d{1,3}(?:,\d{3})+|(?<![\d,.])\d+(?:\.\d+)?|" + NUMWORD + r"(?:[\s-]" + NUMWORD + r")?(?:\s+and\s+a\s+half)?"
          r"|a\s+(?:couple\s+of|few|dozen|half)|half\s+an?|several|many|few|some|a\s+number\s+of|numerous|an?)")
UNIT = r"(?P<unit>seconds?|minutes?|hours?|days?|weeks?|fortnights?|months?|years?|decades?|centur(?:y|ies))"
REL = r"(?P<rel>this|last|next|coming|previous|past|current|following|upcoming)"
ZONE = r"(?P<zone>" + "|".join(ZONES) + r")"
AMPM = r"(?P<ampm>[ap]\.m\.|[ap]m\b|[AP]M\b)"
NOT_AFTER_DIGIT = r"(?<![\d,.$£€#/-])"


# ---------------------------------------------------------------- helpers


def number_value(text: str) -> float | None:
    """2, "two", "twenty-five", "two and a half", "a couple of" -> a number; vague quantities -> None."""
    text = re.sub(r"\s+", " ", text.lower().strip())
    if text in VAGUE:
        return None
    half = 0.0
    if text.endswith(" and a half"):
        text, half = text[: -len(" and a half")], 0.5
    try:
        return float(text.replace(",", "")) + half
    except ValueError:
        pass
    if text in NUMBER_WORDS:
        return NUMBER_WORDS[text] + half
    parts = re.split(r"[\s-]", text)
    if all(p in NUMBER_WORDS for p in parts):
        total = 0.0
        for p in parts:
            total = total * 100 if p == "hundred" else total + NUMBER_WORDS[p]
        return total + half
    return None


def unit_name(text: str) -> str:
    text = text.lower()
    if text.endswith("ies"):
        return "century"
    return UNIT_NAMES.get(text.rstrip("s"), UNIT_NAMES.get(text, "year"))


def words_before(ctx: Context, start: int, n: int = 1) -> list[str]:
    return re.findall(r"[A-Za-z']+|\d[\d,.]*|\S", ctx.text[max(0, start - 60): start])[-n:]


def safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


_AGAINST_TENSE_COST = 4  # a date against the tense must be this many times closer to win


def pick_date(candidates: list[date], anchor: date, direction: str) -> date | None:
    """The candidate nearest the anchor, where distance against the tense counts several times over:
    "arrived on June 18" in a July article is 18 June; "lands on November 11" on 5 November is the 11th."""
    if not candidates:
        return None

    def cost(c: date) -> tuple:
        days = (c - anchor).days
        against = (direction == PAST and days > 0) or (direction == FUTURE and days < 0)
        return (abs(days) * (_AGAINST_TENSE_COST if against else 1), days > 0)

    return min(candidates, key=cost)


def month_year_for(m: int, anchor: date, direction: str) -> int:
    if direction == PAST:
        return anchor.year if m <= anchor.month else anchor.year - 1
    if direction == FUTURE:
        return anchor.year if m >= anchor.month else anchor.year + 1
    options = [anchor.year - 1, anchor.year, anchor.year + 1]
    return min(options, key=lambda y: (abs((y * 12 + m) - (anchor.year * 12 + anchor.month)), y != anchor.year))


def weekday_date(wd: int, anchor: date, direction: str, rel: str | None) -> date:
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


def shift_of(rel: str) -> int:
    if rel in ("last", "previous", "past"):
        return -1
    if rel in ("next", "coming", "following", "upcoming"):
        return 1
    return 0


def direction_of(ctx: Context, m: re.Match) -> str:
    return ctx.direction(m.start(), m.end())



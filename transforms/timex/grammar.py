"""The surface grammar of English time expressions: one regular expression per rule family, paired
with the rule (transforms/timex/dates.py, quantities.py) that turns a match into a candidate.
Where candidates overlap, the longest wins, then the earlier entry of RULES."""

from __future__ import annotations

import re
from typing import Callable

from transforms.timex import calendar as cal
from transforms.timex.lexicon import (
    AMPM,
    Candidate,
    Context,
    DAYNUM,
    MOD,
    MONTH,
    MONTH_ABBR,
    MONTHS,
    NOT_AFTER_DIGIT,
    NUMWORD,
    QUANT,
    REL,
    UNIT,
    WEEKDAY,
    WEEKDAYS,
    YEAR,
    ZONE,
    unit_name,
)
from transforms.timex.dates import (
    bare_month_rule,
    century_rule,
    decade_rule,
    fiscal_rule,
    holiday_rule,
    month_day_year_rule,
    month_year_rule,
    numeric_date_rule,
    quarter_rule,
    relative_day_rule,
    relative_unit_rule,
    season_rule,
    weekday_rule,
    year_rule,
)
from transforms.timex.quantities import (
    age_rule,
    duration_rule,
    long_adjective_rule,
    ref_rule,
    set_every_rule,
    set_word_rule,
    time_rule,
    vague_duration_rule,
)

__all__ = ["RULES", "WORD", "WORD_TRIGGERS", "PATTERN_TRIGGERS", "WINDOW_BEFORE", "WINDOW_AFTER"]


def _compile(pattern: str) -> re.Pattern:
    return re.compile(pattern)


RULES: list[tuple[str, re.Pattern, Callable[[re.Match, Context], Candidate | None]]] = [
    ("month_day_year", _compile(
        r"(?:" + WEEKDAY.replace("weekday", "wd0") + r",?\s+)?(?:" + MOD + r")?\b" + MONTH_ABBR
        + r"\s+" + DAYNUM + r"\b(?:,?\s+" + YEAR + r")?"), month_day_year_rule),
    ("day_month_year", _compile(
        r"(?:" + WEEKDAY.replace("weekday", "wd0") + r",?\s+)?(?:(?i:the)\s+)?" + NOT_AFTER_DIGIT + r"\b"
        + DAYNUM + r"\s+(?:of\s+)?" + MONTH_ABBR + r"(?:,?\s+" + YEAR + r")?"), month_day_year_rule),
    ("month_year", _compile(r"(?:" + MOD + r")?\b" + MONTH + r",?\s+(?:of\s+)?" + YEAR), month_year_rule),
    ("bare_month", _compile(r"(?:" + MOD + r"|(?i:" + REL + r")\s+)?\b" + MONTH + r"\b(?!\s+\d)"), bare_month_rule),
    ("numeric_date", _compile(
        NOT_AFTER_DIGIT + r"\b(?:(?P<iso>(?P<y1>(?:19|20)\d\d)-(?P<m1>[01]\d)-(?P<d1>[0-3]\d))"
        r"|(?P<a>[01]?\d|[23]\d)/(?P<b>[0-3]?\d)/(?P<y2>(?:19|20)\d\d|\d\d)"
        r"|(?P<a3>[0-3]?\d)\.(?P<b3>[01]?\d)\.(?P<y3>(?:19|20)\d\d))\b(?![/.]?\d)"), numeric_date_rule),
    ("year", _compile(NOT_AFTER_DIGIT + r"(?:" + MOD + r")?(?<![\d,.$£€#/])\b" + YEAR + r"\b(?!\s*[-–]\s*\d)"),
     year_rule),
    ("decade", _compile(r"(?:(?i:the)\s+)?(?:(?i:early|late|mid)[\s-]+)?(?:(?P<century>19|20)(?P<digit>\d)0|'(?P<digit2>\d)0)['’]?s\b"),
     decade_rule),
    ("century", _compile(r"(?i:the\s+(?:(?P<num>\d{1,2})(?:st|nd|rd|th)|(?P<word>eighteenth|nineteenth|twentieth|twenty[\s-]first))\s+century)"),
     century_rule),
    ("weekday", _compile(r"(?:(?i:" + REL + r"|early|late)\s+)?\b" + WEEKDAY
                         + r"(?:\s+(?P<part>(?i:morning|afternoon|evening|night)))?\b"), weekday_rule),
    ("relative_day", _compile(
        r"(?i:\b(?:(?:earlier|later)\s+)?(?P<word>today|tonight|yesterday|tomorrow|the\s+day\s+before\s+yesterday"
        r"|the\s+day\s+after\s+tomorrow|this|last)(?:\s+(?P<part>morning|afternoon|evening|night))?\b)"),
     relative_day_rule),
    ("relative_unit", _compile(
        r"(?i:\b(?:" + MOD + r")?(?P<edge>(?:earlier|later)\s+)?(?P<the>the\s+)?(?:(?P<rel>this|last|next|coming|previous|past|current|following|upcoming|same)\s+)?"
        r"(?P<unit>day|week|weekend|month|year|(?:fiscal\s+|financial\s+)?quarter|decade|century|fiscal\s+year|financial\s+year|summer|winter|spring|autumn)\b)(?!-)"),
     relative_unit_rule),
    ("quarter", _compile(
        r"(?i:\b(?:the\s+)?(?P<fiscal>fiscal\s+|financial\s+)?(?P<ord>first|second|third|fourth|final|1st|2nd|3rd|4th)"
        r"[\s-]+(?:fiscal\s+|financial\s+|calendar\s+)?(?:quarter|(?P<half>half))"
        r"(?:\s+of\s+(?:(?:fiscal\s+)?" + YEAR + r"|(?P<yrel>this|last|next)\s+year|the\s+year))?"
        r"|\bQ(?P<q>[1-4])(?:\s+(?P<qyear>(?:19|20)\d\d))?\b)"),
     quarter_rule),
    ("fiscal", _compile(r"(?i:\b(?:fiscal(?:\s+year)?\s+|FY\s?)(?P<fy>(?:19|20)\d\d|'?\d\d)\b)"), fiscal_rule),
    ("season", _compile(r"(?:" + MOD + r")?(?i:\b(?P<season>spring|summer|autumn|fall|winter)\b)(?:\s+(?:of\s+)?"
                        + YEAR + r")?"), season_rule),
    ("holiday", _compile(r"(?:(?i:(?P<rel>last|next|this))\s+)?\b(?P<holiday>Christmas(?:\s+(?:Day|Eve))?|New\s+Year['’]s\s+(?:Day|Eve)"
                         r"|Halloween|Thanksgiving(?:\s+Day)?|Independence\s+Day|Valentine['’]s\s+Day|Boxing\s+Day)\b"),
     holiday_rule),
    ("time", _compile(
        r"(?<![\d:.$])\b(?:(?P<h>[01]?\d|2[0-3]):(?P<min>[0-5]\d)(?::[0-5]\d)?(?:\s*" + AMPM + r")?"
        r"|(?P<h2>1[0-2]|0?[1-9])(?:\.(?P<min2>[0-5]\d))?\s*(?P<ampm2>[ap]\.m\.|[ap]m\b|[AP]M\b)"
        r"|(?P<noon>(?i:noon|midnight))|(?P<hhmm>[01]\d[0-5]\d|2[0-3][0-5]\d)(?=\s+(?:GMT|UTC)))"
        r"(?:\s*\(?" + ZONE + r"(?:\s*(?P<sign>[+-])\s*(?P<zh>\d{1,2})(?::?(?P<zm>\d{2}))?)?\b\)?)?"), None),
    ("age", _compile(r"(?i:\b(?P<quant>(?<![\d,.])(?:\d{1,3}(?:,\d{3})+|\d+)|" + NUMWORD + r"(?:-" + NUMWORD + r")?)[\s-]" + UNIT + r"[\s-]old\b)"), age_rule),
    ("duration", _compile(
        r"(?i:\b(?P<approx>(?:almost|nearly|about|around|approximately|roughly|some)\s+)?"
        r"(?P<edge>the\s+(?:first|last|past|next|previous|coming|following|final)\s+)?" + QUANT + r"[\s-]+" + UNIT
        + r"\b)(?![\s-]old)"), duration_rule),
    ("vague_duration", _compile(r"(?i:\b(?:over\s+the|recent|the\s+(?:past|last|next|coming)(?:\s+few)?)\s+"
                                r"(?P<unit>years|months|weeks|decades|days|centuries)\b)"), vague_duration_rule),
    ("bare_plural_duration", _compile(r"(?i:(?:(?<=\bfor\s)|(?<=\bjust\s)|(?<=\bonly\s)|(?<=\bwithin\s)|(?<=\btake\s)"
                                      r"|(?<=\btook\s)|(?<=\blast\s))(?P<unit>years|months|weeks|decades|days|hours|centuries)\b"
                                      r"|\b(?P<unit2>years|months|weeks|decades|days)(?=\s+(?:later|earlier|after|before|ago)\b))"),
     lambda m, ctx: Candidate(m.start(), m.end(), "DURATION", cal.duration_value(None, unit_name(m["unit"] or m["unit2"])))),
    ("long_adjective", _compile(r"(?i:\b(?P<unit>decades|years|months|weeks|days|hours|year|month|week|day)[\s-]?long\b)"),
     long_adjective_rule),
    ("set_word", _compile(r"\b(?P<word>annual|annually|yearly|daily|weekly|monthly|quarterly|hourly|biannual|biennial"
                          r"|semiannual|nightly)\b"), set_word_rule),
    ("set_every", _compile(r"(?i:\b(?:each|every|per)\s+(?:(?P<n>other|\d+|" + NUMWORD + r")\s+)?"
                           r"(?P<what>seconds?|minutes?|hours?|days?|weeks?|months?|years?|decades?|seasons?|quarters?"
                           r"|mornings?|afternoons?|evenings?|nights?|weekends?|summer|winter|spring|autumn"
                           r"|Mondays?|Tuesdays?|Wednesdays?|Thursdays?|Fridays?|Saturdays?|Sundays?)\b)"), set_every_rule),
    ("reference", _compile(r"(?i:\b(?P<word>now|currently|presently|at\s+present|nowadays|these\s+days|right\s+now"
                           r"|at\s+the\s+moment|(?:more\s+|most\s+)?recently|lately|the\s+past|the\s+(?:near\s+)?future"
                           r"|soon|the\s+present)\b)"), ref_rule),
]

# the time rule reads alternative group names; normalise them in one place
_TIME_INDEX = next(i for i, rule in enumerate(RULES) if rule[0] == "time")
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
    return time_rule(_TimeMatch(m), ctx)


RULES[_TIME_INDEX] = (RULES[_TIME_INDEX][0], RULES[_TIME_INDEX][1], _time_entry)



# ---------------------------------------------------------------- triggers
# A rule runs only near its trigger words or trigger patterns: one cheap word scan and a few
# digit-first patterns find them, then each rule's regex runs in windows around its triggers.
# This keeps extraction within the cost budget (bench/extract_cost.py); windows are wide enough
# that the windowed search finds what a full search would (tests/transforms/timex/test_timex.py).

WINDOW_BEFORE, WINDOW_AFTER = 50, 60

_MONTH_WORDS = {m.lower() for m in MONTHS} | {m[:3].lower() for m in MONTHS} | {"sept"}
_UNIT_WORDS = {"second", "minute", "hour", "day", "week", "fortnight", "month", "year", "decade", "century"}
_PLURAL_UNITS = {w + "s" for w in _UNIT_WORDS if w != "century"} | {"centuries"}
_SEASON_WORDS = {"spring", "summer", "autumn", "fall", "winter"}
_RULE_WORDS = {
    "month_day_year": _MONTH_WORDS,
    "day_month_year": _MONTH_WORDS,
    "month_year": _MONTH_WORDS,
    "bare_month": _MONTH_WORDS,
    "century": {"century"},
    "weekday": {w.lower() for w in WEEKDAYS},
    "relative_day": {"today", "tonight", "yesterday", "tomorrow", "morning", "afternoon", "evening", "night"},
    "relative_unit": {"day", "week", "weekend", "month", "year", "quarter", "decade", "century"} | _SEASON_WORDS,
    "quarter": {"quarter", "half", "q"},
    "fiscal": {"fiscal", "fy"},
    "season": _SEASON_WORDS,
    "holiday": {"christmas", "year", "halloween", "thanksgiving", "independence", "valentine", "boxing"},
    "time": {"noon", "midnight"},
    "age": {"old"},
    "duration": _UNIT_WORDS | _PLURAL_UNITS | {"fortnights"},
    "vague_duration": _PLURAL_UNITS,
    "bare_plural_duration": _PLURAL_UNITS,
    "long_adjective": {"long", "yearlong", "monthlong", "weeklong", "daylong"},
    "set_word": {"annual", "annually", "yearly", "daily", "weekly", "monthly", "quarterly", "hourly", "biannual",
                 "biennial", "semiannual", "nightly"},
    "set_every": {"each", "every", "per"},
    "reference": {"now", "currently", "presently", "present", "nowadays", "days", "moment", "recently", "lately",
                  "past", "future", "soon"},
}
_RULE_PATTERNS = {
    "year": r"[12]\d{3}",
    "numeric_date": r"\d[/.-]\d",
    "decade": r"\d0['’]?s\b",
    "time": r"\d(?::\d|\s?[apAP]\.?[mM]|\d{3}\s+[GU])",
}
_RULE_INDEX = {name: i for i, (name, _, _) in enumerate(RULES)}

WORD = re.compile(r"[A-Za-z]+")
WORD_TRIGGERS: dict[str, tuple[int, ...]] = {}
for _name, _words in _RULE_WORDS.items():
    for _word in _words:
        WORD_TRIGGERS[_word] = WORD_TRIGGERS.get(_word, ()) + (_RULE_INDEX[_name],)
PATTERN_TRIGGERS: list[tuple[re.Pattern, int]] = [
    (re.compile(pattern), _RULE_INDEX[name]) for name, pattern in _RULE_PATTERNS.items()]
assert set(_RULE_WORDS) | set(_RULE_PATTERNS) == set(_RULE_INDEX), "every rule needs a trigger"

"""Publication times: parse the timestamp formats of news headers and feed fields into UTC plus the article's own offset.

Accepted forms (docs/time.md has the full list and the zone table):

* header lines: "Published 06:59 IST, August 17th 2020", "Aug. 17, 2020 6:59 a.m. ET",
  "17/08/2020 06:59 BST", "Monday, 17 August 2020, 14:05 CEST", "August 17, 2020";
* RFC 2822 ("Mon, 17 Aug 2020 06:59:00 +0530") and ISO 8601 with or without an offset;
* epoch seconds and milliseconds (numbers or digit strings);
* relative forms against ``now`` (the ingest time): "2 hours ago", "just now".

Guarantees: ``parse_publication_time`` never raises; it returns None for anything that is
not a whole timestamp, for years before 1900 and for times more than two days after
``now`` (when ``now`` is given). A string must be a timestamp as a whole: a headline that
merely contains a date is not one.
"""

from __future__ import annotations

import email.utils
import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = [
    "PublicationTime",
    "ZONE_ABBREVIATIONS",
    "parse_publication_time",
    "format_utc",
    "format_offset",
    "parse_offset",
]

_LOGGER = logging.getLogger(__name__)

_MIN_YEAR = 1900
_MAX_FUTURE = timedelta(days=2)
_MAX_INPUT_CHARS = 200

# Zone abbreviations seen in news. A value is either a fixed offset in minutes east of UTC
# (the abbreviation names one offset: EST is always -05:00) or an IANA zone name (the
# abbreviation names a region whose offset depends on the date: ET is EST or EDT).
# Ambiguous abbreviations take their most common meaning in English-language news;
# docs/time.md lists the alternatives (IST, CST, BST, AST, ...).
ZONE_ABBREVIATIONS: dict[str, int | str] = {
    "UTC": 0, "GMT": 0, "Z": 0, "UT": 0, "WET": 0,
    "BST": 60, "IST": 330, "WEST": 60, "CET": 60, "CEST": 120, "MEZ": 60, "MESZ": 120,
    "EET": 120, "EEST": 180, "MSK": 180, "GST": 240, "PKT": 300, "NPT": 345,
    "BDT": 360, "ICT": 420, "WIB": 420, "SGT": 480, "HKT": 480, "PHT": 480, "AWST": 480,
    "MYT": 480, "CST": -360, "JST": 540, "KST": 540, "ACST": 570, "ACDT": 630,
    "AEST": 600, "AEDT": 660, "NZST": 720, "NZDT": 780, "SAST": 120, "WAT": 60,
    "EAT": 180, "EST": -300, "EDT": -240, "CDT": -300, "MST": -420, "MDT": -360,
    "PST": -480, "PDT": -420, "AKST": -540, "AKDT": -480, "HST": -600, "AST": -240,
    "ADT": -180, "NST": -210, "NDT": -150, "BRT": -180, "ART": -180,
    # regions: the offset follows daylight saving on the local date
    "ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
    "PT": "America/Los_Angeles", "AKT": "America/Anchorage", "AET": "Australia/Sydney",
    "UK": "Europe/London",
}

_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9,
    "sept": 9, "september": 9, "oct": 10, "october": 10, "nov": 11, "november": 11,
    "dec": 12, "december": 12,
}
_UNITS_SECONDS = {"second": 1, "sec": 1, "minute": 60, "min": 60, "hour": 3600, "hr": 3600,
                  "day": 86400, "week": 7 * 86400, "month": 30 * 86400, "year": 365 * 86400}
_NUMBER_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
                 "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12}
# US regions write dates month first; elsewhere 17/08/2020 is day first.
_MONTH_FIRST_ZONES = {"ET", "CT", "MT", "PT", "AKT", "EST", "EDT", "CDT", "MST", "MDT",
                      "PST", "PDT", "AKST", "AKDT", "HST"}

_MONTH_NAME = r"(?P<month>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_YEAR = r"(?P<year>\d{4})"
_DATE_FORMS = [
    re.compile(_MONTH_NAME + r"\s+" + _DAY + r",?\s+" + _YEAR, re.I),  # August 17th, 2020
    re.compile(_DAY + r"(?:\s+of)?\s+" + _MONTH_NAME + r",?\s+" + _YEAR, re.I),  # 17 August 2020
    re.compile(r"(?P<year>\d{4})[-/.](?P<m>\d{1,2})[-/.](?P<d>\d{1,2})"),  # 2020-08-17
    re.compile(r"(?P<a>\d{1,2})[/.-](?P<b>\d{1,2})[/.-](?P<year>\d{4})"),  # 17/08/2020 or 08/17/2020
]
_TIME = re.compile(
    r"(?<![\d:])(?P<h>\d{1,2})(?:[:.](?P<m>\d{2})(?::(?P<s>\d{2}))?)?\s*"
    r"(?P<ampm>a\.?\s?m\.?|p\.?\s?m\.?)?(?![\d])", re.I)
_ZONE = re.compile(
    r"(?<![A-Za-z])(?:\(?(?P<abbr>[A-Z]{1,5})\)?(?:\s*(?P<sign1>[+-])\s*(?P<oh1>\d{1,2})(?::?(?P<om1>\d{2}))?)?"
    r"|(?P<sign2>[+-])(?P<oh2>\d{2}):?(?P<om2>\d{2}))(?![A-Za-z])")
_WEEKDAY = re.compile(r"\b(?:mon|tue|tues|wed|thu|thur|thurs|fri|sat|sun)(?:day|nesday|sday|urday|rsday)?\b\.?,?", re.I)
_PREFIX = re.compile(
    r"^\s*(?:(?:first\s+)?published|(?:last\s+)?updated|posted|modified|date|dated|created|on|at)\b\s*(?:on|at)?\s*[:\-|]?\s*",
    re.I)
_RELATIVE = re.compile(
    r"^(?P<n>\d+|an?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\s*"
    r"(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|months?|years?)\s+ago$", re.I)
_NOISE = re.compile(r"[\s,|;@\-–—()\[\]]+|\bat\b|\bon\b|\bthe\b|\bof\b|\btime\b|\bhrs\b", re.I)


@dataclass(frozen=True)
class PublicationTime:
    """A publication instant: ``utc`` is aware and in UTC; ``offset_minutes`` is the article's own
    UTC offset (minutes east), None when the input named no zone. Relative dates in the article
    resolve against the local date ``utc + offset``."""

    utc: datetime
    offset_minutes: int | None

    @property
    def local(self) -> datetime:
        """The publication instant in the article's own offset (UTC when unknown)."""
        return self.utc.astimezone(timezone(timedelta(minutes=self.offset_minutes or 0)))


def parse_publication_time(value: str | int | float, *, now: datetime | None = None) -> PublicationTime | None:
    """Parse one publication timestamp; None when it is not one. Never raises."""
    try:
        parsed = _parse(value, now)
    except Exception:  # noqa: BLE001 - a timestamp parser must not take a pipeline down
        _LOGGER.debug("unparseable publication time %r", value, exc_info=True)
        return None
    if parsed is None:
        return None
    if parsed.utc.year < _MIN_YEAR:
        return None
    if now is not None and parsed.utc - _as_utc(now) > _MAX_FUTURE:
        return None
    return parsed


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_offset(offset_minutes: int | None) -> str | None:
    if offset_minutes is None:
        return None
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def parse_offset(text: str | None) -> int | None:
    """The inverse of ``format_offset``: "+05:30" -> 330; None for None or anything malformed."""
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", (text or "").strip())
    if not match:
        return None
    minutes = int(match[2]) * 60 + int(match[3])
    return -minutes if match[1] == "-" else minutes


# ---------------------------------------------------------------- internals

def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _parse(value, now: datetime | None) -> PublicationTime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > _MAX_INPUT_CHARS:
        return None
    if re.fullmatch(r"-?\d{9,13}(?:\.\d+)?", text):
        return _from_epoch(float(text))
    for parse in (_parse_iso, _parse_rfc2822, _parse_header):
        parsed = parse(text)
        if parsed is not None:
            return parsed
    return _parse_relative(text, now)


def _from_epoch(seconds: float) -> PublicationTime | None:
    if seconds != seconds or abs(seconds) == float("inf"):
        return None
    if abs(seconds) > 1e11:  # milliseconds
        seconds /= 1000.0
    try:
        return PublicationTime(datetime.fromtimestamp(seconds, tz=timezone.utc), 0)
    except (OverflowError, OSError, ValueError):
        return None


def _aware(moment: datetime) -> PublicationTime:
    if moment.tzinfo is None:
        return PublicationTime(moment.replace(tzinfo=timezone.utc), None)
    offset = moment.utcoffset() or timedelta(0)
    return PublicationTime(moment.astimezone(timezone.utc), int(offset.total_seconds() // 60))


def _parse_iso(text: str) -> PublicationTime | None:
    if not re.match(r"\d{4}-?\d{2}-?\d{2}", text):
        return None
    candidate = text.replace("Z", "+00:00") if text.endswith("Z") else text
    try:
        return _aware(datetime.fromisoformat(candidate))
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> PublicationTime | None:
    # Only the numeric-offset and UT/GMT forms; named zones go through the header parser
    # (email.utils knows only the US zones and silently drops the others).
    if not re.fullmatch(r"(?:[A-Za-z]{3},\s*)?\d{1,2}\s+[A-Za-z]{3}\s+\d{2,4}\s+\d{1,2}:\d{2}(?::\d{2})?\s+(?:[+-]\d{4}|UT|GMT|Z)", text):
        return None
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return _aware(moment) if moment is not None else None


def _parse_header(text: str) -> PublicationTime | None:
    """Free-form header timestamps: a date, optionally a time and a zone, in any order, with
    only separators and a "Published"/"Updated" prefix around them."""
    rest = _PREFIX.sub("", text, count=1)
    rest = _WEEKDAY.sub(" ", rest)
    date_match, date_parts = None, None
    for form in _DATE_FORMS:
        date_match = form.search(rest)
        if date_match:
            break
    if not date_match:
        return None
    rest = rest[: date_match.start()] + " " + rest[date_match.end():]
    time_match = None
    for candidate in _TIME.finditer(rest):
        if candidate["m"] or candidate["ampm"]:
            time_match = candidate
            break
    hour = minute = second = 0
    if time_match:
        hour, minute = int(time_match["h"]), int(time_match["m"] or 0)
        second = int(time_match["s"] or 0)
        ampm = (time_match["ampm"] or "").lower().replace(".", "").replace(" ", "")
        if ampm:
            if not 1 <= hour <= 12:
                return None
            hour = hour % 12 + (12 if ampm == "pm" else 0)
        rest = rest[: time_match.start()] + " " + rest[time_match.end():]
    zone_text, zone = None, None
    zone_match = _ZONE.search(rest)
    if zone_match:
        zone, zone_text = _zone_of(zone_match)
        if zone is None:
            return None
        rest = rest[: zone_match.start()] + " " + rest[zone_match.end():]
    if _NOISE.sub("", rest).strip(". "):
        return None  # something other than a timestamp is left over
    year, month, day = _date_fields(date_match, zone_text)
    if month is None:
        return None
    try:
        local = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if zone is None:
        return PublicationTime(local.replace(tzinfo=timezone.utc), None)
    if isinstance(zone, str):
        aware = local.replace(tzinfo=_zoneinfo(zone))
    else:
        aware = local.replace(tzinfo=timezone(timedelta(minutes=zone)))
    return _aware(aware)


def _date_fields(match: re.Match, zone_text: str | None) -> tuple[int, int | None, int]:
    groups = match.groupdict()
    year = int(groups["year"])
    if groups.get("month"):
        return year, _MONTHS.get(groups["month"].lower().rstrip(".")), int(groups["day"])
    if groups.get("m"):
        return year, int(groups["m"]), int(groups["d"])
    a, b = int(groups["a"]), int(groups["b"])
    if a > 12:
        return year, b, a
    if b > 12:
        return year, a, b
    if zone_text in _MONTH_FIRST_ZONES:
        return year, a, b
    return year, b, a


def _zone_of(match: re.Match) -> tuple[int | str | None, str | None]:
    """The zone a match names: minutes east of UTC, an IANA name, or None when unknown."""
    if match["sign2"]:
        minutes = int(match["oh2"]) * 60 + int(match["om2"])
        return (-minutes if match["sign2"] == "-" else minutes), None
    abbr = match["abbr"]
    base = ZONE_ABBREVIATIONS.get(abbr)
    if base is None:
        return None, abbr
    if match["sign1"]:
        if base != 0:
            return None, abbr
        minutes = int(match["oh1"]) * 60 + int(match["om1"] or 0)
        if minutes > 14 * 60:
            return None, abbr
        return (-minutes if match["sign1"] == "-" else minutes), abbr
    return base, abbr


@lru_cache(maxsize=64)
def _zoneinfo(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _parse_relative(text: str, now: datetime | None) -> PublicationTime | None:
    if now is None:
        return None
    anchor = _as_utc(now)
    lowered = re.sub(r"\s+", " ", _PREFIX.sub("", text, count=1)).strip().lower()
    if lowered in ("just now", "now", "moments ago", "a moment ago", "seconds ago"):
        return PublicationTime(anchor, None)
    match = _RELATIVE.match(lowered)
    if not match:
        return None
    n = _NUMBER_WORDS.get(match["n"]) or int(match["n"])
    unit = match["unit"].rstrip("s") or "s"
    unit = {"h": "hour", "d": "day", "s": "second"}.get(unit, unit)
    seconds = _UNITS_SECONDS.get(unit)
    if seconds is None:
        return None
    try:
        return PublicationTime(anchor - timedelta(seconds=n * seconds), None)
    except OverflowError:
        return None

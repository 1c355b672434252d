"""Publication times: parse the timestamp formats of news headers and feed fields into UTC plus the article's own offset."""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = ["PublicationTime", "parse_publication_time", "format_utc", "format_offset"]

# Fixed offsets of zone abbreviations seen in news headers (minutes east of UTC).
_ZONE_OFFSETS_MINUTES = {
    "UTC": 0, "GMT": 0, "Z": 0,
    "IST": 330,
}

_MONTHS = {m: i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], start=1)}

_HEADER = re.compile(
    r"^(?:published|updated|posted)?:?\s*(?P<h>\d{1,2}):(?P<m>\d{2})\s*(?P<zone>[A-Z]{2,5})?,?\s+"
    r"(?P<month>[A-Za-z]+)\.?\s+(?P<day>\d{1,2})(?:st|nd|rd|th)?,?\s+(?P<year>\d{4})$",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class PublicationTime:
    utc: datetime  # aware, in UTC
    offset_minutes: int | None  # the article's own UTC offset; None when the input named no zone


def parse_publication_time(value: str | int | float, *, now: datetime) -> PublicationTime | None:
    """Parse one publication timestamp; None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return _from_epoch(float(value))
    text = value.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
        return _from_epoch(float(text))
    for parse in (_parse_iso, _parse_rfc2822, _parse_header):
        parsed = parse(text)
        if parsed is not None:
            return parsed
    return None


def format_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_offset(offset_minutes: int | None) -> str | None:
    if offset_minutes is None:
        return None
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{sign}{hours:02d}:{minutes:02d}"


def _from_epoch(seconds: float) -> PublicationTime | None:
    if seconds > 1e11:  # milliseconds
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
    try:
        return _aware(datetime.fromisoformat(text.replace("Z", "+00:00")))
    except ValueError:
        return None


def _parse_rfc2822(text: str) -> PublicationTime | None:
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    return _aware(moment) if moment is not None else None


def _parse_header(text: str) -> PublicationTime | None:
    match = _HEADER.match(text)
    if not match:
        return None
    month = _MONTHS.get(match["month"][:3].lower())
    zone = (match["zone"] or "").upper()
    if month is None or (zone and zone not in _ZONE_OFFSETS_MINUTES):
        return None
    offset = _ZONE_OFFSETS_MINUTES.get(zone) if zone else None
    try:
        local = datetime(int(match["year"]), month, int(match["day"]), int(match["h"]), int(match["m"]))
    except ValueError:
        return None
    tz = timezone(timedelta(minutes=offset or 0))
    return PublicationTime(local.replace(tzinfo=tz).astimezone(timezone.utc), offset)

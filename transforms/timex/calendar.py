"""Calendar arithmetic for TIMEX3 values: each helper returns a value string and the local
interval it denotes (naive datetimes, end exclusive), or None when the value is not a span."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

__all__ = [
    "Resolved",
    "day",
    "month",
    "year",
    "week",
    "weekend",
    "quarter",
    "half",
    "decade",
    "century",
    "season",
    "part_of_day",
    "clock_time",
    "fiscal",
    "shift_month",
    "to_utc_interval",
    "duration_value",
]

_PART_OF_DAY_HOURS = {"MO": (5, 12), "AF": (12, 17), "EV": (17, 21), "NI": (21, 29)}


@dataclass(frozen=True)
class Resolved:
    """A TIMEX3 value with its local interval (naive datetimes, end exclusive) when it has one.
    ``utc`` is True when the interval is already in UTC (a clock time with an explicit zone)."""

    value: str
    start: datetime | None = None
    end: datetime | None = None
    utc: bool = False
    granularity: str = ""  # "day", "month", "year", ... for anaphora and range arithmetic


def _midnight(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def day(d: date) -> Resolved:
    return Resolved(d.isoformat(), _midnight(d), _midnight(d + timedelta(days=1)), granularity="day")


def month(y: int, m: int) -> Resolved:
    ny, nm = shift_month(y, m, 1)
    return Resolved(f"{y:04d}-{m:02d}", datetime(y, m, 1), datetime(ny, nm, 1), granularity="month")


def year(y: int) -> Resolved:
    return Resolved(f"{y:04d}", datetime(y, 1, 1), datetime(y + 1, 1, 1), granularity="year")


def week(d: date) -> Resolved:
    iso_year, iso_week, weekday = d.isocalendar()
    monday = d - timedelta(days=weekday - 1)
    return Resolved(f"{iso_year:04d}-W{iso_week:02d}", _midnight(monday), _midnight(monday + timedelta(days=7)),
                    granularity="week")


def weekend(d: date) -> Resolved:
    """The weekend (Saturday and Sunday) of the ISO week that holds ``d``."""
    iso_year, iso_week, weekday = d.isocalendar()
    saturday = d - timedelta(days=weekday - 1) + timedelta(days=5)
    return Resolved(f"{iso_year:04d}-W{iso_week:02d}-WE", _midnight(saturday),
                    _midnight(saturday + timedelta(days=2)), granularity="weekend")


def quarter(y: int, q: int) -> Resolved:
    start = datetime(y, 3 * (q - 1) + 1, 1)
    ey, em = shift_month(y, 3 * (q - 1) + 1, 3)
    return Resolved(f"{y:04d}-Q{q}", start, datetime(ey, em, 1), granularity="quarter")


def half(y: int, h: int) -> Resolved:
    start = datetime(y, 1 if h == 1 else 7, 1)
    end = datetime(y, 7, 1) if h == 1 else datetime(y + 1, 1, 1)
    return Resolved(f"{y:04d}-H{h}", start, end, granularity="half")


def decade(first_year: int) -> Resolved:
    return Resolved(f"{first_year // 10:03d}", datetime(first_year, 1, 1), datetime(first_year + 10, 1, 1),
                    granularity="decade")


def century(number: int) -> Resolved:
    """The n-th century as TimeML writes it: the 20th century is "19" (1900-1999)."""
    first = (number - 1) * 100
    start = datetime(first, 1, 1) if first >= 1 else None
    return Resolved(f"{number - 1:02d}", start, datetime(first + 100, 1, 1) if start else None,
                    granularity="century")


def season(y: int, code: str) -> Resolved:
    """Seasons have no agreed boundaries (meteorological, astronomical, hemisphere): no interval."""
    return Resolved(f"{y:04d}-{code}", granularity="season")


def part_of_day(d: date, code: str) -> Resolved:
    start_hour, end_hour = _PART_OF_DAY_HOURS[code]
    base = _midnight(d)
    return Resolved(f"{d.isoformat()}T{code}", base + timedelta(hours=start_hour), base + timedelta(hours=end_hour),
                    granularity="part_of_day")


def clock_time(d: date, hour: int, minute: int, offset_minutes: int | None) -> Resolved:
    """A clock time on day ``d``; with an explicit zone the value is converted to UTC and ends in "Z"."""
    local = _midnight(d) + timedelta(hours=hour, minutes=minute)
    if offset_minutes is None:
        return Resolved(local.strftime("%Y-%m-%dT%H:%M"), local, local + timedelta(minutes=1), granularity="minute")
    utc = local - timedelta(minutes=offset_minutes)
    return Resolved(utc.strftime("%Y-%m-%dT%H:%MZ"), utc, utc + timedelta(minutes=1), utc=True,
                    granularity="minute")


def fiscal(y: int, q: int | None = None) -> Resolved:
    """Fiscal periods differ by company: a value, no interval."""
    return Resolved(f"FY{y:04d}" + (f"-Q{q}" if q else ""), granularity="fiscal")


def shift_month(y: int, m: int, delta: int) -> tuple[int, int]:
    index = y * 12 + (m - 1) + delta
    return index // 12, index % 12 + 1


def to_utc_interval(resolved: Resolved, offset_minutes: int | None) -> dict | None:
    """The interval of a resolved value in UTC ("...Z", end exclusive); local values are shifted by
    the article's own offset (UTC when unknown)."""
    if resolved.start is None or resolved.end is None:
        return None
    shift = timedelta(0) if resolved.utc else timedelta(minutes=offset_minutes or 0)
    try:
        start = (resolved.start - shift).replace(tzinfo=timezone.utc)
        end = (resolved.end - shift).replace(tzinfo=timezone.utc)
    except OverflowError:
        return None
    return {"start": _iso_z(start), "end": _iso_z(end)}


def _iso_z(moment: datetime) -> str:
    # strftime("%Y") does not pad years before 1000 on every platform
    return (f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
            f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z")


def duration_value(amount: float | None, unit: str) -> str:
    """P2Y, PT30M, PXY ... ``amount`` None gives the unspecified "X"; decades and centuries count in years."""
    if unit == "decade":
        unit, amount = "year", None if amount is None else amount * 10
    elif unit == "century":
        unit, amount = "year", None if amount is None else amount * 100
    elif unit == "fortnight":
        unit, amount = "week", None if amount is None else amount * 2
    code = {"second": "S", "minute": "M", "hour": "H", "day": "D", "week": "W", "month": "M", "year": "Y"}[unit]
    timed = unit in ("second", "minute", "hour")
    if amount is None:
        number = "X"
    elif amount != int(amount):
        if unit == "hour" and amount < 1 and amount * 60 == int(amount * 60):
            return f"PT{int(amount * 60)}M"  # "half an hour"
        number = f"{amount:g}"
    else:
        number = str(int(amount))
    return f"P{'T' if timed else ''}{number}{code}"

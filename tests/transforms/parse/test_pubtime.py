"""Publication-time parsing: header, feed and relative formats, zones with daylight saving, guards."""

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.parse.pubtime import (
    PublicationTime,
    format_offset,
    format_utc,
    parse_offset,
    parse_publication_time,
)

NOW = datetime(2020, 8, 17, 12, 0, tzinfo=timezone.utc)


def _parsed(value, now=NOW):
    result = parse_publication_time(value, now=now)
    assert result is not None, value
    return format_utc(result.utc), format_offset(result.offset_minutes)


@pytest.mark.parametrize(
    "value, utc, offset",
    [
        ("Published 06:59 IST, August 17th 2020", "2020-08-17T01:29:00Z", "+05:30"),
        ("06:59 IST, August 17th 2020", "2020-08-17T01:29:00Z", "+05:30"),
        ("Aug. 17, 2020 6:59 a.m. ET", "2020-08-17T10:59:00Z", "-04:00"),  # EDT in August
        ("Jan. 17, 2020 6:59 p.m. ET", "2020-01-17T23:59:00Z", "-05:00"),  # EST in January
        ("17 Aug 2020 06:59 PT", "2020-08-17T13:59:00Z", "-07:00"),
        ("17/08/2020 06:59 BST", "2020-08-17T05:59:00Z", "+01:00"),
        ("Posted on 08/17/2020 at 3:00 PM EDT", "2020-08-17T19:00:00Z", "-04:00"),
        ("Monday, 17 August 2020, 14:05 CEST", "2020-08-17T12:05:00Z", "+02:00"),
        ("Updated: August 17, 2020 10:00 am GMT+8", "2020-08-17T02:00:00Z", "+08:00"),
        ("17 August 2020 09:00 JST", "2020-08-17T00:00:00Z", "+09:00"),
        ("17 August 2020 09:00 AEST", "2020-08-16T23:00:00Z", "+10:00"),
        ("Mon, 17 Aug 2020 06:59:00 +0530", "2020-08-17T01:29:00Z", "+05:30"),
        ("Mon, 17 Aug 2020 06:59:00 GMT", "2020-08-17T06:59:00Z", "+00:00"),
        ("2020-08-17T06:59:00+05:30", "2020-08-17T01:29:00Z", "+05:30"),
        ("2020-08-17T06:59:00Z", "2020-08-17T06:59:00Z", "+00:00"),
        ("2020-08-17", "2020-08-17T00:00:00Z", None),
        ("August 17, 2020", "2020-08-17T00:00:00Z", None),
        (1597627140, "2020-08-17T01:19:00Z", "+00:00"),
        (1597627140000, "2020-08-17T01:19:00Z", "+00:00"),
        ("1597627140", "2020-08-17T01:19:00Z", "+00:00"),
        ("2 hours ago", "2020-08-17T10:00:00Z", None),
        ("an hour ago", "2020-08-17T11:00:00Z", None),
        ("3 days ago", "2020-08-14T12:00:00Z", None),
    ],
)
def test_formats(value, utc, offset):
    assert _parsed(value) == (utc, offset)


def test_dst_boundary_for_region_zones():
    # US daylight saving in 2020 began on 8 March: ET is -05:00 the day before, -04:00 after.
    assert _parsed("March 7, 2020 12:00 ET")[1] == "-05:00"
    assert _parsed("March 9, 2020 12:00 ET")[1] == "-04:00"


def test_relative_forms_need_now():
    assert parse_publication_time("2 hours ago", now=None) is None


@pytest.mark.parametrize(
    "value",
    [
        "Trump says August 17, 2020 was great",  # a headline that contains a date
        "Published 06:59 XYZ, August 17th 2020",  # unknown zone
        "1850-01-01",  # before 1900
        "2030-01-01",  # far in the future of NOW
        "31/02/2020 10:00 GMT",  # no such day
        "13:75 IST, August 17th 2020",
        "",
        "   ",
        True,
        float("nan"),
        float("inf"),
        10**30,
    ],
)
def test_rejects(value):
    assert parse_publication_time(value, now=NOW) is None


def test_future_guard_only_with_now():
    assert parse_publication_time("2030-01-01", now=None) is not None
    assert parse_publication_time("2020-08-19T11:00:00Z", now=NOW) is not None  # within 2 days


def test_local_date_uses_own_offset():
    published = parse_publication_time("00:30 IST, August 17th 2020", now=None)
    assert published.utc.day == 16 and published.local.day == 17


def test_offset_round_trip():
    for minutes in (-600, -210, 0, 330, 345, 780):
        assert parse_offset(format_offset(minutes)) == minutes
    assert parse_offset(None) is None and parse_offset("bogus") is None


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), st.integers(), st.floats()))
def test_never_raises(value):
    result = parse_publication_time(value, now=NOW)
    assert result is None or isinstance(result, PublicationTime)


@settings(max_examples=200, deadline=None)
@given(st.from_regex(r"\d{1,2}[:/.]\d{1,2}[/ ]\d{2,4} [A-Z]{2,4}[+-]?\d{0,4}", fullmatch=True))
def test_never_raises_on_timestamp_like_text(value):
    result = parse_publication_time(value, now=NOW)
    assert result is None or result.utc.tzinfo is not None

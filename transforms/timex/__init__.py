"""Time expressions: find DATE, TIME, DURATION and SET expressions and give each a TIMEX3 value.

``extract_timexes(doc, anchor)`` runs a rule grammar (transforms/timex/grammar.py) over
``doc.text``, resolves underspecified dates against the publication date in the article's own
offset, using the tense of the governing verb for bare weekdays, months and days of the month,
and returns one dict per expression::

    {"text", "type", "value", "start", "end", "interval": {"start", "end"} | None}

``start``/``end`` are character offsets into ``doc.text`` (end exclusive). ``interval`` is the
resolved span in UTC ("...Z", end exclusive) for DATE and TIME values that denote one; None for
durations, sets, PRESENT_REF/PAST_REF/FUTURE_REF, fiscal periods and seasons. Conventions
follow TimeML/TempEval-3 as annotated in MEANTIME (docs/time.md).

Guarantees: pure (no I/O, no global state), deterministic, output sorted by ``start``; spans
do not overlap except a range duration ("from 2009 to 2011") and the dates inside it.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from transforms.parse.pubtime import PublicationTime
from transforms.timex import calendar as cal
from transforms.timex.dates import shifted
from transforms.timex.grammar import PATTERN_TRIGGERS, RULES, WINDOW_AFTER, WINDOW_BEFORE, WORD, WORD_TRIGGERS
from transforms.timex.lexicon import Candidate, Context
from transforms.timex.tense import direction as _tense_direction

__all__ = ["extract_timexes", "TIMEX_TYPES"]

_LOGGER = logging.getLogger(__name__)

TIMEX_TYPES = ("DATE", "TIME", "DURATION", "SET")
# TIMEX3 "P2Y" style values count years/months; a range of dates becomes a duration of their difference.
_RANGE_OPEN = re.compile(r"(?i:\b(?:from|between))\s+$")
_RANGE_JOIN = re.compile(r"\s*(?:to|and|until|till|through|-|–)\s*")
_DAY_GRANULARITY = "day"


def extract_timexes(doc, anchor: PublicationTime) -> list[dict]:
    """Time expressions of ``doc`` with TIMEX3 values anchored on ``anchor`` (see module docstring)."""
    text = doc.text
    if not text:
        return []
    offset = anchor.offset_minutes
    try:
        anchor_date = anchor.local.date()
    except OverflowError:  # an anchor at the edge of the calendar
        anchor_date = anchor.utc.date()
    cache: dict[tuple[int, int], str] = {}

    def direction(start: int, end: int) -> str:
        key = (start, end)
        if key not in cache:
            cache[key] = _tense_direction(doc, start, end)
        return cache[key]

    ctx = Context(text=text, doc=doc, anchor=anchor_date, offset_minutes=offset, direction=direction,
                  month_first=offset is None or offset <= -180)
    candidates = _candidates(ctx)
    chosen = _select(candidates)
    _resolve_anaphora(chosen)
    _resolve_times(chosen, doc, anchor_date)
    chosen.extend(_ranges(chosen, text))
    chosen.sort(key=lambda c: (c.start, -c.end))
    return [_to_dict(c, text, offset) for c in chosen if c.value]


def _candidates(ctx: Context) -> list[Candidate]:
    """Every rule's candidates, each rule searched only in windows around its triggers."""
    text = ctx.text
    positions: dict[int, list[int]] = {}
    for word in WORD.finditer(text):
        for index in WORD_TRIGGERS.get(word.group().lower(), ()):
            positions.setdefault(index, []).append(word.start())
    for pattern, index in PATTERN_TRIGGERS:
        found = [m.start() for m in pattern.finditer(text)]
        if found:
            positions.setdefault(index, []).extend(found)
    out = []
    for index in sorted(positions):
        _, pattern, rule = RULES[index]
        seen = set()
        for lo, hi in _windows(sorted(positions[index]), len(text)):
            for match in pattern.finditer(text, lo, hi):
                if match.span() in seen:
                    continue
                seen.add(match.span())
                try:
                    candidate = rule(match, ctx)
                except (ValueError, OverflowError):  # dates outside the calendar: not a timex
                    continue
                except Exception:  # noqa: BLE001 - a rule bug must not lose the article's other timexes
                    _LOGGER.warning("timex rule %s failed on %r", RULES[index][0], match.group(0), exc_info=True)
                    continue
                if candidate is not None and candidate.end > candidate.start:
                    candidate.priority = index
                    out.append(candidate)
    return out


def _windows(positions: list[int], size: int) -> list[tuple[int, int]]:
    windows: list[list[int]] = []
    for pos in positions:
        lo, hi = max(0, pos - WINDOW_BEFORE), min(size, pos + WINDOW_AFTER)
        if windows and lo <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], hi)
        else:
            windows.append([lo, hi])
    return [(lo, hi) for lo, hi in windows]


def _select(candidates: list[Candidate]) -> list[Candidate]:
    """Longest candidate first, then rule order; a candidate overlapping a chosen one is dropped."""
    chosen: list[Candidate] = []
    taken: list[tuple[int, int]] = []
    for c in sorted(candidates, key=lambda c: (-(c.end - c.start), c.priority, c.start)):
        if any(c.start < e and s < c.end for s, e in taken):
            continue
        chosen.append(c)
        taken.append((c.start, c.end))
    return chosen


_GRANULARITY_RANK = {"day": 0, "week": 1, "month": 2, "quarter": 3, "half": 3, "year": 4}


def _resolve_anaphora(chosen: list[Candidate]) -> None:
    """"the following year", "the next day": counted from the closest preceding date at least as
    fine as the unit; from the anchor when the text names none."""
    ordered = sorted(chosen, key=lambda c: c.start)
    for i, c in enumerate(ordered):
        if "anaphoric" not in c.extras:
            continue
        unit, shift = c.extras["anaphoric"]
        for previous in reversed(ordered[:i]):
            r = previous.resolved
            if r is None or r.start is None or "anaphoric" in previous.extras or previous.type != "DATE":
                continue
            if _GRANULARITY_RANK.get(r.granularity, 9) <= _GRANULARITY_RANK[unit]:
                try:
                    c.resolved = shifted(r.start.date(), unit, shift)
                except (ValueError, OverflowError):
                    break  # keep the value counted from the anchor
                c.value = c.resolved.value
                break


def _resolve_times(chosen: list[Candidate], doc, anchor_date: date) -> None:
    """A clock time takes its day from a day-precise date in the same sentence, else the anchor."""
    clocks = [c for c in chosen if c.clock is not None]
    if not clocks:
        return
    days = sorted((c for c in chosen if c.resolved is not None and c.resolved.granularity == _DAY_GRANULARITY),
                  key=lambda c: c.start)
    for c in clocks:
        lo, hi = 0, len(doc.text)
        span = doc.char_span(c.start, c.end, alignment_mode="expand")
        if span is not None and len(span):
            try:
                lo, hi = span.sent.start_char, span.sent.end_char
            except ValueError:  # no sentence boundaries (a tokenizer-only pipeline): the whole text
                pass
        same = [d for d in days if lo <= d.start < hi]
        before = [d for d in same if d.start < c.start]
        reference = (before[-1] if before else same[0]) if same else None
        day_of = date.fromisoformat(reference.resolved.value) if reference else anchor_date
        hour, minute, zone = c.clock
        try:
            c.resolved = cal.clock_time(day_of, hour, minute, zone)
        except OverflowError:
            continue  # beyond the calendar: left without a value, dropped from the output
        c.value = c.resolved.value


def _ranges(chosen: list[Candidate], text: str) -> list[Candidate]:
    """"from 2009 to 2011", "between 2014 and 2016": a DURATION over the pair, besides the two dates."""
    out = []
    ordered = sorted(chosen, key=lambda c: c.start)
    for a, b in zip(ordered, ordered[1:]):
        if a.resolved is None or b.resolved is None or a.resolved.granularity != b.resolved.granularity:
            continue
        if a.resolved.granularity not in ("year", "month") or a.type != "DATE" or b.type != "DATE":
            continue
        opener = _RANGE_OPEN.search(text[max(0, a.start - 12): a.start])
        if not opener or not _RANGE_JOIN.fullmatch(text[a.end: b.start]):
            continue
        start = a.start - (len(text[max(0, a.start - 12): a.start]) - opener.start())
        if a.resolved.granularity == "year":
            amount, unit = b.resolved.start.year - a.resolved.start.year, "year"
        else:
            amount = (b.resolved.start.year - a.resolved.start.year) * 12 + b.resolved.start.month - a.resolved.start.month
            unit = "month"
        if amount <= 0:
            continue
        out.append(Candidate(start, b.end, "DURATION", cal.duration_value(amount, unit), container=True))
    return out


def _to_dict(c: Candidate, text: str, offset: int | None) -> dict:
    interval = None
    if c.type in ("DATE", "TIME") and c.resolved is not None:
        interval = cal.to_utc_interval(c.resolved, offset)
    return {"text": text[c.start:c.end], "type": c.type, "value": c.value, "start": c.start, "end": c.end,
            "interval": interval}

"""Time expressions: find DATE, TIME, DURATION and SET expressions and give each a TIMEX3 value."""

__all__ = ["extract_timexes"]


def extract_timexes(doc, anchor) -> list[dict]:
    # Placeholder until issue 5 lands: the field exists, empty.
    return []

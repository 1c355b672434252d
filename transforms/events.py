"""Events: who did what to whom, when and where."""

__all__ = ["extract_events"]


def extract_events(doc, timexes, anchor) -> list[dict]:
    # Placeholder until issue 6 lands: the field exists, empty.
    return []

"""Which way an underspecified date points: the tense of the verb that governs it."""

from __future__ import annotations

from transforms.nlp.lemmas import lemma

__all__ = ["PAST", "FUTURE", "PRESENT", "UNKNOWN", "direction"]

# PRESENT: a present-tense verb ("the trial begins Monday"): often future in news, not reliably so.
PAST, FUTURE, PRESENT, UNKNOWN = "past", "future", "present", "unknown"

_FUTURE_AUX = {"will", "'ll", "shall", "wo", "going", "gon"}
_PAST_AUX = {"had", "did", "was", "were", "has", "have", "'d", "'ve", "'s"}
# "is set to begin on Wednesday", "expected to arrive in May": the infinitive points forward.
_FORWARD_HEADS = {"set", "expect", "schedule", "plan", "due", "go", "intend", "hope", "aim", "likely",
                  "slate", "poise", "prepare", "promise", "agree", "want", "seek", "vow", "threaten"}
_MAX_HOPS = 4
# "the jets are not due until October", "scheduled for June": the head word itself points forward.
_FORWARD_WORDS = {"due", "scheduled", "slated", "expected", "planned", "upcoming", "forthcoming", "until", "till"}


def direction(doc, start_char: int, end_char: int) -> str:
    """PAST, FUTURE, PRESENT or UNKNOWN for the expression at these character offsets of ``doc``."""
    span = doc.char_span(start_char, end_char, alignment_mode="expand")
    if span is None or len(span) == 0:
        return UNKNOWN
    token = span.root
    for _ in range(_MAX_HOPS):
        if token.lower_ in _FORWARD_WORDS and token.i not in range(span.start, span.end):
            return FUTURE
        if token.pos_ in ("VERB", "AUX") and token.i not in range(span.start, span.end):
            return _verb_direction(token)
        if token.head is token:
            break
        token = token.head
    if token.pos_ in ("VERB", "AUX"):
        return _verb_direction(token)
    return UNKNOWN


def _verb_direction(verb) -> str:
    auxes = [child for child in verb.children if child.dep_ in ("aux", "auxpass")]
    words = {child.lower_ for child in auxes}
    if words & _FUTURE_AUX:
        return FUTURE
    if "to" in words and verb.dep_ in ("xcomp", "advcl", "acl", "relcl", "ccomp"):
        head = verb.head
        if lemma(head).lower() in _FORWARD_HEADS or head.lower_ in ("set", "due", "slated", "scheduled"):
            return FUTURE
        if lemma(head) == "be":  # "the trial is to begin on Monday"
            return FUTURE
        return _verb_direction(head) if head is not verb else UNKNOWN
    if any(child.tag_ == "MD" for child in auxes):
        return UNKNOWN  # "could", "would", "may": hypothetical
    if verb.tag_ == "VBD" or words & _PAST_AUX:
        return PAST
    if verb.tag_ == "VBN" and verb.dep_ in ("acl", "amod"):  # "the jet delivered on Monday"
        return PAST
    if verb.tag_ in ("VBZ", "VBP") or (verb.tag_ == "VBG" and words & {"is", "are", "am", "'re"}):
        return PRESENT
    return UNKNOWN

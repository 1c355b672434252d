"""Event context: the time and place an event attaches to, its flags (negated, modality, reported) and its type."""

from __future__ import annotations

from datetime import timedelta

from transforms.events.types import LIGHT_VERBS, REPORTING_VERBS, event_type
from transforms.events.roles import first_child
from transforms.nlp.lemmas import lemma

__all__ = ["attach_timexes", "attach_locations", "share_with_light_verbs", "published_date", "negated", "modality", "reported",
           "according_to", "quoted_ranges", "event_type_of"]

_LOCATIVE_PREPS = frozenset({"in", "at", "near", "outside", "inside", "across", "throughout", "within", "around"})
_LOCATION_LABELS = frozenset({"GPE", "LOC", "FAC"})
_LOCATED_ARGUMENTS = frozenset({"nsubj", "nsubjpass", "dobj"})
# Only a point or a stretch of the calendar dates an event; durations ("for three weeks") and sets do not.
_ANCHORING_TIMEX_TYPES = frozenset({"DATE", "TIME"})
_OPEN_QUOTES = {'"': '"', "\u201c": "\u201d"}


def _governing_trigger(token, trigger_ids):
    """The nearest trigger above ``token`` in the parse (the token itself excluded)."""
    current = token
    for _ in range(40):
        head = current.head
        if head.i == current.i:
            return None
        if head.i in trigger_ids:
            return head
        current = head
    return None


def attach_timexes(doc, text_length: int, timexes, trigger_ids) -> dict:
    """trigger index -> the first DATE/TIME timex whose nearest governing trigger it is.

    Malformed timexes (not a dict, no value, offsets missing, reversed or outside the text) are skipped.
    """
    attached = {}
    for timex in timexes or ():
        if (not isinstance(timex, dict) or not isinstance(timex.get("type"), str)
                or timex["type"] not in _ANCHORING_TIMEX_TYPES or not timex.get("value")):
            continue
        try:
            start, end = int(timex["start"]), int(timex["end"])
        except (KeyError, TypeError, ValueError):
            continue
        if not 0 <= start < end <= text_length:
            continue
        span = doc.char_span(start, end, alignment_mode="expand")
        if span is None or len(span) == 0:
            continue
        trigger = _governing_trigger(span.root, trigger_ids)
        if trigger is not None and trigger.i not in attached:
            attached[trigger.i] = timex
    return attached


def attach_locations(doc, trigger_ids) -> dict:
    """trigger index -> the first GPE/LOC/FAC in a locative phrase on the trigger or on its subject or object."""
    attached = {}
    for ent in doc.ents:
        if ent.label_ not in _LOCATION_LABELS:
            continue
        root = ent.root
        if root.dep_ != "pobj" or root.head.lower_ not in _LOCATIVE_PREPS:
            continue
        holder = root.head.head  # what the locative phrase modifies
        if holder.i not in trigger_ids and holder.dep_ in _LOCATED_ARGUMENTS:
            holder = holder.head  # "opened a factory in Texas", "police in Paris arrested"
        if holder.i in trigger_ids and holder.i not in attached:
            attached[holder.i] = {"text": ent.text, "start": ent.start_char, "end": ent.end_char}
    return attached


def share_with_light_verbs(triggers, trigger_ids, times: dict, places: dict) -> None:
    """A light verb and its eventive object are one event: each takes the other's time and place when it has none."""
    for token in triggers:
        if token.dep_ != "dobj" or token.pos_ != "NOUN" or token.head.i not in trigger_ids:
            continue
        if lemma(token.head).lower() not in LIGHT_VERBS:
            continue
        for found in (times, places):
            if token.i in found and token.head.i not in found:
                found[token.head.i] = found[token.i]
            elif token.head.i in found and token.i not in found:
                found[token.i] = found[token.head.i]


def published_date(anchor) -> str | None:
    if anchor is None or getattr(anchor, "utc", None) is None:
        return None
    local = anchor.utc + timedelta(minutes=anchor.offset_minutes or 0)
    return local.date().isoformat()




def _predicate_head(token):
    """Where a predicate's auxiliaries and negation hang: the copula for a predicate adjective."""
    return token.head if token.pos_ == "ADJ" and token.dep_ == "acomp" else token


def negated(token) -> bool:
    node = _predicate_head(token)
    if any(child.dep_ == "neg" for child in node.children):
        return True
    if token.pos_ == "NOUN":
        return any(child.dep_ == "det" and child.lower_ == "no" for child in token.children)
    return False


def modality(token):
    node = _predicate_head(token)
    for _ in range(3):
        modals = [child for child in node.children if child.dep_ == "aux" and child.tag_ == "MD"]
        if modals:
            return lemma(modals[0]).lower()
        has_own_aux = any(child.dep_ in ("aux", "auxpass") for child in node.children)
        if node.dep_ == "conj" and not has_own_aux and node.head.pos_ in ("VERB", "AUX"):
            node = node.head  # "will cease and look": the modal is shared
            continue
        return None
    return None


def reported(token, quoted, according) -> bool:
    """True when the event is told by a source: under a reporting verb, in a quotation, or 'according to' someone."""
    current = token
    for _ in range(40):
        head = current.head
        if head.i == current.i:
            break
        if current.dep_ in ("ccomp", "parataxis") and lemma(head).lower() in REPORTING_VERBS:
            return True
        current = head
    i = token.i
    if according and lemma(token).lower() not in REPORTING_VERBS and any(sent_start <= i < sent_end and not phrase_start <= i <= phrase_end
           for sent_start, sent_end, phrase_start, phrase_end in according):
        return True
    idx = token.idx
    return any(start <= idx < end for start, end in quoted)


def according_to(doc, text: str) -> list[tuple[int, int, int, int]]:
    """(sentence start, sentence end, phrase start, phrase end) token indices of each "according to X"."""
    if "ccording to" not in text:
        return []
    found = []
    for token in doc:
        if token.lower_ == "according" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "to":
            sent = token.sent
            found.append((sent.start, sent.end, token.i, token.right_edge.i))
    return found


def quoted_ranges(text: str) -> list[tuple[int, int]]:
    """Character ranges inside quotation marks, paired within one paragraph."""
    ranges, offset = [], 0
    for paragraph in text.split("\n"):
        opened_at, closer = None, None
        for i, ch in enumerate(paragraph):
            if opened_at is None and ch in _OPEN_QUOTES:
                opened_at, closer = i, _OPEN_QUOTES[ch]
            elif opened_at is not None and ch == closer:
                ranges.append((offset + opened_at, offset + i))
                opened_at = None
        offset += len(paragraph) + 1
    return ranges


def event_type_of(token, negated: bool) -> str:
    trigger = lemma(token).lower()
    if trigger == "call" and not any(c.dep_ == "prep" and c.lower_ in ("for", "on", "upon") for c in token.children):
        return "OTHER"  # "called for a rerun" is REQUEST; "called it a rigged election", "a phone call" are not
    kind = event_type(trigger, negated=negated)
    if kind == "OTHER" and token.pos_ == "VERB":
        obj = first_child(token, ("dobj",))
        if obj is not None and obj.pos_ == "NOUN":
            kind = event_type(lemma(obj).lower(), negated=negated)  # "held talks" is CONSULT
    return kind

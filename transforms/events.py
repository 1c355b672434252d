"""Events: who did what to whom, when and where, read off a spaCy dependency parse.

Rules, lexicons and flag definitions are documented in docs/events.md; the word lists live in
transforms/event_types.py. Everything here is a pure function of the Doc, the timexes and the
publication anchor: no model, no state, no I/O.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from transforms.event_types import (
    EVENTIVE_NOUNS,
    LIGHT_VERBS,
    NON_EVENT_VERBS,
    NON_EVENTIVE_NOUNS,
    REPORTING_VERBS,
    UNACCUSATIVE_VERBS,
    UNDERGOER_NOUNS,
    event_type,
    nominalized_verb,
    verb_lemmas,
)

__all__ = ["extract_events", "is_trigger"]

_LOGGER = logging.getLogger(__name__)

# Dependency labels under which a VERB token is a modifier or a function word, not an event
# ("the newly built plane", "according to", "including").
_NON_EVENT_VERB_DEPS = frozenset({"amod", "prep", "pobj", "compound", "aux", "auxpass", "nmod", "npadvmod"})
_SUBJECT_DEPS = ("nsubj", "nsubjpass", "csubj", "csubjpass", "expl")
_RELATIVE_PRONOUNS = frozenset({"who", "whom", "which", "that", "whose"})
# Words that cannot be a participant entity: they stand for a proposition or an event ("This imperils the plan").
_NON_PARTICIPANT_WORDS = frozenset({"this", "that", "these", "those", "what", "which", "there", "here"})
# Object-control verbs: the object of "asked X to leave" does the leaving.
_OBJECT_CONTROL = frozenset({"ask", "allow", "urge", "persuade", "force", "order", "tell", "enable", "invite",
                             "permit", "require", "encourage", "compel", "lead", "help", "expect"})
_NOUN_TARGET_PREPS = frozenset({"of", "for", "against", "on", "over", "into"})
_NOUN_ACTOR_PREPS = frozenset({"by", "between", "among"})
_LOCATIVE_PREPS = frozenset({"in", "at", "near", "outside", "inside", "across", "throughout", "within", "around"})
_LOCATION_LABELS = frozenset({"GPE", "LOC", "FAC"})
_ANCHORING_TIMEX_TYPES = frozenset({"DATE", "TIME"})
_TIME_ENTITY_LABELS = frozenset({"DATE", "TIME"})
_OPEN_QUOTES = {'"': '"', "\u201c": "\u201d"}


def extract_events(doc, timexes: list[dict], anchor) -> list[dict]:
    """One event per trigger token of ``doc``, in text order; spans are ``doc.text`` offsets.

    ``timexes`` may be empty; a DATE or TIME timex attaches to the nearest trigger that governs it.
    ``anchor`` (a PublicationTime) dates every event without one of its own.
    """
    triggers = [token for token in doc if is_trigger(token)]
    if not triggers:
        return []
    trigger_ids = {token.i for token in triggers}
    times = _attach_timexes(doc, timexes, trigger_ids)
    places = _attach_locations(doc, trigger_ids)
    published = _published_date(anchor)
    text = doc.text  # Doc.text joins every token on each access: read it once
    quoted = _quoted_ranges(text)
    according = _according_to(doc, text)
    events = []
    for token in triggers:
        actor, target = (_participant(text, token, span, trigger_ids) for span in _roles(token, trigger_ids))
        negated = _negated(token)
        timex = times.get(token.i)
        events.append({
            "trigger": {"text": token.text, "start": token.idx, "end": token.idx + len(token.text),
                        "lemma": token.lemma_.lower()},
            "actor": _span_dict(text, actor),
            "target": _span_dict(text, target),
            "time": ({"value": timex["value"], "source": "timex"} if timex is not None
                     else ({"value": published, "source": "published_at"} if published else None)),
            "location": places.get(token.i),
            "type": _type(token, negated),
            "negated": negated,
            "modality": _modality(token),
            "reported": _reported(token, quoted, according),
        })
    return events


def is_trigger(token) -> bool:
    """Whether a token names an event: a clause-heading verb, a copula, a predicate adjective or an eventive noun."""
    pos, dep = token.pos_, token.dep_
    if pos == "VERB":
        return dep not in _NON_EVENT_VERB_DEPS and token.lemma_.lower() not in NON_EVENT_VERBS
    if pos == "AUX":
        return dep not in ("aux", "auxpass") and token.lemma_.lower() == "be"
    if pos == "ADJ":
        return dep == "acomp"
    if pos == "NOUN":
        return _eventive_noun(token)
    return False


def _eventive_noun(token) -> bool:
    lemma = token.lemma_.lower()
    if token.dep_ == "compound" and token.head.pos_ == "NOUN":
        return False  # "test flight": the head carries the event
    if lemma in EVENTIVE_NOUNS:
        return True
    if lemma in NON_EVENTIVE_NOUNS or not lemma.isalpha():
        return False
    return nominalized_verb(lemma, verb_lemmas()) is not None


# ------------------------------------------------------------------ roles


def _roles(token, trigger_ids):
    """(actor span, target span) as (start token, end token) pairs or None."""
    if token.pos_ == "NOUN":
        return _noun_roles(token)
    if token.pos_ == "ADJ":
        return None, None  # "is willing": the copula carries the subject
    actor = target = None
    subject = _first_child(token, ("nsubj",))
    passive_subject = _first_child(token, ("nsubjpass",))
    agent = _first_child(token, ("agent",))
    obj = _first_child(token, ("dobj",)) or (_first_child(token, ("attr",)) if _first_child(token, ("expl",)) else None)
    if agent is not None:
        actor = _phrase(_first_child(agent, ("pobj",)))
    if passive_subject is not None:
        target = _phrase(passive_subject)
    if obj is not None:
        target = _relative_antecedent(token, obj) if obj.lower_ in _RELATIVE_PRONOUNS and token.dep_ == "relcl" else _phrase(obj)
    if subject is not None:
        if subject.lower_ in _RELATIVE_PRONOUNS and token.dep_ == "relcl":
            span = _relative_antecedent(token, subject)
        else:
            span = _phrase(subject)
        if _undergoer_subject(token, obj):
            target = target or span
        else:
            actor = span
    elif passive_subject is None:
        shared, shared_is_target = _implicit_subject(token)
        if shared is not None:
            if shared_is_target or _is_passive(token) or _undergoer_subject(token, obj):
                target = target or shared
            else:
                actor = actor or shared
    if token.dep_ == "relcl" and obj is None and subject is None and passive_subject is None:
        target = target or _relative_antecedent(token, None)
    return actor, target


def _participant(text, trigger, span, trigger_ids):
    """Keep a role filler only when it names a participant: not an event (an eventive noun is an event of
    its own, linked by the parse, not a participant), not a proposition word ("this", "what"), not a
    time, and on the trigger's line (a headline without a full stop is parsed into the next paragraph)."""
    if span is None:
        return None
    head = span[2]
    low, high = sorted((trigger.idx, head.idx))
    if "\n" in text[low:high]:
        return None
    if head.pos_ == "NOUN" and head.i in trigger_ids:
        return None
    if span[0].i == span[1].i and head.lower_ in _NON_PARTICIPANT_WORDS:
        return None
    if head.ent_type_ in _TIME_ENTITY_LABELS:
        return None  # "talks on Saturday": a time, not a participant
    return span


def _undergoer_subject(token, obj) -> bool:
    """The subject of a copula or of an unaccusative verb used intransitively is its Arg1."""
    return token.pos_ == "AUX" or (obj is None and token.lemma_.lower() in UNACCUSATIVE_VERBS)


def _is_passive(token) -> bool:
    return any(child.dep_ == "auxpass" for child in token.children) or (token.tag_ == "VBN" and token.dep_ == "acl")


def _implicit_subject(token, depth: int = 0):
    """The subject a verb without one shares with the verb it hangs from: (span, is_target)."""
    if depth > 6:
        return None, False
    head, dep = token.head, token.dep_
    if head.i == token.i:
        return None, False
    if dep == "acl" and head.pos_ in ("NOUN", "PROPN", "PRON"):
        if token.tag_ == "VBN":
            return _phrase(head), True  # "the team formed to look": the team was formed
        if token.tag_ == "VB" and head.dep_ in ("dobj", "pobj") and any(c.tag_ == "TO" for c in token.children):
            # "EADS won a contract to supply tankers": the winner supplies
            clause = head.head.head if head.dep_ == "pobj" else head.head
            if clause.pos_ in ("VERB", "AUX"):
                subject = _first_child(clause, ("nsubj",))
                return (_phrase(subject), False) if subject is not None else _implicit_subject(clause, depth + 1)
        return None, False
    if dep == "relcl":
        return _relative_antecedent(token, None), False
    if dep == "xcomp" and head.lemma_.lower() in _OBJECT_CONTROL:
        obj = _first_child(head, ("dobj",))
        if obj is not None:
            return _phrase(obj), False
    if dep == "advcl" and token.tag_ == "VBN":
        return None, False  # "converted for the task": a participle whose subject is not the main one
    if dep in ("conj", "xcomp", "advcl") and head.pos_ in ("VERB", "AUX", "ADJ"):
        subject = _first_child(head, ("nsubj",))
        if subject is not None:
            if subject.lower_ in _RELATIVE_PRONOUNS and head.dep_ == "relcl":
                return _relative_antecedent(head, subject), False
            return _phrase(subject), False
        passive_subject = _first_child(head, ("nsubjpass",))
        if passive_subject is not None:
            # "was sold and delivered": a passive conjunct shares the target; an active one cannot use it
            return (_phrase(passive_subject), True) if dep == "conj" and _is_passive(token) else (None, False)
        return _implicit_subject(head, depth + 1)
    return None, False


def _relative_antecedent(verb, pronoun):
    """The noun a relative clause modifies, stretched over the relative pronoun ("AirTanker, who")."""
    antecedent = verb.head
    if antecedent.i == verb.i:
        return None
    start, end, head = _phrase(antecedent, stop_at=verb)
    if pronoun is not None and pronoun.i > end.i:
        end = pronoun
    return start, end, head


def _noun_roles(token):
    actor = target = None
    for child in token.children:
        if child.dep_ == "poss":
            if token.lemma_.lower() in UNDERGOER_NOUNS:
                target = target or _phrase(child)
            else:
                actor = actor or _phrase(child)
        elif child.dep_ == "prep":
            prep = child.lower_
            pobj = _first_child(child, ("pobj",))
            if pobj is None:
                continue
            if prep in _NOUN_ACTOR_PREPS and actor is None:
                actor = _phrase(pobj)
            elif prep in _NOUN_TARGET_PREPS and target is None:
                target = _phrase(pobj)
    if actor is None and token.dep_ == "dobj" and token.head.pos_ == "VERB":
        # light verbs and their kin: "Boeing held talks", "the airline signed an agreement"
        head = token.head
        if head.lemma_.lower() in LIGHT_VERBS:
            subject = _first_child(head, ("nsubj",))
            if subject is not None:
                actor = _phrase(subject)
            else:
                shared, is_target = _implicit_subject(head)
                actor = None if is_target else shared
    return actor, target


def _first_child(token, deps):
    if token is None:
        return None
    for child in token.children:
        if child.dep_ in deps:
            return child
    return None


def _phrase(head, stop_at=None):
    """The noun phrase a head token heads, without relative clauses, comma appositions or edge punctuation."""
    if head is None:
        return None
    left, right = head.i, head.i
    for child in head.children:
        if (stop_at is not None and child.i == stop_at.i) or child.dep_ in ("relcl", "punct", "cc") and child.i > head.i:
            continue
        if child.dep_ == "appos" and child.i > head.i and child.left_edge.i > 0 and head.doc[child.left_edge.i - 1].is_punct:
            continue  # ", the parent company of Airbus,"
        if child.dep_ in ("acl", "prep", "conj", "appos") and child.i > head.i and _has_clause(child):
            continue
        if child.dep_ == "prep" and any(t.ent_type_ in _TIME_ENTITY_LABELS for t in child.children):
            continue  # "Lukashenko on August 10 secured": the date belongs to the clause
        subtree = list(child.subtree)
        left, right = min(left, subtree[0].i), max(right, subtree[-1].i)
    doc = head.doc
    for i in range(head.i - 1, left - 1, -1):  # a phrase never crosses a line break
        if "\n" in doc[i].text or "\n" in doc[i].whitespace_:
            left = i + 1
            break
    for i in range(head.i, right):
        if "\n" in doc[i].whitespace_ or "\n" in doc[i + 1].text:
            right = i
            break
    while left < right and (doc[right].is_punct or doc[right].dep_ == "cc"):
        right -= 1
    while left < right and doc[left].is_punct:
        left += 1
    return doc[left], doc[right], head


def _has_clause(token) -> bool:
    return any(t.dep_ in ("relcl", "ccomp", "advcl") for t in token.subtree)


def _span_dict(text, span):
    if span is None:
        return None
    start, end = span[0].idx, span[1].idx + len(span[1].text)
    return {"text": text[start:end], "start": start, "end": end}


# ------------------------------------------------------------------ time and place


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


def _attach_timexes(doc, timexes, trigger_ids) -> dict:
    attached = {}
    for timex in timexes or ():
        if timex.get("type") not in _ANCHORING_TIMEX_TYPES or not timex.get("value"):
            continue
        try:
            span = doc.char_span(int(timex["start"]), int(timex["end"]), alignment_mode="expand")
        except (KeyError, TypeError, ValueError):
            continue
        if span is None or len(span) == 0:
            continue
        trigger = _governing_trigger(span.root, trigger_ids)
        if trigger is not None and trigger.i not in attached:
            attached[trigger.i] = timex
    return attached


def _attach_locations(doc, trigger_ids) -> dict:
    attached = {}
    for ent in doc.ents:
        if ent.label_ not in _LOCATION_LABELS:
            continue
        root = ent.root
        if root.dep_ == "pobj" and root.head.lower_ in _LOCATIVE_PREPS:
            trigger = _governing_trigger(root.head, trigger_ids)
            if trigger is not None and root.head.head.i == trigger.i and trigger.i not in attached:
                attached[trigger.i] = {"text": ent.text, "start": ent.start_char, "end": ent.end_char}
    return attached


def _published_date(anchor) -> str | None:
    if anchor is None or getattr(anchor, "utc", None) is None:
        return None
    local = anchor.utc + timedelta(minutes=anchor.offset_minutes or 0)
    return local.date().isoformat()


# ------------------------------------------------------------------ flags and type


def _predicate_head(token):
    """Where a predicate's auxiliaries and negation hang: the copula for a predicate adjective."""
    return token.head if token.pos_ == "ADJ" and token.dep_ == "acomp" else token


def _negated(token) -> bool:
    node = _predicate_head(token)
    if any(child.dep_ == "neg" for child in node.children):
        return True
    if token.pos_ == "NOUN":
        return any(child.dep_ == "det" and child.lower_ == "no" for child in token.children)
    return False


def _modality(token):
    node = _predicate_head(token)
    for _ in range(3):
        modals = [child for child in node.children if child.dep_ == "aux" and child.tag_ == "MD"]
        if modals:
            return modals[0].lemma_.lower()
        has_own_aux = any(child.dep_ in ("aux", "auxpass") for child in node.children)
        if node.dep_ == "conj" and not has_own_aux and node.head.pos_ in ("VERB", "AUX"):
            node = node.head  # "will cease and look": the modal is shared
            continue
        return None
    return None


def _reported(token, quoted, according) -> bool:
    """True when the event is told by a source: under a reporting verb, in a quotation, or 'according to' someone."""
    current = token
    for _ in range(40):
        head = current.head
        if head.i == current.i:
            break
        if current.dep_ in ("ccomp", "parataxis") and head.lemma_.lower() in REPORTING_VERBS:
            return True
        current = head
    i = token.i
    if according and token.lemma_.lower() not in REPORTING_VERBS and any(sent_start <= i < sent_end and not phrase_start <= i <= phrase_end
           for sent_start, sent_end, phrase_start, phrase_end in according):
        return True
    idx = token.idx
    return any(start <= idx < end for start, end in quoted)


def _according_to(doc, text: str) -> list[tuple[int, int, int, int]]:
    """(sentence start, sentence end, phrase start, phrase end) token indices of each "according to X"."""
    if "ccording to" not in text:
        return []
    found = []
    for token in doc:
        if token.lower_ == "according" and token.i + 1 < len(doc) and doc[token.i + 1].lower_ == "to":
            sent = token.sent
            found.append((sent.start, sent.end, token.i, token.right_edge.i))
    return found


def _quoted_ranges(text: str) -> list[tuple[int, int]]:
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


def _type(token, negated: bool) -> str:
    kind = event_type(token.lemma_.lower(), negated=negated)
    if kind == "OTHER" and token.pos_ == "VERB":
        obj = _first_child(token, ("dobj",))
        if obj is not None and obj.pos_ == "NOUN":
            kind = event_type(obj.lemma_.lower(), negated=negated)  # "held talks" is CONSULT
    return kind

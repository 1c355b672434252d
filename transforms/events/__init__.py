"""Events: who did what to whom, when and where, read off a spaCy dependency parse.

``extract_events(doc, timexes, anchor)`` is the stage's one entry point. Triggers are found here;
roles (actor = PropBank Arg0, target = Arg1) in ``roles.py``; time, place, flags and type in
``context.py``; word lists in ``transforms/events/types.py``. docs/events.md documents the rules.

Guarantees: pure (no I/O; the verb lemma table is read once from the installed spaCy model),
deterministic, one event per trigger token, events in text order, every span an offset pair into
``doc.text`` with the span's own text.
"""

from __future__ import annotations

import logging

from spacy import symbols as spacy_symbols

from transforms.events.types import EVENTIVE_NOUNS, NON_EVENT_VERBS, NON_EVENTIVE_NOUNS, nominalized_verb, verb_lemmas
from transforms.events.context import (
    according_to,
    attach_locations,
    attach_timexes,
    event_type_of,
    modality,
    negated,
    published_date,
    quoted_ranges,
    reported,
    share_with_light_verbs,
)
from transforms.events.roles import participant, roles, span_dict
from transforms.nlp.lemmas import lemma

__all__ = ["extract_events", "is_trigger"]

_LOGGER = logging.getLogger(__name__)

# Dependency labels under which a VERB token is a modifier or a function word, not an event
# ("the newly built plane", "according to", "including").
_CANDIDATE_POS = frozenset(spacy_symbols.IDS[name] for name in ("VERB", "AUX", "ADJ", "NOUN"))
_NON_EVENT_VERB_DEPS = frozenset({"amod", "prep", "pobj", "compound", "aux", "auxpass", "nmod", "npadvmod"})


def extract_events(doc, timexes: list[dict], anchor) -> list[dict]:
    """One event per trigger token of ``doc``, in text order; spans are ``doc.text`` offsets.

    ``timexes`` may be empty; a DATE or TIME timex attaches to the nearest trigger that governs it.
    ``anchor`` (a PublicationTime) dates every event without one of its own.
    """
    triggers = [doc[i] for i in _candidate_indices(doc) if is_trigger(doc[i])]
    if not triggers:
        return []
    trigger_ids = {token.i for token in triggers}
    text = doc.text  # Doc.text joins every token on each access: read it once
    times = attach_timexes(doc, len(text), timexes, trigger_ids)
    places = attach_locations(doc, trigger_ids)
    share_with_light_verbs(triggers, trigger_ids, times, places)
    published = published_date(anchor)
    quoted = quoted_ranges(text)
    according = according_to(doc, text)
    events = []
    for token in triggers:
        actor, target = (participant(text, token, span, trigger_ids) for span in roles(token, trigger_ids))
        is_negated = negated(token)
        timex = times.get(token.i)
        events.append({
            "trigger": {"text": token.text, "start": token.idx, "end": token.idx + len(token.text),
                        "lemma": lemma(token).lower()},
            "actor": span_dict(text, actor),
            "target": span_dict(text, target),
            "time": ({"value": timex["value"], "source": "timex"} if timex is not None
                     else ({"value": published, "source": "published_at"} if published else None)),
            "location": places.get(token.i),
            "type": event_type_of(token, is_negated),
            "negated": is_negated,
            "modality": modality(token),
            "reported": reported(token, quoted, according),
        })
    return events


def _candidate_indices(doc) -> list[int]:
    """Indices of the tokens whose part of speech can make them triggers, read from one int array
    (creating a Token object per word costs more than the rules themselves)."""
    if len(doc) == 0:
        return []
    pos = doc.to_array("POS").tolist()
    return [i for i, value in enumerate(pos) if value in _CANDIDATE_POS]


def is_trigger(token) -> bool:
    """Whether a token names an event: a clause-heading verb, a copula, a predicate adjective or an eventive noun."""
    pos, dep = token.pos_, token.dep_
    if pos == "VERB":
        return dep not in _NON_EVENT_VERB_DEPS and lemma(token).lower() not in NON_EVENT_VERBS
    if pos == "AUX":
        return dep not in ("aux", "auxpass") and lemma(token).lower() == "be"
    if pos == "ADJ":
        return dep == "acomp"
    if pos == "NOUN":
        return _eventive_noun(token)
    return False


def _eventive_noun(token) -> bool:
    noun = lemma(token).lower()
    if token.dep_ == "compound" and token.head.pos_ == "NOUN":
        return False  # "test flight": the head carries the event
    if noun in EVENTIVE_NOUNS:
        return True
    if noun in NON_EVENTIVE_NOUNS or not noun.isalpha():
        return False
    return nominalized_verb(noun, verb_lemmas()) is not None

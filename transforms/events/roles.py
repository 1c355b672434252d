"""Event roles: actor (PropBank Arg0, the doer) and target (Arg1, what is acted on) of a trigger.

A role is a (first token, last token, head token) triple until ``span_dict`` turns it into
``{"text", "start", "end"}``. Rules (docs/events.md): subject and object of an active clause; the
by-phrase and subject of a passive; the subject of a copula or of an unaccusative verb is the
target; a verb without a subject shares one with the verb it hangs from (coordination, control,
participles, relative clauses); a noun's possessor and "of"/"by" phrases.
"""

from __future__ import annotations

from transforms.events.types import LIGHT_VERBS, UNACCUSATIVE_VERBS, UNDERGOER_NOUNS
from transforms.nlp.lemmas import lemma

__all__ = ["roles", "participant", "span_dict", "first_child"]

_RELATIVE_PRONOUNS = frozenset({"who", "whom", "which", "that", "whose"})
# Words that cannot be a participant entity: they stand for a proposition or an event ("This imperils the plan").
_NON_PARTICIPANT_WORDS = frozenset({"this", "that", "these", "those", "what", "which", "there", "here"})
# Object-control verbs: the object of "asked X to leave" does the leaving.
_OBJECT_CONTROL = frozenset({"ask", "allow", "urge", "persuade", "force", "order", "tell", "enable", "invite",
                             "permit", "require", "encourage", "compel", "lead", "help", "expect"})
_NOUN_TARGET_PREPS = frozenset({"of", "for", "against", "on", "over", "into"})
_NOUN_ACTOR_PREPS = frozenset({"by", "between", "among"})
_TIME_ENTITY_LABELS = frozenset({"DATE", "TIME"})
_MANNER_PREPS = frozenset({"in", "with", "through", "via"})


def roles(token, trigger_ids):
    """(actor span, target span) as (start token, end token) pairs or None."""
    if token.pos_ == "NOUN":
        return _noun_roles(token)
    if token.pos_ == "ADJ":
        return None, None  # "is willing": the copula carries the subject
    actor = target = None
    subject = first_child(token, ("nsubj",))
    passive_subject = first_child(token, ("nsubjpass",))
    agent = first_child(token, ("agent",))
    obj = first_child(token, ("dobj",)) or (first_child(token, ("attr",)) if first_child(token, ("expl",)) else None)
    if agent is not None:
        actor = _phrase(first_child(agent, ("pobj",)))
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


def participant(text, trigger, span, trigger_ids):
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
    return token.pos_ == "AUX" or (obj is None and lemma(token).lower() in UNACCUSATIVE_VERBS)


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
                subject = first_child(clause, ("nsubj",))
                return (_phrase(subject), False) if subject is not None else _implicit_subject(clause, depth + 1)
        return None, False
    if dep == "relcl":
        return _relative_antecedent(token, None), False
    if dep == "xcomp" and lemma(head).lower() in _OBJECT_CONTROL:
        obj = first_child(head, ("dobj",))
        if obj is not None:
            return _phrase(obj), False
    if dep == "advcl" and token.tag_ == "VBN":
        return None, False  # "converted for the task": a participle whose subject is not the main one
    if dep in ("conj", "xcomp", "advcl") and head.pos_ in ("VERB", "AUX", "ADJ"):
        subject = first_child(head, ("nsubj",))
        if subject is not None:
            if subject.lower_ in _RELATIVE_PRONOUNS and head.dep_ == "relcl":
                return _relative_antecedent(head, subject), False
            return _phrase(subject), False
        passive_subject = first_child(head, ("nsubjpass",))
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
            if lemma(token).lower() in UNDERGOER_NOUNS:
                target = target or _phrase(child)
            else:
                actor = actor or _phrase(child)
        elif child.dep_ == "prep":
            prep = child.lower_
            pobj = first_child(child, ("pobj",))
            if pobj is None:
                continue
            if prep in _NOUN_ACTOR_PREPS and actor is None:
                actor = _phrase(pobj)
            elif prep in _NOUN_TARGET_PREPS and target is None:
                target = _phrase(pobj)
    head = token.head
    if actor is None and token.dep_ == "pobj" and head.lower_ in _MANNER_PREPS and head.head.pos_ == "VERB":
        # "Boeing challenged the award in a formal protest", "X said in a statement"
        verb = head.head
        if not _is_passive(verb):
            subject = first_child(verb, ("nsubj",))
            if subject is not None:
                actor = _phrase(subject)
    if actor is None and token.dep_ == "dobj" and head.pos_ == "VERB":
        # light verbs: "Boeing held talks", "the airline took delivery"
        if lemma(head).lower() in LIGHT_VERBS:
            subject = first_child(head, ("nsubj",))
            if subject is not None:
                actor = _phrase(subject)
            else:
                shared, is_target = _implicit_subject(head)
                actor = None if is_target else shared
    return actor, target


def first_child(token, deps):
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


def span_dict(text, span):
    if span is None:
        return None
    start, end = span[0].idx, span[1].idx + len(span[1].text)
    return {"text": text[start:end], "start": start, "end": end}

"""Event roles checked against PropBank conventions, one test per phenomenon.

PropBank (Palmer, Gildea, Kingsbury 2005; the PropBank annotation guidelines, Bonial et al.) numbers
arguments by role, not by position: Arg0 is the proto-agent, Arg1 the proto-patient or theme, whatever
the voice. The record calls Arg0 ``actor`` and Arg1 ``target``. NomBank (Meyers et al. 2004) extends
the same frames to nominal events ("the acquisition of X by Y"). TimeML marks reporting and aspectual
verbs as events of their own (classes REPORTING, ASPECTUAL), states only when they are predicated.
The sentences are ours, written for each convention; none is taken from the dev set.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from transforms.events import extract_events
from transforms.parse.pubtime import PublicationTime

ANCHOR = PublicationTime(datetime(2024, 3, 5, 9, 30, tzinfo=timezone.utc), 0)


@pytest.fixture(scope="module")
def nlp():
    from transforms.nlp.transform import default_model_name, load_model

    return load_model(default_model_name())


def roles_of(nlp, text, trigger):
    events = extract_events(nlp(text), [], ANCHOR)
    found = [e for e in events if e["trigger"]["text"] == trigger]
    assert found, f"no event {trigger!r} in {[e['trigger']['text'] for e in events]}"
    e = found[0]
    return (e["actor"] or {}).get("text"), (e["target"] or {}).get("text")


def triggers_of(nlp, text):
    return [e["trigger"]["text"] for e in extract_events(nlp(text), [], ANCHOR)]


# ---------------------------------------------------------------- voice

@pytest.mark.parametrize("text, trigger, actor, target", [
    ("The army destroyed the bridge.", "destroyed", "The army", "the bridge"),
    ("The bridge was destroyed by the army.", "destroyed", "the army", "The bridge"),
    ("The bridge was destroyed.", "destroyed", None, "The bridge"),
    ("The bridge, destroyed by the army in 1999, was rebuilt.", "destroyed", "the army", "The bridge"),
])
def test_voice_does_not_change_the_roles(nlp, text, trigger, actor, target):
    assert roles_of(nlp, text, trigger) == (actor, target)


# ---------------------------------------------------------------- control and raising

def test_subject_control_the_subject_is_the_agent_of_the_infinitive(nlp):
    assert roles_of(nlp, "The company plans to buy the airline.", "buy") == ("The company", "the airline")


def test_object_control_the_object_is_the_agent_of_the_infinitive(nlp):
    # (an eventive noun such as "the strike" is an event of its own, never a participant: docs/events.md)
    assert roles_of(nlp, "The union asked the workers to leave the plant.", "leave") == ("the workers", "the plant")


def test_passive_infinitive_under_control_keeps_the_theme(nlp):
    assert roles_of(nlp, "The plant is expected to be sold next year.", "sold")[1] == "The plant"


# ---------------------------------------------------------------- relative clauses

# The antecedent's span reaches over the relative pronoun ("The company that"): PropBank gives the
# pronoun the role and links it to the noun (R-ArgN); the record has one span for both.
@pytest.mark.parametrize("text, trigger, actor, target", [
    ("The company that bought the airline cut jobs.", "bought", "The company that", "the airline"),
    ("The airline that the company bought cut jobs.", "bought", "the company", "The airline that"),
    ("The jets built by the firm are late.", "built", "the firm", "The jets"),
])
def test_relative_clauses_take_the_noun_they_modify(nlp, text, trigger, actor, target):
    assert roles_of(nlp, text, trigger) == (actor, target)


# ---------------------------------------------------------------- coordination

def test_coordinated_verbs_share_the_subject(nlp):
    text = "The rebels seized the town and burned the market."
    assert roles_of(nlp, text, "seized") == ("The rebels", "the town")
    assert roles_of(nlp, text, "burned") == ("The rebels", "the market")


def test_coordinated_subjects_are_one_actor(nlp):
    assert roles_of(nlp, "France and Germany signed the treaty.", "signed") == ("France and Germany", "the treaty")


# ---------------------------------------------------------------- nominal events (NomBank)

@pytest.mark.parametrize("text, trigger, actor, target", [
    ("The destruction of the bridge by the army shocked the town.", "destruction", "the army", "the bridge"),
    ("Boeing's acquisition of the supplier closed.", "acquisition", "Boeing's", "the supplier"),
])
def test_nominal_events_take_of_and_by_phrases(nlp, text, trigger, actor, target):
    assert roles_of(nlp, text, trigger) == (actor, target)


# ---------------------------------------------------------------- light verbs

def test_light_verb_noun_carries_the_event_and_the_subject_is_its_agent(nlp):
    assert roles_of(nlp, "The two leaders held talks on Monday.", "talks")[0] == "The two leaders"


def test_take_place_has_no_participant_in_its_noun(nlp):
    # what takes place is an event (never a participant); "place" is part of the predicate
    assert roles_of(nlp, "The ceremony took place on Sunday.", "took") == (None, None)


# ---------------------------------------------------------------- unaccusatives and extents

@pytest.mark.parametrize("text, trigger, target", [
    ("Shares fell 5% on Monday.", "fell", "Shares"),
    ("The index plunged 300 points.", "plunged", "The index"),
    ("Oil prices climbed.", "climbed", "Oil prices"),
])
def test_the_thing_that_moves_is_the_theme(nlp, text, trigger, target):
    assert roles_of(nlp, text, trigger) == (None, target)


# ---------------------------------------------------------------- which predicates are events in news

def test_reporting_and_aspectual_verbs_are_events(nlp):
    triggers = triggers_of(nlp, "The minister said the talks began on Monday.")
    assert "said" in triggers and "began" in triggers


def test_reporting_verb_subject_is_the_sayer(nlp):
    assert roles_of(nlp, "The minister said the talks had failed.", "said")[0] == "The minister"


def test_attributive_participles_are_not_events(nlp):
    assert "built" not in triggers_of(nlp, "The newly built terminal opened.")

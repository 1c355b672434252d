"""Event extraction: one test per rule family on sentences of our own, plus the seed article end to end."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from transforms.events.types import EVENT_TYPES, FALLBACK_TYPE, event_type, nominalized_verb, verb_lemmas
from transforms.events import extract_events
from transforms.parse.pubtime import PublicationTime

SEED = Path(__file__).resolve().parents[3] / "seeds" / "000_8e0deb087ab3057e.txt"
ANCHOR = PublicationTime(datetime(2024, 3, 5, 9, 30, tzinfo=timezone.utc), 0)
EVENT_KEYS = {"trigger", "actor", "target", "time", "location", "type", "negated", "modality", "reported"}


@pytest.fixture(scope="module")
def nlp():
    from transforms.nlp.transform import default_model_name, load_model

    return load_model(default_model_name())


def events_of(nlp, text, timexes=(), anchor=ANCHOR):
    return extract_events(nlp(text), list(timexes), anchor)


def event(events, trigger):
    found = [e for e in events if e["trigger"]["text"] == trigger]
    assert found, f"no event {trigger!r} in {[e['trigger']['text'] for e in events]}"
    return found[0]


def text_of(span):
    return None if span is None else span["text"]


def timex(text, phrase, value, kind="DATE"):
    start = text.index(phrase)
    return {"text": phrase, "type": kind, "value": value, "start": start, "end": start + len(phrase), "interval": None}


# ------------------------------------------------------------------ shape


def test_every_event_has_the_documented_fields_and_offsets_into_the_text(nlp):
    text = "Rebels attacked the convoy near Kabul on Monday. The army did not respond."
    events = events_of(nlp, text, [timex(text, "Monday", "2024-03-04")])
    assert events
    for e in events:
        assert set(e) == EVENT_KEYS
        assert set(e["trigger"]) == {"text", "start", "end", "lemma"}
        for key in ("trigger", "actor", "target", "location"):
            if e[key] is not None:
                assert text[e[key]["start"]:e[key]["end"]] == e[key]["text"]
        assert e["time"]["source"] in ("timex", "published_at")
        assert e["type"] in EVENT_TYPES
        assert isinstance(e["negated"], bool) and isinstance(e["reported"], bool)
    assert [e["trigger"]["start"] for e in events] == sorted(e["trigger"]["start"] for e in events)


def test_empty_text_has_no_events(nlp):
    assert events_of(nlp, "") == []


# ------------------------------------------------------------------ roles


def test_active_clause_subject_is_actor_and_object_is_target(nlp):
    e = event(events_of(nlp, "Rebels attacked the convoy."), "attacked")
    assert (text_of(e["actor"]), text_of(e["target"])) == ("Rebels", "the convoy")
    assert e["trigger"]["lemma"] == "attack" and e["type"] == "ASSAULT"


def test_passive_by_phrase_is_actor_and_subject_is_target(nlp):
    e = event(events_of(nlp, "The contract was awarded by the Pentagon."), "awarded")
    assert text_of(e["actor"]) == "the Pentagon"
    assert text_of(e["target"]) == "The contract"


def test_passive_without_by_phrase_has_no_actor(nlp):
    e = event(events_of(nlp, "Three journalists were arrested."), "arrested")
    assert e["actor"] is None and text_of(e["target"]) == "Three journalists"
    assert e["type"] == "COERCE"


def test_coordinated_verbs_are_separate_events_sharing_the_subject(nlp):
    events = events_of(nlp, "Protesters stormed the building and attacked the guards.")
    stormed, attacked = event(events, "stormed"), event(events, "attacked")
    assert text_of(stormed["actor"]) == text_of(attacked["actor"]) == "Protesters"
    assert text_of(stormed["target"]) == "the building"
    assert text_of(attacked["target"]) == "the guards"


def test_coordinated_subject_is_one_actor_span(nlp):
    e = event(events_of(nlp, "France and Germany signed the treaty."), "signed")
    assert text_of(e["actor"]) == "France and Germany"


def test_relative_clause_subject_is_the_noun_it_modifies(nlp):
    e = event(events_of(nlp, "Boeing, which builds the engines, cut 500 jobs."), "builds")
    assert text_of(e["actor"]).startswith("Boeing")
    assert text_of(e["target"]) == "the engines"


def test_object_relative_clause_makes_the_noun_the_target(nlp):
    e = event(events_of(nlp, "Investors bought the planes that Airbus built."), "built")
    assert text_of(e["actor"]) == "Airbus"
    assert text_of(e["target"]).startswith("the planes")


def test_unaccusative_subject_is_target(nlp):
    e = event(events_of(nlp, "The plane crashed."), "crashed")
    assert e["actor"] is None and text_of(e["target"]) == "The plane"


def test_infinitive_shares_the_subject_of_its_governing_verb(nlp):
    e = event(events_of(nlp, "The union decided to strike."), "strike")
    assert text_of(e["actor"]) == "The union"


def test_light_verb_and_its_noun_are_both_events_and_share_the_actor(nlp):
    events = events_of(nlp, "The two leaders held talks in Minsk.")
    held, talks = event(events, "held"), event(events, "talks")
    assert text_of(held["actor"]) == text_of(talks["actor"]) == "The two leaders"
    assert held["target"] is None  # the object is an event of its own, not a participant
    assert held["type"] == talks["type"] == "CONSULT"


def test_eventive_noun_takes_of_phrase_as_target(nlp):
    e = event(events_of(nlp, "Shareholders approved the acquisition of the airline."), "acquisition")
    assert text_of(e["target"]) == "the airline"


def test_nominalizations_are_recognized_by_their_verb():
    verbs = verb_lemmas()
    assert verbs, "the spaCy model's lemmatizer tables should be installed"
    assert nominalized_verb("agreement", verbs) == "agree"
    assert nominalized_verb("arrival", verbs) == "arrive"
    assert nominalized_verb("decision", verbs) == "decide"
    assert nominalized_verb("aircraft", verbs) is None


# ------------------------------------------------------------------ flags


def test_negation_sets_negated_and_turns_agreement_into_rejection(nlp):
    e = event(events_of(nlp, "The government did not approve the plan."), "approve")
    assert e["negated"] is True
    assert e["type"] == "REJECT"
    assert event(events_of(nlp, "The government approved the plan."), "approved")["negated"] is False


def test_modal_word_is_the_modality(nlp):
    assert event(events_of(nlp, "The airline could cancel the order."), "cancel")["modality"] == "could"
    assert event(events_of(nlp, "The airline cancelled the order."), "cancelled")["modality"] is None


def test_modality_is_shared_by_coordinated_verbs_without_their_own_auxiliary(nlp):
    events = events_of(nlp, "Russia will send troops and protect the border.")
    assert event(events, "protect")["modality"] == "will"


def test_events_under_a_reporting_verb_are_reported_and_the_verb_itself_is_not(nlp):
    events = events_of(nlp, "The minister said that troops attacked the village.")
    said, attacked = event(events, "said"), event(events, "attacked")
    assert attacked["reported"] is True
    assert said["reported"] is False and said["type"] == "STATEMENT"


def test_according_to_and_quotations_mark_events_reported(nlp):
    assert event(events_of(nlp, "According to officials, the factory closed."), "closed")["reported"] is True
    assert event(events_of(nlp, '"We will win," the coach said.'), "win")["reported"] is True
    assert event(events_of(nlp, "The factory closed."), "closed")["reported"] is False


# ------------------------------------------------------------------ time and place


def test_timex_in_the_clause_is_the_event_time(nlp):
    text = "Police arrested the suspect on Monday."
    e = event(events_of(nlp, text, [timex(text, "Monday", "2024-03-04")]), "arrested")
    assert e["time"] == {"value": "2024-03-04", "source": "timex"}


def test_timex_attaches_to_the_nearest_governing_event_only(nlp):
    text = "The minister said that the army attacked the town on Friday."
    events = events_of(nlp, text, [timex(text, "Friday", "2024-03-01")])
    assert event(events, "attacked")["time"]["value"] == "2024-03-01"
    assert event(events, "said")["time"]["source"] == "published_at"


def test_durations_do_not_date_an_event(nlp):
    text = "The strike lasted for three weeks."
    e = event(events_of(nlp, text, [timex(text, "three weeks", "P3W", "DURATION")]), "lasted")
    assert e["time"]["source"] == "published_at"


def test_without_a_timex_the_publication_date_in_the_article_offset_is_the_time(nlp):
    late_utc = PublicationTime(datetime(2020, 8, 16, 20, 0, tzinfo=timezone.utc), 330)  # 01:30 on the 17th in IST
    e = event(events_of(nlp, "Lukashenko rejected the calls.", anchor=late_utc), "rejected")
    assert e["time"] == {"value": "2020-08-17", "source": "published_at"}
    no_zone = PublicationTime(datetime(2020, 8, 16, 20, 0, tzinfo=timezone.utc), None)
    assert event(events_of(nlp, "Lukashenko rejected the calls.", anchor=no_zone), "rejected")["time"]["value"] == "2020-08-16"


def test_malformed_timexes_are_ignored(nlp):
    bad = [{"type": "DATE", "value": "2024-01-01"}, {"type": "DATE", "value": "", "start": 0, "end": 6},
           {"type": "DATE", "value": "2024-01-01", "start": "x", "end": 3}]
    e = event(events_of(nlp, "Police arrested the suspect.", bad), "arrested")
    assert e["time"]["source"] == "published_at"


def test_place_in_a_locative_phrase_is_the_location(nlp):
    e = event(events_of(nlp, "Police arrested ten people in Paris."), "arrested")
    assert text_of(e["location"]) == "Paris"
    assert event(events_of(nlp, "Police from Paris arrested ten people."), "arrested")["location"] is None


# ------------------------------------------------------------------ type lexicon


def test_type_lexicon():
    assert event_type("attack") == "ASSAULT"
    assert event_type("protest") == "PROTEST"
    assert event_type("accuse") == "ACCUSE"
    assert event_type("sanction") == "SANCTION"
    assert event_type("reject") == "REJECT"
    assert event_type("demand") == "DEMAND"
    assert event_type("say") == "STATEMENT"
    assert event_type("agree") == "AGREE" and event_type("agree", negated=True) == "REJECT"
    assert event_type("photosynthesize") == FALLBACK_TYPE == "OTHER"
    assert FALLBACK_TYPE in EVENT_TYPES


def test_light_verb_takes_the_type_of_its_noun(nlp):
    assert event(events_of(nlp, "Workers staged a protest."), "staged")["type"] == "PROTEST"


# ------------------------------------------------------------------ the seed article


def _seed_article():
    from transforms.parse.article import parse_message
    from transforms.records import RawMessage

    return parse_message(RawMessage(SEED.read_bytes(), {"file": SEED.name}, 1_600_000_000.0, "text"))


def test_seed_secured_and_rejected_with_a_hand_made_timex(nlp):
    from transforms.nlp.transform import publication_anchor

    article = _seed_article()
    anchor = publication_anchor(article)
    phrase = "Lukashenko on August 10 secured"
    start = article.text.index(phrase) + len("Lukashenko on ")
    hand_made = [{"text": "August 10", "type": "DATE", "value": "2020-08-10", "start": start, "end": start + 9,
                  "interval": None}]
    events = extract_events(nlp(article.text), hand_made, anchor)
    secured = [e for e in events if e["trigger"]["text"] == "secured" and text_of(e["actor"]) == "Lukashenko"]
    assert secured and secured[0]["time"] == {"value": "2020-08-10", "source": "timex"}
    rejected = [e for e in events if e["trigger"]["text"] == "rejected" and "Oana Lungescu" in (text_of(e["actor"]) or "")]
    assert rejected and "NATO spokesperson" in text_of(rejected[0]["actor"])
    assert rejected[0]["type"] == "REJECT" and rejected[0]["reported"] is False


def test_seed_end_to_end_through_the_annotate_stage(nlp):
    from transforms.nlp.transform import annotate_docs

    article = _seed_article()
    (enrichment,) = list(annotate_docs([(nlp(article.text), article)]))
    secured = [e for e in enrichment.events if e["trigger"]["text"] == "secured" and text_of(e["actor"]) == "Lukashenko"]
    assert secured and secured[0]["time"] == {"value": "2020-08-10", "source": "timex"}
    assert any(e["trigger"]["text"] == "rejected" and "Oana Lungescu" in (text_of(e["actor"]) or "")
               for e in enrichment.events)


def test_events_validate_against_the_record_schema(nlp):
    jsonschema = pytest.importorskip("jsonschema")
    schema_path = Path(__file__).resolve().parents[3] / "transforms" / "schema" / "enriched-article.v1.json"
    schema = json.loads(schema_path.read_text(encoding="utf-8"))
    events_schema = {"$defs": schema.get("$defs", {}), **schema["properties"]["events"]}
    text = ("The two leaders held talks in Minsk on Monday. According to officials, the army will not "
            "withdraw. \"We rejected the offer,\" the minister said.")
    events = events_of(nlp, text, [timex(text, "Monday", "2024-03-04")])
    assert len(events) >= 5
    jsonschema.validate(events, events_schema)


def test_timexes_that_are_not_dicts_or_point_outside_the_text_are_ignored(nlp):
    text = "Police arrested the suspect."
    odd = [None, "2024-01-01", {"type": "DATE", "value": "2024", "start": 1000, "end": 1010},
           {"type": "DATE", "value": "2024", "start": 9, "end": 2}, {"type": "DATE", "value": "2024", "start": -4, "end": 3}]
    e = event(events_of(nlp, text, odd), "arrested")
    assert e["time"]["source"] == "published_at"


def test_a_doc_without_a_parse_has_no_events():
    import spacy

    assert extract_events(spacy.blank("en")("According to police, the suspect fled."), [], ANCHOR) == []


def test_light_verb_and_noun_share_time_and_place(nlp):
    text = "The two leaders held talks in Minsk on Monday."
    events = events_of(nlp, text, [timex(text, "Monday", "2024-03-04")])
    held, talks = event(events, "held"), event(events, "talks")
    assert held["time"] == talks["time"] == {"value": "2024-03-04", "source": "timex"}
    assert text_of(held["location"]) == text_of(talks["location"]) == "Minsk"


def test_place_modifying_the_object_locates_the_event(nlp):
    e = event(events_of(nlp, "The company opened a factory in Texas."), "opened")
    assert text_of(e["location"]) == "Texas"


def test_call_is_a_request_only_when_it_calls_for_something(nlp):
    assert event(events_of(nlp, "The opposition called for new elections."), "called")["type"] == "REQUEST"
    assert event(events_of(nlp, "The opposition called it a rigged election."), "called")["type"] == "OTHER"

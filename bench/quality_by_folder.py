"""Extraction quality per dev folder and per phenomenon, so a rule that helps one folder only shows.

    python bench/quality_by_folder.py tests/data/meantime-dev [--scorer tests/data/newseval.py] [--json]

Runs spaCy and the extractors (no Beam; as bench/run_extractors.py) over every folder of the gold
directory, scores the whole set and each folder with newseval.py (TempEval-3-style timex F1, event
trigger and Arg0/Arg1 F1), and breaks the timexes down by phenomenon (the class of the gold value for
recall, of the system value for precision: day, week, month, quarter/half, year, decade/century,
season, PAST/PRESENT/FUTURE_REF, time of day, duration, set) and the arguments by role (overlap
matching as the scorer's, not one-to-one). Prints tables (or one JSON object).
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import json
import os
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from transforms.nlp.transform import annotate_docs, default_model_name, load_model  # noqa: E402
from transforms.parse.article import parse_message  # noqa: E402
from transforms.records import RawMessage  # noqa: E402


def load_scorer(path: str):
    spec = importlib.util.spec_from_file_location("newseval", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def value_class(kind: str, value: str) -> str:
    value = value or ""
    if kind == "DURATION":
        return "duration"
    if kind == "SET":
        return "set"
    if value.endswith("_REF"):
        return "vague ref"
    if kind == "TIME" or "T" in value[4:]:
        return "time of day"
    if re.fullmatch(r"\d{4}-\d\d-\d\d", value):
        return "day"
    if re.fullmatch(r"\d{4}-W\d\d(-WE)?", value):
        return "week"
    if re.fullmatch(r"\d{4}-\d\d", value):
        return "month"
    if re.fullmatch(r"\d{4}-(Q\d|H\d)", value) or value.startswith("FY"):
        return "quarter/half/fiscal"
    if re.fullmatch(r"\d{4}", value):
        return "year"
    if re.fullmatch(r"\d{2,3}", value):
        return "decade/century"
    if re.fullmatch(r"\d{4}-(SP|SU|FA|WI)", value):
        return "season"
    return "other"


def extract(gold_docs, nlp) -> list[dict]:
    now = time.time()  # the ingest time: a publication time after it would be rejected as implausible
    articles = []
    for d in gold_docs:
        line = json.dumps({"id": d.id, "title": d.title, "text": d.text, "published_at": d.published_at}).encode()
        articles.append(parse_message(RawMessage(line, {"line": 0}, now, "json")))
    docs = nlp.pipe(a.text for a in articles)
    return [{"id": a.id, "text": a.text, "timexes": e.timexes, "events": e.events}
            for a, e in zip(articles, annotate_docs(zip(docs, articles)))]


def _overlap(a, b) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])


def phenomena(gold_docs, records) -> dict:
    """Per timex value class: relaxed and value recall (gold class) and precision (system class);
    per argument role: recall and precision (overlap of trigger and argument, as the scorer)."""
    by_id = {r["id"]: r for r in records}
    tx = collections.defaultdict(lambda: collections.Counter())
    args = collections.defaultdict(lambda: collections.Counter())
    for d in gold_docs:
        rec = by_id[d.id]
        gold = [((s, e), ty, v) for s, e, ty, v in d.timexes if s < d.scored_end]
        system = [((t["start"], t["end"]), t["type"], t["value"]) for t in rec["timexes"] if t["start"] < d.scored_end]
        for span, ty, v in gold:
            c = tx[value_class(ty, v)]
            c["gold"] += 1
            hits = [s for s in system if _overlap(s[0], span)]
            c["gold_found"] += bool(hits)
            c["gold_valued"] += any(s[2] == v for s in hits)
        for span, ty, v in system:
            c = tx[value_class(ty, v)]
            c["sys"] += 1
            hits = [g for g in gold if _overlap(g[0], span)]
            c["sys_found"] += bool(hits)
            c["sys_valued"] += any(g[2] == v for g in hits)
        gold_args = [a for a in d.args if a[0][0] < d.scored_end]
        for ev in rec["events"]:
            trigger = (ev["trigger"]["start"], ev["trigger"]["end"])
            if trigger[0] >= d.scored_end:
                continue
            for role, key in (("Arg0", "actor"), ("Arg1", "target")):
                a = ev[key]
                if not a:
                    continue
                c = args[role]
                c["sys"] += 1
                c["sys_found"] += any(g[1] == role and _overlap(g[0], trigger) and _overlap(g[2], (a["start"], a["end"]))
                                      for g in gold_args)
        for trigger, role, span in gold_args:
            c = args[role]
            c["gold"] += 1
            c["gold_found"] += any(_overlap((ev["trigger"]["start"], ev["trigger"]["end"]), trigger)
                                   and ev[("actor" if role == "Arg0" else "target")]
                                   and _overlap((ev[("actor" if role == "Arg0" else "target")]["start"],
                                                 ev[("actor" if role == "Arg0" else "target")]["end"]), span)
                                   for ev in rec["events"])

    def ratio(a, b):
        return round(a / b, 3) if b else None

    return {
        "timex": {k: {"gold": c["gold"], "sys": c["sys"], "relaxed_R": ratio(c["gold_found"], c["gold"]),
                      "relaxed_P": ratio(c["sys_found"], c["sys"]), "value_R": ratio(c["gold_valued"], c["gold"]),
                      "value_P": ratio(c["sys_valued"], c["sys"])} for k, c in sorted(tx.items())},
        "args": {k: {"gold": c["gold"], "sys": c["sys"], "R": ratio(c["gold_found"], c["gold"]),
                     "P": ratio(c["sys_found"], c["sys"])} for k, c in sorted(args.items())},
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("gold_dir")
    parser.add_argument("--scorer", default=str(ROOT / "tests" / "data" / "newseval.py"))
    parser.add_argument("--spacy-model", default=default_model_name())
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if not os.path.isdir(args.gold_dir):
        parser.error(f"no such gold directory: {args.gold_dir}")
    newseval = load_scorer(args.scorer)
    nlp = load_model(args.spacy_model)
    folders = sorted(p for p in os.listdir(args.gold_dir) if os.path.isdir(os.path.join(args.gold_dir, p)))
    result = {"folders": {}, "phenomena": {}}
    every_doc, every_record = [], []
    for folder in folders:
        gold = newseval.load_gold(os.path.join(args.gold_dir, folder))
        records = extract(gold, nlp)
        every_doc += gold
        every_record += records
        result["folders"][folder] = newseval.score(gold, records)
        result["phenomena"][folder] = phenomena(gold, records)
    result["folders"]["all"] = newseval.score(every_doc, every_record)
    result["phenomena"]["all"] = phenomena(every_doc, every_record)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    keys = ("timex_relaxed", "timex_value", "timex_type", "event_trigger", "event_args")
    print("| folder | " + " | ".join(f"{k} F1" for k in keys) + " |")
    print("| --- |" + " --- |" * len(keys))
    for folder, s in result["folders"].items():
        print(f"| {folder} | " + " | ".join(f"{s[k]['f1']:.3f}" for k in keys) + " |")
    print()
    classes = sorted({k for p in result["phenomena"].values() for k in p["timex"]})
    print("| timex class | " + " | ".join(f"{f} gold/sys, value R/P" for f in result["phenomena"]) + " |")
    print("| --- |" + " --- |" * len(result["phenomena"]))
    for k in classes:
        cells = []
        for p in result["phenomena"].values():
            c = p["timex"].get(k)
            cells.append(f"{c['gold']}/{c['sys']}, {c['value_R']}/{c['value_P']}" if c else "")
        print(f"| {k} | " + " | ".join(cells) + " |")
    print()
    print("| argument | " + " | ".join(f"{f} gold/sys, R/P" for f in result["phenomena"]) + " |")
    print("| --- |" + " --- |" * len(result["phenomena"]))
    for role in ("Arg0", "Arg1"):
        cells = []
        for p in result["phenomena"].values():
            c = p["args"].get(role)
            cells.append(f"{c['gold']}/{c['sys']}, {c['R']}/{c['P']}" if c else "")
        print(f"| {role} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Syndicated variants of real articles plus hard negatives, and how the dedup stage labels them.

    python bench/dedup_variants.py pairs            # similarity of every positive and hard-negative pair
    python bench/dedup_variants.py grid             # false positives and recall over shingle sizes and thresholds
    python bench/dedup_variants.py stream           # the real DeduplicateArticles on the FnApiRunner
    python bench/dedup_variants.py stream --order shuffled

Seeds: every article of seeds/ (wikinews/airbus, wikinews/apple, the scraped page) except
seeds/wikinews/syndicated (those are copies themselves; ``stream`` adds them as a known-copy kind).
Variants of each seed, at several strengths: a new headline (title, and as the first line of the
text), a dateline prefix, a copyright footer (short, long), the last sentences cut (keep 90/75/50/35 %),
a sentence of local context (top, end), a share of words changed (1 in 20/10/7/5), paragraphs
re-wrapped, and two combinations of all of these. ``in_target`` marks the variants the issue's
targets cover: at least half the text kept and at most about one word in seven changed.
Hard negatives: the other seeds (the two topic folders are many stories about the same companies
in the same weeks), synthetic daily market reports and quarterly-results stories from shared
templates, and pairs of short distinct articles that share a long boilerplate footer.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from transforms.files import find_article_files, read_article_file  # noqa: E402
from transforms.parse.article import parse_message  # noqa: E402

__all__ = ["Item", "load_seeds", "make_variants", "template_reports", "boilerplate_pairs"]

_SENTENCE = re.compile(r"(?<=[.!?\"])\s+(?=[A-Z0-9\"'(])")
_ALPHA = re.compile(r"^[A-Za-z]+$")
_DATELINES = ["LONDON (AP) — ", "NEW YORK (Reuters) - ", "PARIS, June 3 (AFP) — ", "SEATTLE — ", "TOULOUSE, France (AP) — "]
_FOOTER_SHORT = ("Copyright {year} The Associated Press. All rights reserved. This material may not be "
                 "published, broadcast, rewritten or redistributed.")
_FOOTER_LONG = (_FOOTER_SHORT + " Sign up for our daily newsletter to get the top stories delivered to your "
                "inbox every morning. Follow us on Twitter and Facebook for breaking news and analysis. "
                "Our journalism depends on readers like you: subscribe today for unlimited access to every "
                "story, the digital edition and the archive.")
_LOCAL = [
    "The company employs about 1,200 people at its plant outside the city.",
    "Local officials said they were following the developments closely.",
    "Several firms in the county supply parts to the manufacturer.",
    "The news was welcomed by business leaders in the region on Tuesday.",
]
_REPLACEMENTS = ["reportedly", "announced", "company", "stated", "significant", "market", "officials",
                 "recently", "however", "major", "industry", "plans", "noted", "earlier", "firm", "added"]


@dataclass(frozen=True)
class Item:
    id: str
    title: str | None
    text: str
    kind: str  # "seed", a variant kind, or a hard-negative kind
    strength: str
    story: str  # ground truth: items with the same story are copies of each other
    in_target: bool = False  # a variant the targets cover


def load_seeds(root: Path = ROOT / "seeds") -> list[Item]:
    """Every seed article as the parse stage sees it (text after parsing), syndicated copies excluded."""
    files = [f for f in find_article_files([str(root)])
             if "/syndicated/" not in f.name and not f.name.rsplit("/", 1)[-1].startswith(("LICENSE", "README"))]
    items = []
    for article_file in files:
        for message in read_article_file(article_file, 0.0):
            article = parse_message(message)
            folder = article_file.name.split("/")[-2] if article_file.name.count("/") >= 2 else "seeds"
            items.append(Item(article.id, article.title, article.text, "seed", folder, article.id))
    return items


def _sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(" ".join(text.split())) if s]


def _paragraphs(text: str) -> list[str]:
    if "\n\n" in text.strip():
        return [p for p in text.split("\n\n") if p.strip()]
    sentences = _sentences(text)
    return [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]


def _cut(text: str, keep: float) -> str:
    sentences = _sentences(text)
    total = sum(len(s.split()) for s in sentences)
    kept, count = [], 0
    for sentence in sentences:
        if kept and count >= keep * total:
            break
        kept.append(sentence)
        count += len(sentence.split())
    return "\n\n".join(" ".join(kept[i:i + 3]) for i in range(0, len(kept), 3))


def _change_words(text: str, rate: float, rng: random.Random) -> str:
    tokens = text.split(" ")
    candidates = [i for i, t in enumerate(tokens) if _ALPHA.match(t.strip(".,;:\"'()"))]
    for i in rng.sample(candidates, round(len(candidates) * rate)):
        word = tokens[i]
        core = word.strip(".,;:\"'()")
        new = rng.choice([w for w in _REPLACEMENTS if w != core.lower()])
        tokens[i] = word.replace(core, new.capitalize() if core[:1].isupper() else new, 1)
    return " ".join(tokens)


def _rewrap(text: str, width: int) -> str:
    out, line = [], []
    for word in " ".join(text.split()).split(" "):
        line.append(word)
        if sum(len(w) + 1 for w in line) > width:
            out.append(" ".join(line))
            line = []
    if line:
        out.append(" ".join(line))
    return "\n".join(out)


def make_variants(seed: Item, rng: random.Random) -> list[Item]:
    """The syndicated variants of one seed, every kind at each of its strengths."""
    text, year = seed.text, 2007
    headline = "UPDATE: " + (seed.title or text.split(".")[0])[:80] + " - report"
    out: list[tuple[str, str, str, str | None, bool]] = [
        ("headline", "title", text, headline, True),
        ("headline", "title+first-line", headline + "\n\n" + text, headline, True),
        ("dateline", "prefix", rng.choice(_DATELINES) + text, seed.title, True),
        ("footer", "short", text + "\n\n" + _FOOTER_SHORT.format(year=year), seed.title, True),
        ("footer", "long", text + "\n\n" + _FOOTER_LONG.format(year=year), seed.title, True),
        ("local", "top", rng.choice(_LOCAL) + " " + text, seed.title, True),
        ("local", "end", text + "\n\n" + rng.choice(_LOCAL), seed.title, True),
        ("rewrap", "60-cols", _rewrap(text, 60), seed.title, True),
    ]
    for keep in (0.9, 0.75, 0.5, 0.35):
        out.append(("cut", f"keep-{int(keep * 100)}%", _cut(text, keep), seed.title, keep >= 0.5))
    for every in (20, 10, 7, 5):
        out.append(("words", f"1-in-{every}", _change_words(text, 1 / every, rng), seed.title, every >= 7))
    light = _change_words(_cut(text, 0.75), 1 / 20, rng)
    out.append(("syndicated", "light", rng.choice(_DATELINES) + light + " " + rng.choice(_LOCAL) + "\n\n"
                + _FOOTER_SHORT.format(year=year), headline, True))
    heavy = _change_words(_cut(text, 0.5), 1 / 7, rng)
    out.append(("syndicated", "heavy", rng.choice(_DATELINES) + rng.choice(_LOCAL) + " " + heavy + "\n\n"
                + _FOOTER_LONG.format(year=year), headline, True))
    return [Item(f"{seed.id}~{kind}~{strength}", title, body, kind, strength, seed.story, target)
            for kind, strength, body, title, target in out]


_COMPANIES = ["Airbus", "Boeing", "Apple", "Microsoft", "Intel", "Nokia", "Sony", "Dell", "Embraer", "Bombardier"]
_DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def template_reports(rng: random.Random, count: int = 40) -> list[Item]:
    """Distinct stories from one template: daily market reports and quarterly results, same companies and weeks."""
    items = []
    for i in range(count):
        day, company, other = rng.choice(_DAYS), rng.choice(_COMPANIES), rng.choice(_COMPANIES)
        if i % 2 == 0:
            text = (
                f"Stocks {rng.choice(['rose', 'fell', 'edged higher', 'slipped'])} on {day} as investors weighed "
                f"fresh economic data. The Dow Jones industrial average {rng.choice(['gained', 'lost'])} "
                f"{rng.uniform(10, 400):.2f} points, or {rng.uniform(0.1, 3):.2f} percent, to {rng.uniform(11000, 14000):,.2f}. "
                f"The Standard & Poor's 500 index moved {rng.uniform(1, 40):.2f} points to {rng.uniform(1200, 1600):,.2f}, "
                f"and the Nasdaq composite index closed at {rng.uniform(2200, 2900):,.2f}. Shares of {company} "
                f"{rng.choice(['jumped', 'dropped', 'climbed', 'sank'])} {rng.uniform(1, 9):.1f} percent after the company "
                f"{rng.choice(['reported orders', 'cut its forecast', 'announced a buyback', 'named a new chief executive'])}. "
                f"{other} {rng.choice(['rose', 'fell'])} {rng.uniform(0.5, 5):.1f} percent. Bond prices "
                f"{rng.choice(['rose', 'fell'])}, pushing the yield on the 10-year Treasury note to {rng.uniform(3, 5.5):.2f} percent. "
                f"Oil {rng.choice(['climbed', 'fell'])} {rng.uniform(0.2, 3):.2f} dollars to {rng.uniform(60, 110):.2f} dollars a barrel. "
                f"About {rng.uniform(2, 6):.1f} billion shares changed hands on the New York Stock Exchange, and "
                f"{rng.choice(['advancing', 'declining'])} issues outnumbered {rng.choice(['decliners', 'advancers'])} by "
                f"{rng.randint(2, 5)} to 1.")
            kind = "market-report"
        else:
            quarter = rng.choice(["first", "second", "third", "fourth"])
            text = (
                f"{company} said on {day} that its {quarter}-quarter profit {rng.choice(['rose', 'fell'])} "
                f"{rng.randint(2, 60)} percent to {rng.uniform(0.2, 9):.2f} billion dollars, or {rng.uniform(0.1, 3):.2f} dollars a share, "
                f"from {rng.uniform(0.2, 9):.2f} billion dollars a year earlier. Revenue {rng.choice(['increased', 'decreased'])} "
                f"{rng.randint(1, 40)} percent to {rng.uniform(2, 60):.1f} billion dollars. Analysts surveyed by Thomson "
                f"Financial had expected earnings of {rng.uniform(0.1, 3):.2f} dollars a share on revenue of "
                f"{rng.uniform(2, 60):.1f} billion dollars. The company said it expects {rng.choice(['next', 'full-year'])} revenue "
                f"of {rng.uniform(2, 60):.1f} billion to {rng.uniform(2, 60):.1f} billion dollars. Shares of {company} "
                f"{rng.choice(['rose', 'fell'])} {rng.uniform(0.5, 9):.1f} percent to {rng.uniform(10, 200):.2f} dollars in "
                f"after-hours trading. {company} shipped {rng.uniform(1, 30):.1f} million units in the quarter, "
                f"compared with {rng.uniform(1, 30):.1f} million a year ago, the company said in a statement.")
            kind = "quarterly-results"
        items.append(Item(f"template-{i}", f"{company} {kind}", text, kind, "template", f"template-{i}"))
    return items


def boilerplate_pairs(seeds: list[Item], rng: random.Random, count: int = 30) -> list[Item]:
    """Short distinct articles (40-70 words from the middle of different seeds) that end in the same long footer."""
    items = []
    chosen = rng.sample(seeds, min(count, len(seeds)))
    for i, seed in enumerate(chosen):
        words = seed.text.split()
        size = rng.randint(40, 70)
        start = len(words) // 2 if len(words) > 2 * size else 0
        body = " ".join(words[start:start + size])
        items.append(Item(f"boilerplate-{i}", None, body + "\n\n" + _FOOTER_LONG.format(year=2008),
                          "boilerplate-footer", "shared-footer", f"boilerplate-{i}"))
    return items


def build_stream(order: str, seed: int = 7) -> list[Item]:
    """Seeds, then every variant and template negative (originals first), or everything shuffled."""
    rng = random.Random(seed)
    seeds = load_seeds()
    variants = [v for s in seeds for v in make_variants(s, rng)]
    syndicated = _syndicated_copies(seeds)
    templates = template_reports(rng)
    later = variants + syndicated + templates
    rng.shuffle(later)
    stream = seeds + later
    if order == "shuffled":
        rng.shuffle(stream)
    return stream


def _syndicated_copies(seeds: list[Item]) -> list[Item]:
    """seeds/wikinews/syndicated/copies.jsonl: copies the lead made by hand; their story is the seed with the most shared words."""
    path = ROOT / "seeds" / "wikinews" / "syndicated" / "copies.jsonl"
    if not path.exists():
        return []
    items = []
    for article_file in find_article_files([str(path)]):
        for message in read_article_file(article_file, 0.0):
            article = parse_message(message)
            best = max(seeds, key=lambda s: len(set(s.text.split()[:60]) & set(article.text.split()[:60])))
            items.append(Item(article.id, article.title, article.text, "seeds-syndicated", "hand-made", best.story, True))
    return items


# ---------------------------------------------------------------------------------------------
# pairs: the similarity measures over labelled pairs, to choose the thresholds


def pairs_report(params) -> None:
    from transforms.dedup.sketch import analyze, compare, is_duplicate

    rng = random.Random(7)
    seeds = load_seeds()

    def sketch(text):
        return analyze(text, params).sketch

    seed_sketch = {s.id: sketch(s.text) for s in seeds}
    rows = defaultdict(list)  # (label, kind, strength) -> similarities
    heavy = []
    for seed in seeds:
        for variant in make_variants(seed, rng):
            rows[("pos", variant.kind, variant.strength)].append(compare(seed_sketch[seed.id], sketch(variant.text), params))
            if (variant.kind, variant.strength) == ("syndicated", "heavy"):
                heavy.append(sketch(variant.text))
    for i, a in enumerate(heavy):
        for b in heavy[i + 1:]:
            rows[("neg", "variant-pair", "heavy-vs-heavy")].append(compare(a, b, params))
    for i, a in enumerate(seeds):
        for b in seeds[i + 1:]:
            rows[("neg", "seed-pair", "same-folder" if a.strength == b.strength else "other-folder")].append(
                compare(seed_sketch[a.id], seed_sketch[b.id], params))
    for name, items in (("template", template_reports(rng)), ("boilerplate", boilerplate_pairs(seeds, rng))):
        sketches = [(it, sketch(it.text)) for it in items]
        for i, (a, sa) in enumerate(sketches):
            for b, sb in sketches[i + 1:]:
                rows[("neg", name, a.kind if a.kind == b.kind else "mixed")].append(compare(sa, sb, params))
    print(f"{'label':4} {'kind':18} {'strength':17} {'pairs':>6} | containment min/med/max | lead min/med/max | "
          f"numbers min/max (n/a) | jaccard med | verified")
    for (label, kind, strength), sims in sorted(rows.items()):
        cs = sorted(s.containment for s in sims)
        ls = sorted(s.lead for s in sims)
        ns = sorted(s.numbers for s in sims if s.numbers is not None)
        js = sorted(s.jaccard for s in sims)
        q = lambda v, p: v[min(len(v) - 1, int(p * len(v)))] if v else float("nan")  # noqa: E731
        verified = sum(is_duplicate(s, params) for s in sims)
        print(f"{label:4} {kind:18} {strength:17} {len(sims):6} | {cs[0]:.2f} {q(cs, .5):.2f} {cs[-1]:.2f}"
              f"          | {ls[0]:.2f} {q(ls, .5):.2f} {ls[-1]:.2f}   | {q(ns, 0):.2f} {q(ns, 1):.2f} ({len(sims) - len(ns):4})"
              f"      | {q(js, .5):.2f}        | {verified}")


def grid_report(base) -> None:
    """Every shingle size (2, 3, 4) and lead window (48, 64) against a grid of the three thresholds:
    false positives among all negative pairs, recall over target variants and over the heavy kind."""
    from transforms.dedup.sketch import analyze, compare, is_duplicate

    rng = random.Random(7)
    seeds = load_seeds()
    positives = [(s.text, v.text, f"{v.kind}:{v.strength}", v.in_target) for s in seeds for v in make_variants(s, rng)]
    negatives = [(a.text, b.text) for i, a in enumerate(seeds) for b in seeds[i + 1:]]
    for items in (template_reports(rng), boilerplate_pairs(seeds, rng)):
        negatives += [(a.text, b.text) for i, a in enumerate(items) for b in items[i + 1:]]
    print(f"{len(positives)} positive pairs, {len(negatives)} negative pairs")
    print("shingle lead | containment lead figures | false positives | recall target | recall heavy")
    for shingle_words in (2, 3, 4):
        for lead_shingles in (48, 64):
            params = replace(base, shingle_words=shingle_words, lead_shingles=lead_shingles)
            cache = {}

            def sketch(text):
                if text not in cache:
                    cache[text] = analyze(text, params).sketch
                return cache[text]

            pos = [(compare(sketch(a), sketch(b), params), kind, target) for a, b, kind, target in positives]
            neg = [compare(sketch(a), sketch(b), params) for a, b in negatives]
            for c in (0.3, 0.35, 0.4, 0.45, 0.5):
                for lead in (0.15, 0.25, 0.35):
                    for figures in (0.4, 0.5):
                        p = replace(params, min_containment=c, min_lead=lead, min_numbers=figures)
                        fp = sum(is_duplicate(s, p) for s in neg)
                        target = [is_duplicate(s, p) for s, _, t in pos if t]
                        heavy = [is_duplicate(s, p) for s, k, _ in pos if k == "syndicated:heavy"]
                        print(f"{shingle_words:7} {lead_shingles:4} | {c:11.2f} {lead:4.2f} {figures:7.2f} | "
                              f"{fp:15} | {sum(target) / len(target):13.3f} | {sum(heavy) / len(heavy):.3f}")


# ---------------------------------------------------------------------------------------------
# stream: the real transform over the generated stream


def run_stream(items: list[Item], config) -> dict[str, object]:
    """Label ``items`` (in this order) with DeduplicateArticles on the FnApiRunner; id -> Dedup."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions
    from apache_beam.transforms.window import TimestampedValue

    from transforms.dedup.transform import DeduplicateArticles
    from transforms.records import Article

    articles = [Article(id=it.id, text=it.text, title=it.title, url=None, published_at="2008-01-01T00:00:00Z",
                        published_at_offset=None, published_at_source="field", ingested_at="2026-01-01T00:00:00Z",
                        ingest_time=1.7e9, attribution=(), language="en", source={"bench": "dedup_variants"},
                        ordinal=n) for n, it in enumerate(items)]
    labels: dict[str, object] = {}

    class _Collect(beam.DoFn):
        def process(self, article):
            yield article.id, article.dedup

    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "labels"
        with beam.Pipeline(options=PipelineOptions(["--runner=FnApiRunner"])) as root:
            _ = (root | beam.Create(articles, reshuffle=False)
                 | beam.Map(lambda a: TimestampedValue(a, a.ingest_time))
                 | DeduplicateArticles(config)
                 | beam.ParDo(_Collect())
                 | beam.Map(lambda kv: repr((kv[0], kv[1].status, kv[1].duplicate_of, kv[1].cluster_id, kv[1].similarity)))
                 | beam.io.WriteToText(str(out)))
        from transforms.records import Dedup
        import ast
        for path in Path(folder).glob("labels*"):
            for line in path.read_text().splitlines():
                id_, status, dup, cluster, sim = ast.literal_eval(line)
                labels[id_] = Dedup(status, dup, cluster, sim)
    return labels


def score_stream(items: list[Item], labels: dict) -> list[tuple]:
    """Per (kind, strength): items, positives (not the first of their story in stream order),
    flagged, correct (flagged and linked to an earlier item of the same story), and in_target."""
    story = {it.id: it.story for it in items}
    seen_stories: set[str] = set()
    groups: dict = defaultdict(lambda: [0, 0, 0, 0, False])
    for it in items:
        g = groups[(it.kind, it.strength)]
        g[0] += 1
        g[1] += it.story in seen_stories
        seen_stories.add(it.story)
        g[4] = g[4] or it.in_target
        label = labels[it.id]
        if label.status != "original":
            g[2] += 1
            g[3] += story.get(label.duplicate_of) == it.story
    return sorted((k, *v) for k, v in groups.items())


def print_score(rows, items, labels) -> None:
    """Precision = correct / flagged; recall = correct / positives (per kind, then totals)."""
    print(f"{'kind':20} {'strength':17} {'n':>5} {'copies':>6} {'flagged':>8} {'correct':>8} "
          f"{'precision':>9} {'recall':>7} target")
    totals = defaultdict(lambda: [0, 0, 0])  # positives, flagged, correct
    for (kind, strength), n, positives, flagged, correct, target in rows:
        precision = correct / flagged if flagged else float("nan")
        recall = correct / positives if positives else float("nan")
        print(f"{kind:20} {strength:17} {n:5} {positives:6} {flagged:8} {correct:8} {precision:9.3f} {recall:7.3f} "
              f"{'yes' if target else ''}")
        negative = kind in ("seed", "market-report", "quarterly-results", "boilerplate-footer")
        for bucket in ("all", "target" if target else ("hard negatives and seeds" if negative else "beyond target")):
            t = totals[bucket]
            t[0] += positives
            t[1] += flagged
            t[2] += correct
    for name, (positives, flagged, correct) in totals.items():
        precision = correct / flagged if flagged else float("nan")
        recall = correct / positives if positives else float("nan")
        print(f"TOTAL {name:24} copies {positives:5} flagged {flagged:5} correct {correct:5} "
              f"precision {precision:.3f} recall {recall:.3f}")
    story = {i.id: i.story for i in items}
    wrong = [(it.id, labels[it.id].duplicate_of) for it in items
             if labels[it.id].status != "original" and it.story != story.get(labels[it.id].duplicate_of)]
    print(f"wrong links (false positives): {len(wrong)}", *wrong[:20], sep="\n  ")


_SKETCH_FLAGS = {
    "shingle_words": int, "bands": int, "rows": int, "bottom_k": int, "lead_shingles": int,
    "min_containment": float, "min_lead": float, "min_numbers": float,
}


def add_sketch_arguments(parser) -> None:
    """Flags that override SketchParams fields (defaults: the shipped parameters)."""
    for name, kind in _SKETCH_FLAGS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=kind, default=None, metavar=kind.__name__.upper(),
                            help=f"SketchParams.{name}")


def sketch_params(args):
    from transforms.dedup.sketch import SketchParams

    given = {name: getattr(args, name) for name in _SKETCH_FLAGS if getattr(args, name, None) is not None}
    return SketchParams(**given)


def main(argv=None) -> int:
    from transforms.dedup import DedupConfig

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["pairs", "grid", "stream"])
    parser.add_argument("--order", choices=["originals-first", "shuffled"], default="originals-first")
    parser.add_argument("--boilerplate", action="store_true", help="stream: the boilerplate-footer pairs alone")
    parser.add_argument("--seed", type=int, default=7, help="random seed of the generator (default 7)")
    parser.add_argument("--no-state-cache", action="store_true",
                        help="run the in-process FnApiRunner without its state cache (see docs/dedup.md)")
    add_sketch_arguments(parser)
    args = parser.parse_args(argv)
    if args.no_state_cache:
        from apache_beam.runners.portability.fn_api_runner import worker_handlers

        worker_handlers.STATE_CACHE_SIZE_MB = 0
    config = DedupConfig(sketch=sketch_params(args))
    if args.mode == "pairs":
        pairs_report(config.sketch)
        return 0
    if args.mode == "grid":
        grid_report(config.sketch)
        return 0
    if args.boilerplate:
        items = boilerplate_pairs(load_seeds(), random.Random(args.seed))
    else:
        items = build_stream(args.order, args.seed)
    started = time.perf_counter()
    labels = run_stream(items, config)
    elapsed = time.perf_counter() - started
    print(f"{len(items)} articles, order {args.order}, seed {args.seed}, {elapsed:.1f} s through "
          f"DeduplicateArticles on the FnApiRunner")
    print_score(score_stream(items, labels), items, labels)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark corpora from real text: 600 unique ~230-word articles, and a variant with 40% copies.

    python -m bench.corpus unique --out /tmp/bench/unique600.jsonl
    python -m bench.corpus dup40 --out /tmp/bench/dup40.jsonl
    python -m bench.corpus short --count 100000 --out /tmp/bench/short.jsonl   # memory soaks, kill -9

Also the corpora other benches share: ``short_articles`` (bench/memory_soak.py, bench/kill_restart.py),
``seed_payloads`` (every seed as a producer sends it, bench/kafka_source.py) and ``ensure_corpus``
(a named corpus built once into a work folder).

The 60 Wikinews seeds (seeds/wikinews/, CC BY 2.5) hold ~17,000 words, so 600 articles of ~230 words
must reuse every sentence about eight times. An article here is four runs of whole, consecutive sentences
(~58 words each) from four different seed articles, joined as four paragraphs. A candidate is kept only
if it shares little text with every article kept before it: word 5-gram Jaccard at most 0.15 and
containment at most 0.30 (``--stats`` prints the worst pair), so no two articles are duplicates by any
reasonable measure. With three runs of ~77 words and containment up to 0.36, the dedup stage (which
flags containment >= 0.40 estimated from 64-hash sketches, with a shared lead) verified 33 of the
179,700 pairs as copies; with these limits it verifies none (every pair checked with
transforms.dedup.sketch), and the replay must mark 0 articles as copies (bench.throughput reports it).

The ``dup40`` variant keeps 360 of those articles as originals and adds 240 copies of distinct
originals, each placed after its original: exact copies under a new id, re-headlined copies, copies
with a dateline prefix ("LONDON (Wikinews) -- ") and copies with a copyright footer, a quarter each.

Everything is deterministic (fixed seed): the same command writes the same bytes.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from pathlib import Path

__all__ = ["load_seeds", "split_sentences", "unique_articles", "with_copies", "short_articles", "seed_payloads",
           "ensure_corpus"]

_ROOT = Path(__file__).resolve().parent.parent
_DEFAULT_SEEDS = _ROOT / "seeds" / "wikinews"
_SEED = 20260510
_TARGET_WORDS = 237
_MAX_JACCARD = 0.15
_MAX_CONTAINMENT = 0.3
_SHINGLE = 5
_PARTS = 4

# A sentence ends at . ! or ? (optionally followed by a closing quote or bracket) before a space and
# an upper-case letter, digit or opening quote. Abbreviations like "U.S. Air Force" may split early;
# that only makes a run start mid-thought, never breaks a word.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(])")
_DATELINES = ("LONDON (Wikinews) -- ", "WASHINGTON (Wikinews) -- ", "PARIS (Wikinews) -- ",
              "SEATTLE (Wikinews) -- ", "CUPERTINO, California (Wikinews) -- ", "TOULOUSE, France (Wikinews) -- ")
_FOOTER = ("\n\nThis story was first published on Wikinews under the Creative Commons Attribution 2.5 "
           "licence. Republished by the news-ingest benchmark wire; all rights of the authors reserved.")
_HEADLINE_PREFIXES = ("UPDATE: ", "Report: ", "Analysis: ", "Breaking: ")


def load_seeds(folder: Path = _DEFAULT_SEEDS) -> list[dict]:
    seeds = []
    for path in sorted(folder.rglob("*.json")):
        seeds.append(json.loads(path.read_text("utf-8")))
    if not seeds:
        raise SystemExit(f"no seed articles under {folder}")
    return seeds


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


def _shingles(text: str) -> set:
    words = text.lower().split()
    return {" ".join(words[i:i + _SHINGLE]) for i in range(max(1, len(words) - _SHINGLE + 1))}


def _run(sentences: list[str], start: int, words: int) -> str:
    """Consecutive sentences from ``start``, stopping at the sentence end nearest to ``words`` words."""
    taken, count = [], 0
    for sentence in sentences[start:]:
        length = len(sentence.split())
        if taken and count + length - words > words - count:
            break  # stopping here is closer to the target than taking one more sentence
        taken.append(sentence)
        count += length
    return " ".join(taken)


def unique_articles(seeds: list[dict], count: int = 600, target_words: int = _TARGET_WORDS,
                    seed: int = _SEED) -> tuple[list[dict], dict]:
    """``count`` distinct articles; returns them and statistics of their pairwise overlap."""
    rng = random.Random(seed)
    split = [split_sentences(s["text"]) for s in seeds]
    articles: list[dict] = []
    sizes: list[int] = []
    index_of: dict[str, list[int]] = {}  # shingle -> articles kept that hold it
    attempts = 0
    worst_jaccard = worst_containment = 0.0
    part_words = target_words // _PARTS
    while len(articles) < count:
        attempts += 1
        if attempts > count * 500:
            raise SystemExit(f"could only build {len(articles)} distinct articles from these seeds")
        sources = rng.sample(range(len(seeds)), _PARTS)
        parts = []
        for source in sources:
            sentences = split[source]
            # Start anywhere that still leaves a whole part's worth of text.
            last_start = len(sentences) - 1
            while last_start > 0 and len(" ".join(sentences[last_start:]).split()) < part_words:
                last_start -= 1
            parts.append(_run(sentences, rng.randint(0, max(0, last_start)), part_words))
        text = "\n\n".join(parts)
        words = len(text.split())
        if not target_words * 0.85 <= words <= target_words * 1.2:
            continue
        shingles = _shingles(text)
        common = Counter(other for shingle in shingles for other in index_of.get(shingle, ()))
        jaccard = max((n / (len(shingles) + sizes[o] - n) for o, n in common.items()), default=0.0)
        containment = max((n / min(len(shingles), sizes[o]) for o, n in common.items()), default=0.0)
        if jaccard > _MAX_JACCARD or containment > _MAX_CONTAINMENT:
            continue
        worst_jaccard, worst_containment = max(worst_jaccard, jaccard), max(worst_containment, containment)
        for shingle in shingles:
            index_of.setdefault(shingle, []).append(len(articles))
        sizes.append(len(shingles))
        lead = seeds[sources[0]]
        articles.append({
            "id": f"bench-{len(articles):04d}",
            "title": lead["title"],
            "text": text,
            "published_at": lead["published_at"],
            "source": lead.get("source") or "Wikinews",
        })
    word_counts = [len(a["text"].split()) for a in articles]
    stats = {"articles": len(articles), "words": sum(word_counts), "mean_words": round(sum(word_counts) / len(articles), 1),
             "min_words": min(word_counts), "max_words": max(word_counts), "attempts": attempts,
             "max_pairwise_jaccard": round(worst_jaccard, 3), "max_pairwise_containment": round(worst_containment, 3),
             "shingle_words": _SHINGLE, "parts": _PARTS}
    return articles, stats


def with_copies(originals: list[dict], copies: int, seed: int = _SEED) -> list[dict]:
    """Originals plus ``copies`` copies of distinct originals, each copy somewhere after its original."""
    if copies > len(originals):
        raise ValueError("at most one copy per original")
    rng = random.Random(seed + 1)
    copied = rng.sample(range(len(originals)), copies)
    stream: list[dict] = [dict(a) for a in originals]
    for number, index in enumerate(copied):
        original = originals[index]
        kind = ("exact", "reheadline", "dateline", "footer")[number % 4]
        copy = dict(original, id=f"copy-{number:04d}-{kind}-of-{original['id']}")
        if kind == "reheadline":
            copy["title"] = _HEADLINE_PREFIXES[number % len(_HEADLINE_PREFIXES)] + original["title"]
        elif kind == "dateline":
            copy["text"] = _DATELINES[number % len(_DATELINES)] + original["text"]
        elif kind == "footer":
            copy["text"] = original["text"] + _FOOTER
        position = next(i for i, a in enumerate(stream) if a["id"] == original["id"])
        stream.insert(rng.randint(position + 1, len(stream)), copy)
    return stream


_SHORT_SEED = 20261128
_SHORT_WORDS = 60
_FIRST_NAMES = ("Ana", "Bo", "Chidi", "Dara", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jun", "Kwame", "Lena")
_SURNAME_SYLLABLES = ("ka", "lo", "mi", "ran", "sel", "tov", "vic", "wen", "zu", "dre", "nak", "pol")


def short_articles(seeds: list[dict], count: int, seed: int = _SHORT_SEED, prefix: str = "soak") -> list[dict]:
    """``count`` distinct articles of about 60 words from the seeds, each with new numbers and names."""
    sentences = [s for article in seeds for s in split_sentences(article["text"]) if 5 <= len(s.split()) <= 45]
    rng = random.Random(seed)
    out = []
    for number in range(count):
        start = rng.randrange(len(sentences))
        taken, words = [], 0
        while words < _SHORT_WORDS - 15:
            sentence = sentences[(start + len(taken)) % len(sentences)]
            taken.append(sentence)
            words += len(sentence.split())
        # New surnames and numbers every time: the string store would grow without memory_zone.
        surname = "".join(rng.choice(_SURNAME_SYLLABLES) for _ in range(3)).capitalize()
        taken.append(f"{rng.choice(_FIRST_NAMES)} {surname} filed report {number} from desk {rng.randint(1, 10**6)} "
                     f"on {rng.choice(('Monday', 'Tuesday', 'Friday'))}.")
        out.append({"id": f"{prefix}-{number:06d}", "title": f"Soak {number}", "text": " ".join(taken),
                    "published_at": seeds[start % len(seeds)].get("published_at"), "source": "Wikinews"})
    return out


def seed_payloads() -> list[bytes]:
    """Every article under seeds/ as the bytes a producer would send (one message per article)."""
    from transforms.files import find_article_files, read_article_file

    return [m.payload for f in find_article_files([str(_ROOT / "seeds")]) for m in read_article_file(f, 0.0)]


_NAMED = {"unique": "unique600.jsonl", "dup40": "dup40.jsonl"}


def ensure_corpus(kind_or_path: str, workdir: Path) -> Path:
    """A corpus file: an existing path, or one of the named corpora (unique, dup40), built once into ``workdir``."""
    if kind_or_path not in _NAMED:
        return Path(kind_or_path)
    path = Path(workdir) / _NAMED[kind_or_path]
    if not path.exists():
        main([kind_or_path, "--out", str(path)])
    return path


def write_jsonl(articles: list[dict], path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for article in articles:
            handle.write(json.dumps(article, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kind", choices=["unique", "dup40", "short"])
    parser.add_argument("--out", required=True)
    parser.add_argument("--count", type=int, default=600, help="articles in all (default 600)")
    parser.add_argument("--seeds", default=str(_DEFAULT_SEEDS))
    parser.add_argument("--stats", action="store_true", help="print overlap statistics to stderr")
    args = parser.parse_args(argv)
    seeds = load_seeds(Path(args.seeds))
    if args.kind == "short":
        articles, stats = short_articles(seeds, args.count), {"articles": args.count}
    elif args.kind == "unique":
        articles, stats = unique_articles(seeds, args.count)
    else:
        copies = round(args.count * 0.4)
        originals, stats = unique_articles(seeds, args.count - copies)
        articles = with_copies(originals, copies)
        stats = dict(stats, copies=copies, total=len(articles))
    write_jsonl(articles, args.out)
    if args.stats:
        print(json.dumps(stats), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

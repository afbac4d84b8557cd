#!/usr/bin/env python3
"""Fixture test of training/evalmetrics.py (standard library only): `python3 training/test_evalmetrics.py`
or `pytest training/test_evalmetrics.py`. The fixture is shared with the TypeScript twin's unit test."""
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evalmetrics  # noqa: E402

FIXTURE = os.path.join(HERE, "..", "test", "fixtures", "eval-report", "confusion-fixture.json")


class EvalMetricsTest(unittest.TestCase):
    def setUp(self):
        with open(FIXTURE, encoding="utf-8") as f:
            self.fx = json.load(f)
        labels = self.fx["labels"]
        self.gold = [labels.index(it["gold"]) for it in self.fx["items"]]
        self.scores = [it["logits"] for it in self.fx["items"]]
        self.result = evalmetrics.evaluate(self.gold, self.scores, labels)

    def test_confusion_and_accuracy(self):
        exp = self.fx["expected"]
        self.assertEqual(self.result["n"], exp["n"])
        self.assertEqual(self.result["confusion"], exp["confusion"])
        self.assertAlmostEqual(self.result["accuracy"], exp["accuracy"])

    def test_per_class(self):
        exp = self.fx["expected"]
        for i, label in enumerate(self.fx["labels"]):
            c = self.result["per_class"][label]
            self.assertAlmostEqual(c["precision"], exp["precision"][i])
            self.assertAlmostEqual(c["recall"], exp["recall"][i])
            self.assertEqual(c["support"], sum(exp["confusion"][i]))

    def test_binary_ignores_neutral_score(self):
        exp = self.fx["expected"]["binary"]
        self.assertEqual(self.result["binary"]["n"], exp["n"])
        self.assertEqual(self.result["binary"]["confusion"], exp["confusion"])
        self.assertAlmostEqual(self.result["binary"]["accuracy"], exp["accuracy"])

    def test_binary_only_set_macro_f1_skips_neutral(self):
        gold = [0, 2]
        r = evalmetrics.evaluate(gold, [[1, 2, 0], [0, 0, 1]])
        self.assertEqual(r["confusion"], [[0, 1, 0], [0, 0, 0], [0, 0, 1]])
        self.assertAlmostEqual(r["binary"]["accuracy"], 1.0)
        self.assertAlmostEqual(r["macro_f1"], (0.0 + 1.0) / 2)

    def test_markdown_has_matrix_rows(self):
        md = "\n".join(evalmetrics.render_markdown(self.result))
        self.assertIn("| negative | 3 | 1 | 1 |", md)
        self.assertIn("| positive | 0 | 1 | 2 |", md)


if __name__ == "__main__":
    unittest.main()

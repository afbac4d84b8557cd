"""Evaluation figures for a 3-class sentiment model (standard library only; the TypeScript twin is
src/compile/eval-report.ts and both are tested on the same fixture).

* 3-class accuracy: argmax over all scores, over every gold item.
* binary accuracy: over the gold items that are negative or positive only, argmax over the negative and
  positive scores only (the neutral score is ignored), as in the README's out-of-domain check.
* per class: precision, recall, F1, support (gold count) and predicted count; macro-F1 over the classes
  that have gold items (a binary-only set has no neutral gold, so neutral does not enter its macro-F1).
* confusion matrix: rows = gold label, columns = predicted label (3-class argmax).
"""
from __future__ import annotations

LABELS = ["negative", "neutral", "positive"]


def argmax(row) -> int:
    best = 0
    for j in range(1, len(row)):
        if row[j] > row[best]:
            best = j
    return best


def evaluate(gold: list[int], scores, labels: list[str] = LABELS, negative: str = "negative",
             positive: str = "positive") -> dict:
    """gold: label index per item; scores: per item a sequence of len(labels) logits or probabilities."""
    k = len(labels)
    if len(gold) != len(scores):
        raise ValueError(f"{len(gold)} gold labels but {len(scores)} score rows")
    cm = [[0] * k for _ in range(k)]
    for g, row in zip(gold, scores):
        if len(row) != k:
            raise ValueError(f"score row has {len(row)} values, expected {k}")
        cm[g][argmax(row)] += 1
    n = len(gold)
    correct = sum(cm[i][i] for i in range(k))
    per_class = {}
    for i, label in enumerate(labels):
        support = sum(cm[i])
        predicted = sum(cm[r][i] for r in range(k))
        p = cm[i][i] / predicted if predicted else 0.0
        r = cm[i][i] / support if support else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        per_class[label] = {"precision": p, "recall": r, "f1": f1, "support": support, "predicted": predicted}
    with_gold = [per_class[l]["f1"] for l in labels if per_class[l]["support"] > 0]
    out = {
        "n": n,
        "accuracy": correct / n if n else 0.0,
        "macro_f1": sum(with_gold) / len(with_gold) if with_gold else 0.0,
        "per_class": per_class,
        "confusion": cm,
        "labels": list(labels),
        "predicted_share": {l: per_class[l]["predicted"] / n if n else 0.0 for l in labels},
    }
    if negative in labels and positive in labels:
        ni, pi = labels.index(negative), labels.index(positive)
        bcm = [[0, 0], [0, 0]]  # rows gold (neg, pos), cols predicted (neg, pos)
        for g, row in zip(gold, scores):
            if g not in (ni, pi):
                continue
            pred_pos = row[pi] > row[ni]
            bcm[0 if g == ni else 1][1 if pred_pos else 0] += 1
        bn = sum(map(sum, bcm))
        out["binary"] = {"n": bn, "accuracy": (bcm[0][0] + bcm[1][1]) / bn if bn else 0.0, "confusion": bcm}
    return out


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def render_markdown(result: dict, title: str | None = None) -> list[str]:
    """Markdown lines: headline figures, per-class table, confusion matrix."""
    labels = result["labels"]
    lines = []
    if title:
        lines += [title, ""]
    head = f"- n = {result['n']}; 3-class accuracy **{pct(result['accuracy'])}**, macro-F1 {result['macro_f1']:.3f}"
    if "binary" in result:
        head += f"; binary (neg vs pos, {result['binary']['n']} items) **{pct(result['binary']['accuracy'])}**"
    lines += [head, ""]
    lines += ["| class | precision | recall | F1 | gold | predicted |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for l in labels:
        c = result["per_class"][l]
        prec = pct(c["precision"]) if c["predicted"] else "–"
        rec = pct(c["recall"]) if c["support"] else "–"
        lines.append(f"| {l} | {prec} | {rec} | {c['f1']:.3f} | {c['support']} | {c['predicted']} |")
    lines += ["", "| gold \\ predicted | " + " | ".join(labels) + " |", "| --- |" + " ---: |" * len(labels)]
    for i, l in enumerate(labels):
        lines.append(f"| {l} | " + " | ".join(str(v) for v in result["confusion"][i]) + " |")
    lines.append("")
    return lines

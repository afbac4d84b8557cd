"""Helpers shared by the training recipes (train.py, tiny/train_tiny.py): data files and batching."""
from __future__ import annotations

import hashlib
import json
import random


def read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def collate(seqs: list[list[int]]):
    """Pads token id lists to the longest: (input_ids, attention_mask, token_type_ids) as int64 tensors."""
    import torch

    width = max(len(s) for s in seqs)
    ids = torch.zeros((len(seqs), width), dtype=torch.long)
    mask = torch.zeros((len(seqs), width), dtype=torch.long)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = torch.tensor(s, dtype=torch.long)
        mask[i, : len(s)] = 1
    return ids, mask, torch.zeros_like(ids)


def length_grouped_batches(lengths: list[int], batch_size: int, rng: random.Random,
                           mega: int = 50) -> list[list[int]]:
    """Shuffle, sort by length inside chunks of batch_size*mega, shuffle the batches: little padding, still random."""
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    step = batch_size * mega
    for start in range(0, len(order), step):
        chunk = sorted(order[start:start + step], key=lambda i: lengths[i])
        batches.extend(chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches

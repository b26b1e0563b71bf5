#!/usr/bin/env bash
# Proof that a change which should not alter behaviour did not: run this
# before and after it and compare the printed digests (they must be equal).
#
#   bash bench/same_weights.sh OUT [PYTHON]
#
# On the shapes data set (60 trainval, 20 test images, seed 0), from the
# demo config: 300 iterations with batch size 2 (padded batches), a rate
# shift at 200, evaluations at 150 and 300, snapshots every 100 and a resume
# from the one at 200; then fasterrcnn-eval (VOC07 and COCO) and
# fasterrcnn-predict on three test images. Printed: one SHA-256 per weight
# file over its arrays (names and bytes, not the zip container), and the
# numbers of every JSON written; left out are what differs from run to run
# by design (times, speeds, the run's own paths). DIGEST_ONLY=1 prints the
# digests of an OUT already made.
set -euo pipefail
out=${1:?usage: bash bench/same_weights.sh OUT [PYTHON]}
py=${2:-python}
if [ -z "${DIGEST_ONLY:-}" ]; then
rm -rf "$out"; mkdir -p "$out"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
"$py" -m fasterrcnn.data.shapes --out "$out/data" --n-train 60 --n-test 20 --seed 0 --quiet
train() {
  "$py" -m fasterrcnn.cli.train --config configs/shapes.yaml --no-progress \
    --out "$out/train" --set data.dir="$out/data" --set train.batch_size=2 \
    --set "train.lr_shift_at=[200]" --set "eval.every=[150, 300]" \
    --set train.keep_snapshots=5 --set train.log_every=50 \
    --snapshot-every 100 "$@"
}
train --iterations 200 > "$out/train1.txt" 2>&1
train --iterations 300 --resume auto > "$out/train2.txt" 2>&1
"$py" -m fasterrcnn.cli.evaluate --model "$out/train/model.npz" \
  --data "$out/data" --metric voc07 --no-progress --out "$out/eval07.json" > "$out/eval07.txt" 2>&1
"$py" -m fasterrcnn.cli.evaluate --model "$out/train/model.npz" \
  --data "$out/data" --metric coco --no-progress --out "$out/evalcoco.json" > "$out/evalcoco.txt" 2>&1
"$py" -m fasterrcnn.cli.predict --model "$out/train/model.npz" --out "$out/pred" \
  --preset evaluate --batch-size 2 --no-progress "$out/data/JPEGImages/000000.jpg" "$out/data/JPEGImages/000001.jpg" \
  "$out/data/JPEGImages/000002.jpg" > "$out/pred.txt" 2>&1
fi
"$py" - "$out" <<'PY'
import glob, hashlib, json, os, sys
import numpy
out = sys.argv[1]
def digest(path):
    h = hashlib.sha256()
    with numpy.load(path, allow_pickle=False) as z:
        for k in sorted(z.files):
            a = z[k]
            if a.dtype.kind in 'fiub' and 'elapsed_time' not in k:
                h.update(k.encode()); h.update(a.tobytes())
    return h.hexdigest()[:16]
for p in sorted(glob.glob(os.path.join(out, 'train', '*.npz'))):
    print(os.path.basename(p), digest(p))
def numbers(o):
    if isinstance(o, dict):
        return {k: numbers(v) for k, v in sorted(o.items())
                if k not in ('model', 'data', 'data_dir', 'config', 'seconds',
                             'images_per_second', 'elapsed_time', 'image')}
    if isinstance(o, list):
        return [numbers(v) for v in o]
    return o if isinstance(o, (int, float)) else None
for p in sorted(glob.glob(os.path.join(out, '*.json')) + glob.glob(os.path.join(out, 'pred', '*.json'))):
    with open(p) as f:
        s = json.dumps(numbers(json.load(f)), sort_keys=True)
    print(os.path.relpath(p, out), hashlib.sha256(s.encode()).hexdigest()[:16])
with open(os.path.join(out, 'train', 'log')) as f:
    log = json.load(f)
keep = [{k: v for k, v in r.items() if k != 'elapsed_time'} for r in log]
print('log', hashlib.sha256(json.dumps(keep, sort_keys=True).encode()).hexdigest()[:16])
PY

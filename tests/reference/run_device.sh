#!/usr/bin/env bash
# Everything the oracle does on a GPU machine, in one go (used with the device `run` tool):
#   check against the official goldens, write our fixtures, train the demo model.
# usage: bash tests/reference/run_device.sh SHARED_DIR OUT_DIR
set -u
SHARED=${1:-../shared}
OUT=${2:-out}
export PYTHONUNBUFFERED=1
mkdir -p "$OUT"
python3 -c "import torch, tokenizers, safetensors, matplotlib; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
echo "== check_official"; python3 tests/reference/check_official.py --fixtures "$SHARED/fixtures" --report "$OUT/check_official.json" 2>&1 | tee "$OUT/check_official.log"
echo "== make_fixtures"; python3 tests/reference/make_fixtures.py --out tests/fixtures 2>&1 | tee "$OUT/make_fixtures.log"
echo "== train_demo"; python3 tests/reference/train_demo.py --data "$SHARED/data/tinyshakespeare.txt" --out models/jetnative-demo --golden-out tests/fixtures/jetnative-demo 2>&1 | tee "$OUT/train_demo.log"
# what comes back from the device: at most 16 MiB a file, so the checkpoint travels on its own
cp models/jetnative-demo/model.safetensors "$OUT/model.safetensors"
tar czf "$OUT/result.tar.gz" --exclude=models/jetnative-demo/model.safetensors tests/fixtures models/jetnative-demo
ls -la "$OUT"

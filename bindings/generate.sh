#!/usr/bin/env bash
# Regenerates bindings/generated/ from native/include/jet.h. With --check (what CI runs) it fails
# when the committed bindings differ from what the header gives.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3   # Debian's python, where python3-clang-14 lives (not a pyenv shim)
if ! "$PY" -c 'import clang.cindex' 2>/dev/null; then
  echo "error: python3-clang-14 is missing (apt-get install python3-clang-14 libclang-14-dev)" >&2
  exit 2
fi
"$PY" bindings/generate.py
if [[ "${1:-}" == "--check" ]]; then
  if ! git diff --exit-code -- bindings/generated; then
    echo "error: bindings/generated is stale: run bindings/generate.sh and commit the result" >&2
    exit 1
  fi
  untracked=$(git ls-files --others --exclude-standard -- bindings/generated)
  if [[ -n "$untracked" ]]; then
    echo "error: untracked generated files: $untracked" >&2
    exit 1
  fi
fi

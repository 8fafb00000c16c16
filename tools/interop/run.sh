#!/usr/bin/env bash
# Interoperability tests with real Alipay clients: python-alipay-sdk (PyPI) and the official Node
# alipay-sdk (npm), installed by scripts/setup.sh. Expects the workspace binaries to be built.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
export ALIPAY_BIN="${ALIPAY_BIN:-$target/debug/alipay}"
export SANDBOX_BIN="${SANDBOX_BIN:-$target/debug/alipay-sandbox}"
export INTEROP_DATA="$root/crates/alipay/tests/data"
python="$root/.venv/bin/python"

status=0
for script in "$here"/*.py "$here"/*.mjs; do
  [ -e "$script" ] || continue
  name="$(basename "$script")"
  echo "--- $name"
  case "$script" in
    *.py) "$python" "$script" || status=1 ;;
    *.mjs) node "$script" || status=1 ;;
  esac
done
exit $status

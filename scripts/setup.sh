#!/usr/bin/env bash
# Installs what the tests need beyond the Rust toolchain. Idempotent: each step checks first, so a
# second run costs seconds. Needs root (or sudo) only for Debian packages that are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: Chromium and CJK fonts (browser tests), PostgreSQL (the scale-out tests).
packages=(chromium fonts-noto-cjk postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# cargo-nextest runs the Rust tests; fall back to cargo test when it cannot be had.
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "setup: installing cargo-nextest"
  cargo install --locked cargo-nextest >/dev/null 2>&1 || echo "setup: cargo-nextest unavailable, using cargo test"
fi

# Real Alipay clients as test peers: python-alipay-sdk (PyPI) and the official alipay-sdk (npm).
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import alipay" >/dev/null 2>&1; then
  echo "setup: installing python-alipay-sdk into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q -r tools/interop/requirements.txt
fi
if [ ! -d tools/interop/node_modules/alipay-sdk ]; then
  echo "setup: installing the Node alipay-sdk"
  (cd tools/interop && npm ci --silent --no-audit --no-fund)
fi
if [ -f web/e2e/package.json ] && [ ! -d web/e2e/node_modules/playwright-core ]; then
  echo "setup: installing playwright-core"
  (cd web/e2e && npm ci --silent --no-audit --no-fund)
fi

#!/usr/bin/env bash
# The shop's pages, end to end in headless Chromium: starts the shop (demo mode: SQLite and the
# built-in Alipay sandbox) on a free 127.0.0.1 port with a fresh data dir, runs shop.e2e.mjs
# against it, and always stops it. Screenshots go to <repo>/target/e2e/.
#
# Does not build: the caller does (cargo build -p shop). SHOP_BIN overrides the binary,
# CHROMIUM the browser (default /usr/bin/chromium).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
shop="${SHOP_BIN:-${CARGO_TARGET_DIR:-$repo/target}/debug/shop}"
chromium="${CHROMIUM:-/usr/bin/chromium}"

fail() { echo "e2e: $*" >&2; exit 1; }
[ -x "$shop" ] || fail "no shop binary at $shop (build it first: cargo build -p shop, or set SHOP_BIN)"
[ -x "$chromium" ] || fail "no Chromium at $chromium (apt-get install chromium fonts-noto-cjk)"
[ -d "$here/node_modules/playwright-core" ] || fail "playwright-core is not installed (cd web/e2e && npm ci)"

screens="$repo/target/e2e"
mkdir -p "$screens"
rm -f "$screens"/*.png

work="$(mktemp -d "${TMPDIR:-/tmp}/shop-e2e.XXXXXX")"
pid=""
cleanup() {
  status=$?
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$work/shop.log" ]; then
    echo "e2e: last lines of the shop's log:" >&2
    tail -n 40 "$work/shop.log" >&2 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

port="$(node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")"
base="http://127.0.0.1:$port"

# The pages come from this checkout's web/, whichever tree the binary was built from.
mkdir -p "$work/data"
printf 'web_dir = "%s"\n' "$repo/web" > "$work/shop.toml"

# Demo mode, whatever this shell holds: the shop reads every SHOP_* variable (and refuses unknown
# ones, such as SHOP_BIN), so none is passed on; nor DATABASE_URL.
unset_vars=(-u DATABASE_URL)
for name in $(compgen -e); do
  case "$name" in SHOP_*) unset_vars+=(-u "$name") ;; esac
done
env "${unset_vars[@]}" \
  "$shop" serve --listen "127.0.0.1:$port" --data-dir "$work/data" --config "$work/shop.toml" \
  >"$work/shop.log" 2>&1 &
pid=$!

ready=""
for _ in $(seq 1 120); do
  if curl -fsS --max-time 2 "$base/readyz" >/dev/null 2>&1; then ready=1; break; fi
  kill -0 "$pid" 2>/dev/null || fail "the shop exited while starting"
  sleep 0.25
done
[ -n "$ready" ] || fail "the shop did not become ready at $base/readyz"
echo "e2e: shop ready at $base"

SHOP_URL="$base" SCREENSHOT_DIR="$screens" CHROMIUM="$chromium" node "$here/shop.e2e.mjs"

# The back office: an operator made the way operators are made, on the command line, on the same
# data dir and configuration as the running shop.
operator="ops_$(date +%s)"
operator_password="operator-$RANDOM-$RANDOM"
printf '%s\n' "$operator_password" | env "${unset_vars[@]}" \
  "$shop" admin create "$operator" --password-stdin --data-dir "$work/data" --config "$work/shop.toml" \
  || fail "shop admin create failed"
SHOP_URL="$base" SCREENSHOT_DIR="$screens" CHROMIUM="$chromium" OPERATOR_NAME="$operator" OPERATOR_PASSWORD="$operator_password" \
  node "$here/admin.e2e.mjs"
echo "e2e: passed; screenshots in $screens"

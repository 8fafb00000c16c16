#!/usr/bin/env bash
# Load tests of the shop on 127.0.0.1, in demo mode (the built-in sandbox), with wrk (Debian) and
# oha (crates.io). Usage: bench/shop.sh [sqlite|postgres]   (about 3 minutes)
#  1. orders created per second (each signs a pay link), p50/p99       wrk, 32 connections
#  2. notifications processed per second (each verifies and commits)   wrk, distinct orders
#  3. notification latency at a fixed 1000 requests/s                  oha -q 1000
#  4. payments completed end to end through the sandbox                benchtool payments
#  plus the shop's peak RSS, and `openssl speed -multi 2 rsa2048` as the machine's signing limit.
set -euo pipefail
cd "$(dirname "$0")/.."
db="${1:-sqlite}"
target="${CARGO_TARGET_DIR:-target}/release"
oha="${OHA:-$(command -v oha || echo /root/.local/oha/bin/oha)}"
threads=1
duration="${DURATION:-15s}"
port="${PORT:-18700}"
base="http://127.0.0.1:$port"
work="$(mktemp -d)"
cleanup() { [ -n "${shop_pid:-}" ] && kill "$shop_pid" 2>/dev/null; [ "$db" = postgres ] && bash scripts/postgres.sh stop 55433; rm -rf "$work"; }
trap cleanup EXIT

command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
[ -x "$oha" ] || { echo "install oha: cargo install oha --locked" >&2; exit 1; }
cargo build --release --locked -p shop --bins --example benchtool >/dev/null

case "$db" in
  sqlite) database_url="sqlite://$work/shop.db?mode=rwc" ;;
  postgres)
    admin="$(PG_DURABLE=1 bash scripts/postgres.sh start 55433)"
    name="bench_$(date +%s)"
    psql -q "$admin" -c "CREATE DATABASE $name"
    database_url="${admin%/*}/$name"
    ;;
  *) echo "usage: $0 [sqlite|postgres]" >&2; exit 2 ;;
esac

SHOP_DATABASE_URL="$database_url" SHOP_RUN_JOBS=false SHOP_LOGIN_PER_MINUTE=100000 RUST_LOG=warn \
  "$target/shop" serve --listen "127.0.0.1:$port" --data-dir "$work" >"$work/shop.log" 2>&1 &
shop_pid=$!
ready=0
for _ in $(seq 300); do curl -sf "$base/readyz" >/dev/null && { ready=1; break; }; sleep 0.1; done
[ "$ready" = 1 ] || { echo "the shop did not start:" >&2; cat "$work/shop.log" >&2; exit 1; }
export TOKEN="$("$target/examples/benchtool" setup --base "$base" --database-url "$database_url" --courses 3000)"

echo "== machine: $(nproc) cores; openssl speed -multi 2 -seconds 5 rsa2048"
openssl speed -multi 2 -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print "openssl_sign_per_s_2cores=" $(NF-1) " openssl_verify_per_s_2cores=" $NF}' | tee "$work/openssl.txt"

echo "== 1. POST /api/orders ($db, wrk -t$threads -c32 -d$duration)"
wrk -t$threads -c32 -d"$duration" --latency -s bench/order.lua "$base/api/orders" | tee "$work/orders.txt" | grep -E "Requests/sec|50%|99%|created="

echo "== 2. POST /alipay/notify, distinct orders ($db, wrk -t$threads -c32 -d$duration)"
"$target/examples/benchtool" notifications --database-url "$database_url" --data-dir "$work" --out "$work/bodies.txt" --count "${NOTIFY_ORDERS:-120000}"
BODIES="$work/bodies.txt" THREADS=$threads wrk -t$threads -c32 -d"$duration" --latency -s bench/notify.lua "$base/alipay/notify" | tee "$work/notify.txt" | grep -E "Requests/sec|50%|99%|RESULT"

echo "== 3. POST /alipay/notify at a fixed 1000/s ($db, oha -q 1000 -z $duration)"
head -n 1 "$work/bodies.txt" | tr -d '\n' > "$work/one.txt"
"$oha" --no-tui -q 1000 -z "$duration" -c 32 -m POST -T application/x-www-form-urlencoded -D "$work/one.txt" --latency-correction "$base/alipay/notify" \
  | tee "$work/oha.txt" | grep -E "Requests/sec|Success rate|50.00%|99.00%|99.90%|\[200\]|\[5"

echo "== 4. payments end to end through the sandbox ($db, 16 at a time)"
"$target/examples/benchtool" payments --base "$base" --token "$TOKEN" --count "${PAYMENTS:-1000}" --concurrency 16

echo "== shop peak RSS"
grep -E "VmHWM" "/proc/$shop_pid/status"

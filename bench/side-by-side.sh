#!/usr/bin/env bash
# Our shop beside the tutorials' Django stack, in one run on one machine, with the machine's
# limits measured in the same run. A benchmark, not a test: CI does not run it.
#
# Usage: bench/side-by-side.sh [--postgres]      (about 5 minutes; 8 with --postgres)
#
#   limits   openssl speed -multi 2 rsa2048 (signatures/s on every core)
#            benchtool commit-limit: one-row SQLite transactions, WAL + synchronous=FULL
#   ours     `shop serve` (release, demo mode, SQLite; and PostgreSQL with --postgres)
#   Django   ../shared/peers/django-seed (copied to a temp dir: it writes beside itself),
#            gunicorn with 2 sync workers; skipped, with a note, when that folder is absent
#
# Both are driven by the same requests through the tutorials' Luffy routes (bench/luffy_pay.lua:
# POST /order/pay; bench/notify.lua: POST /order/success), wrk -t$THREADS -c$CONNS -d$DURATION.
# Every order counted is a 2xx with a pay link; every notification counted is a first one for
# a distinct unpaid order, answered `success`. Then our notification latency at a fixed
# 1,000/s (oha), when oha is installed.
#
# Env: DURATION (10s), CONNS (16), THREADS (2), SEED_DIR, PORT (18800), DJANGO_PORT (18811);
#      SHOP_BIN (another build of `shop` to measure, e.g. an older commit's, against the same
#      tools), DJANGO=0 (our side and the limits only), SQLITE=0 (with --postgres: PostgreSQL only).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
postgres=0
[ "${1:-}" = "--postgres" ] && postgres=1
duration="${DURATION:-10s}"
conns="${CONNS:-16}"
threads="${THREADS:-2}"
port="${PORT:-18800}"
django_port="${DJANGO_PORT:-18811}"
seed="${SEED_DIR:-$root/../shared/peers/django-seed}"
target="${CARGO_TARGET_DIR:-$root/target}/release"
oha="${OHA:-$(command -v oha || echo /root/.local/oha/bin/oha)}"
work="$(mktemp -d)"
results="$work/results.txt"
shop_pid=""
django_dir=""

cleanup() {
  [ -n "$shop_pid" ] && kill "$shop_pid" 2>/dev/null || true
  [ -n "$django_dir" ] && (cd "$django_dir" && ./run.sh stop >/dev/null 2>&1) || true
  [ "$postgres" = 1 ] && bash scripts/postgres.sh stop 55433 >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

command -v wrk >/dev/null || { echo "install wrk: apt-get install wrk" >&2; exit 1; }
cargo build --release --locked -p shop --bins --example benchtool >/dev/null
benchtool="$target/examples/benchtool"
shop_bin="${SHOP_BIN:-$target/shop}"

# `key=value` from a RESULT line.
field() { sed -n "s/^RESULT.* $2=\([^ ]*\).*/\1/p" "$1" | head -n1; }
rss_mib() { awk '/VmRSS/ {s += $2} END {printf "%.0f", s / 1024}' "$@"; }
record() { echo "$*" >> "$results"; }

echo "== limits"
signs="$(openssl speed -multi 2 -seconds 5 rsa2048 2>/dev/null | awk '/^rsa 2048 bits/ {print $(NF-1)}')"
commits="$("$benchtool" commit-limit --path "$work/limit.db" --seconds 5 | sed 's/commits_per_s=//')"
echo "openssl rsa2048 signs/s on $(nproc) cores: $signs; SQLite durable one-row commits/s: $commits"

# Runs our shop on $1 (a database URL), drives it, records "ours_<label>_*".
run_ours() {
  local label="$1" database_url="$2" data="$work/shop-$1"
  mkdir -p "$data"
  SHOP_DATABASE_URL="$database_url" SHOP_RUN_JOBS=false SHOP_LOGIN_PER_MINUTE=1000000 \
    SHOP_REGISTER_PER_MINUTE=1000000 RUST_LOG=warn \
    "$shop_bin" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$data/shop.log" 2>&1 &
  shop_pid=$!
  local base="http://127.0.0.1:$port" ready=0
  for _ in $(seq 300); do curl -sf "$base/readyz" >/dev/null && { ready=1; break; }; sleep 0.1; done
  [ "$ready" = 1 ] || { echo "the shop did not start:" >&2; cat "$data/shop.log" >&2; exit 1; }
  local token rss body
  rss="$(rss_mib "/proc/$shop_pid/status")"   # idle: before the first request
  token="$("$benchtool" setup --base "$base" --database-url "$database_url")"
  # The same order as the tutorials' (courses 1 and 2), at our catalog's prices.
  body="$(curl -sf "$base/api/courses" | python3 -c '
import json, sys
courses = {c["id"]: c["price"] for c in json.load(sys.stdin)}
total = sum(int(courses[i].replace(".", "")) for i in (1, 2))
print(json.dumps({"subject": "课程: 1+2", "total_amount": float(f"{total // 100}.{total % 100:02d}"), "goods_pks": "1,2"}, ensure_ascii=False))')"
  echo "== ours ($label): POST /order/pay, wrk -t$threads -c$conns -d$duration"
  TOKEN="$token" AUTH_SCHEME=Bearer PAY_BODY="$body" \
    wrk -t"$threads" -c"$conns" -d"$duration" --latency -s bench/luffy_pay.lua "$base" >"$work/ours-$label-pay.txt"
  grep -E "^RESULT|first other" "$work/ours-$label-pay.txt"
  # Fresh unpaid orders, each for two courses nobody owns: every notification an ordinary first
  # payment (the orders above are all the same buyer's courses 1 and 2: paying them twice
  # would be double payments, refunded).
  "$benchtool" notifications --database-url "$database_url" --data-dir "$data" --out "$work/ours-bodies.txt" --count "${NOTIFY_ORDERS:-80000}" 2>/dev/null
  echo "== ours ($label): POST /order/success, $(wc -l <"$work/ours-bodies.txt") distinct unpaid orders"
  BODIES="$work/ours-bodies.txt" THREADS="$threads" \
    wrk -t"$threads" -c"$conns" -d"$duration" --latency -s bench/notify.lua "$base/order/success" >"$work/ours-$label-notify.txt"
  grep -E "^RESULT|first other" "$work/ours-$label-notify.txt"
  record "ours_${label}_orders=$(field "$work/ours-$label-pay.txt" good_per_s)"
  record "ours_${label}_orders_p99=$(field "$work/ours-$label-pay.txt" p99_ms)"
  record "ours_${label}_notify=$(field "$work/ours-$label-notify.txt" good_per_s)"
  record "ours_${label}_notify_p99=$(field "$work/ours-$label-notify.txt" p99_ms)"
  record "ours_${label}_notify_repeats=$(field "$work/ours-$label-notify.txt" repeats)"
  record "ours_${label}_rss=$rss"
  if [ -x "$oha" ]; then
    echo "== ours ($label): notification latency at a fixed 1000/s (oha -q 1000 -z $duration)"
    head -n 1 "$work/ours-bodies.txt" | tr -d '\n' >"$work/one.txt"
    "$oha" --no-tui -q 1000 -z "$duration" -c 32 -m POST -T application/x-www-form-urlencoded \
      -D "$work/one.txt" --latency-correction "$base/alipay/notify" >"$work/oha-$label.txt"
    grep -E "Success rate|50.00%|99.00%|99.90%" "$work/oha-$label.txt"
    record "ours_${label}_fixed_p99=$(awk '/99.00%/ {print ($4 == "secs" ? $3 * 1000 : $3); exit}' "$work/oha-$label.txt")"
  fi
  kill "$shop_pid"; wait "$shop_pid" 2>/dev/null || true; shop_pid=""
}

[ "${SQLITE:-1}" = 1 ] && run_ours sqlite "sqlite://$work/shop.db?mode=rwc"
if [ "$postgres" = 1 ]; then
  admin="$(PG_DURABLE=1 bash scripts/postgres.sh start 55433)"
  name="side_$(date +%s)"
  psql -q "$admin" -c "CREATE DATABASE $name"
  run_ours postgres "${admin%/*}/$name"
fi

if [ "${DJANGO:-1}" = 0 ]; then
  echo "== Django: not measured (DJANGO=0)"
elif [ -d "$seed" ]; then
  django_dir="$work/django-seed"
  cp -r "$seed" "$django_dir"
  cd "$django_dir"
  echo "== Django: setup (venv ${VENV:-/tmp/django-venv}, keys, 20,000 signed notifications)"
  ./run.sh setup >/dev/null
  "${VENV:-/tmp/django-venv}/bin/python" load/gen_notify.py --n 20000 --key var/keys/alipay_private_key.pem \
    --bodies var/notify_bodies.txt --orders var/notify_orders.csv >/dev/null
  ./run.sh manage bench_orders --csv var/notify_orders.csv >/dev/null
  ./run.sh start "$django_port" 2 >/dev/null
  dbase="http://127.0.0.1:$django_port"
  ready=0
  for _ in $(seq 300); do curl -s -o /dev/null "$dbase/user/login" && { ready=1; break; }; sleep 0.2; done
  [ "$ready" = 1 ] || { echo "Django did not start" >&2; exit 1; }
  master="$(cat var/gunicorn.pid)"
  django_rss="$(rss_mib "/proc/$master/status" $(pgrep -P "$master" | sed 's|.*|/proc/&/status|'))"
  dtoken="$(curl -s -X POST "$dbase/user/login" -H 'Content-Type: application/json' \
    -d '{"username":"root","password":"Luffy@seed2024"}' | python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')"
  echo "== Django: POST /order/pay, wrk -t$threads -c$conns -d$duration"
  TOKEN="$dtoken" AUTH_SCHEME=jwt \
    PAY_BODY='{"subject":"路飞学城课程: Python开发21天入门+Linux系统基础5周入门精讲","total_amount":298.00,"goods_pks":"1,2"}' \
    wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$root/bench/luffy_pay.lua" "$dbase" >"$work/django-pay.txt"
  grep -E "^RESULT|first other" "$work/django-pay.txt"
  echo "== Django: POST /order/success, 20,000 distinct unpaid orders"
  BODIES="$django_dir/var/notify_bodies.txt" THREADS="$threads" \
    wrk -t"$threads" -c"$conns" -d"$duration" --latency -s "$root/bench/notify.lua" "$dbase/order/success" >"$work/django-notify.txt"
  grep -E "^RESULT|first other" "$work/django-notify.txt"
  record "django_orders=$(field "$work/django-pay.txt" good_per_s)"
  record "django_orders_p99=$(field "$work/django-pay.txt" p99_ms)"
  record "django_notify=$(field "$work/django-notify.txt" good_per_s)"
  record "django_notify_p99=$(field "$work/django-notify.txt" p99_ms)"
  record "django_rss=$django_rss"
  ./run.sh stop >/dev/null
  cd "$root"
else
  echo "== Django: $seed is not here; our side and the limits only"
fi

echo
python3 - "$results" "$signs" "$commits" "$postgres" <<'PY'
import sys
values = dict(line.strip().split("=", 1) for line in open(sys.argv[1]) if "=" in line)
signs, commits, postgres = float(sys.argv[2]), float(sys.argv[3]), sys.argv[4] == "1"
def num(key):
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None
def fmt(x, digits=0):
    return "" if x is None else f"{x:,.{digits}f}"
def ratio(a, b):
    return "" if a is None or b is None or b == 0 else f"{a / b:.2f}x"
django = num("django_orders") is not None
columns = ["", "ours (SQLite)"] + (["ours (PostgreSQL)"] if postgres else []) + (["Django", "ours / Django"] if django else []) + ["limit", "ours / limit"]
print("| " + " | ".join(columns) + " |")
print("|" + "---|" * len(columns))
def row(name, key, limit, limit_text):
    ours = num(f"ours_sqlite_{key}")
    cells = [name, f"{fmt(ours)} (p99 {fmt(num(f'ours_sqlite_{key}_p99'), 1)} ms)"]
    if postgres:
        cells.append(f"{fmt(num(f'ours_postgres_{key}'))} (p99 {fmt(num(f'ours_postgres_{key}_p99'), 1)} ms)")
    if django:
        cells += [f"{fmt(num(f'django_{key}'))} (p99 {fmt(num(f'django_{key}_p99'), 1)} ms)", ratio(ours, num(f"django_{key}"))]
    cells += [limit_text, ratio(ours, limit)]
    print("| " + " | ".join(cells) + " |")
row("orders created/s (each signs a pay link)", "orders", signs, f"{fmt(signs)} signs/s")
row("notifications/s (each verifies, commits, fulfils)", "notify", commits, f"{fmt(commits)} commits/s")
cells = ["RSS idle", f"{fmt(num('ours_sqlite_rss'))} MiB"]
if postgres:
    cells.append(f"{fmt(num('ours_postgres_rss'))} MiB")
if django:
    cells += [f"{fmt(num('django_rss'))} MiB", ratio(num("ours_sqlite_rss"), num("django_rss"))]
cells += ["", ""]
print("| " + " | ".join(cells) + " |")
fixed = num("ours_sqlite_fixed_p99")
if fixed is not None:
    extra = f", PostgreSQL {fmt(num('ours_postgres_fixed_p99'), 2)} ms" if postgres and num("ours_postgres_fixed_p99") is not None else ""
    print(f"\nour notification p99 at a fixed 1,000/s: SQLite {fmt(fixed, 2)} ms{extra}")
repeats = [k for k in values if k.endswith("_notify_repeats") and values[k] not in ("", "0")]
if repeats:
    print("\nWARNING: some notification bodies were sent twice (the file ran out):", ", ".join(repeats))
PY

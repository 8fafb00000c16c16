#!/usr/bin/env bash
# The issue-6 proofs at full size, against the built-in sandbox on 127.0.0.1 (release build):
#  * 1,000 orders whose notifications are all dropped → reconciliation pays every one;
#  * 50 concurrent duplicates of each notification for 1,000 orders → each paid and fulfilled
#    exactly once, no 5xx;
#  * 1,000 forged or malformed notification bodies → no state change, each answered and kept;
#  * the shop SIGKILLed mid-storm and restarted → every paid order paid, none twice.
# Usage: bench/soak.sh   (a few minutes)
set -euo pipefail
cd "$(dirname "$0")/.."
export RECONCILE_ORDERS="${RECONCILE_ORDERS:-1000}" STORM_ORDERS="${STORM_ORDERS:-1000}" STORM_COPIES="${STORM_COPIES:-50}"
time cargo test --release --locked -p shop --test api -- --nocapture --test-threads 1 \
  reconciliation_finds_payments_whose_notifications_were_all_lost \
  fifty_concurrent_duplicates_of_each_notification_fulfil_each_order_once \
  a_thousand_forged_or_malformed_notifications_change_nothing \
  a_shop_killed_mid_storm_loses_no_payment_and_pays_none_twice 2>&1 \
  | grep -E "^test |reconciliation found|killed with|storm:|test result"

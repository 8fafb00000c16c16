#!/usr/bin/env bash
# SDK signing/verification speed beside OpenSSL's own RSA-2048 numbers on the same machine, one
# core each. Usage: bench/sdk.sh   (takes about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
target="${CARGO_TARGET_DIR:-target}"

echo "== openssl speed -seconds 3 rsa2048 (one core)"
openssl speed -seconds 3 rsa2048 2>/dev/null | tee /tmp/openssl-speed.txt | grep -E "^rsa 2048|sign/s" || true
read -r ossl_sign ossl_verify < <(awk '/^rsa 2048 bits/ {print $(NF-1), $NF}' /tmp/openssl-speed.txt)

echo "== cargo bench -p alipay --bench sign_verify"
cargo bench -p alipay --bench sign_verify -- --noplot 2>/dev/null | tee /tmp/alipay-bench.txt | grep -E "^(rsa2048|notify)/|time:|thrpt:" || true

# criterion prints "thrpt:  [low mid high]" with units elem/s or Kelem/s.
rate() {
  awk -v name="$1" '
    $0 ~ name {found=1}
    found && /thrpt:/ {
      v=$(NF-3); u=$(NF-2); gsub(/\[/,"",v);
      if (u ~ /^Kelem/) v*=1000; if (u ~ /^Melem/) v*=1000000;
      printf "%.0f", v; exit
    }' /tmp/alipay-bench.txt
}
sign=$(rate "rsa2048/sign_rsa2")
verify=$(rate "rsa2048/verify_rsa2")
notify=$(rate "notify/verify_notification")
echo
printf "%-28s %12s %12s %8s\n" "operation" "alipay/s" "openssl/s" "ratio"
printf "%-28s %12s %12s %8s\n" "RSA2 sign (2048)" "$sign" "$ossl_sign" "$(awk -v a="$sign" -v b="$ossl_sign" 'BEGIN{printf "%.2f", a/b}')"
printf "%-28s %12s %12s %8s\n" "RSA2 verify (2048)" "$verify" "$ossl_verify" "$(awk -v a="$verify" -v b="$ossl_verify" 'BEGIN{printf "%.2f", a/b}')"
printf "%-28s %12s\n" "notification verify (whole)" "$notify"

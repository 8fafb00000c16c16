"""python-alipay-sdk (PyPI) against the `alipay` CLI, on freshly generated random cases.

1. Page-pay links signed by python-alipay-sdk: `alipay sign` gives the same content and signature.
2. Notifications signed the way python-alipay-sdk signs: `alipay verify` accepts them and rejects a
   tampered copy.
3. Notifications signed by `alipay sign --rule notify`: python-alipay-sdk's verify() accepts them.
4. App-pay order strings (`api_alipay_trade_app_pay`): `alipay pay-url --app` prints the same
   string, byte for byte, for the same order and timestamp.
"""
import json
import os
import random
import subprocess
import sys
import tempfile
from urllib.parse import parse_qsl, urlencode

from alipay import AliPay

ALIPAY_BIN = os.environ["ALIPAY_BIN"]
DATA = os.path.abspath(os.environ["INTEROP_DATA"])
SCRATCH = tempfile.mkdtemp(prefix="alipay-interop-")
CASES = int(os.environ.get("INTEROP_CASES", "60"))
rng = random.Random(int(os.environ.get("INTEROP_SEED", "20261126")))


def key(name):
    with open(os.path.join(DATA, "keys", name)) as f:
        return f.read()


def cli(*args, stdin=""):
    return subprocess.run([ALIPAY_BIN, *args], input=stdin, capture_output=True, text=True, timeout=30)


ALPHABET = "abcXYZ019 +&=%/?#~*'\"<>测试商品课程中文，。😀\\"


def text(n):
    return "".join(rng.choice(ALPHABET) for _ in range(n)).strip() or "x"


def amount():
    fen = rng.choice([1, 99, 100, 13800, 999999, rng.randint(1, 10_000_000_000)])
    return f"{fen // 100}.{fen % 100:02d}"


failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def page_pay_cases():
    for i in range(CASES):
        sign_type = rng.choice(["RSA2", "RSA"])
        client = AliPay(
            appid="2021000000000001",
            app_notify_url=None,
            app_private_key_string=key(rng.choice(["app_private_pkcs1.pem", "app_private_pkcs8.pem"])),
            alipay_public_key_string=key("alipay_public_spki.pem"),
            sign_type=sign_type,
        )
        extra = {}
        if rng.random() < 0.5:
            extra["body"] = text(20)
        if rng.random() < 0.3:
            extra["timeout_express"] = rng.choice(["15m", "2h", "1c"])
        if rng.random() < 0.3:
            extra["passback_params"] = text(10)
        order_string = client.api_alipay_trade_page_pay(
            subject=text(rng.randint(1, 30)),
            out_trade_no=f"ORD{i:04d}{rng.randint(0, 10**9)}",
            total_amount=amount(),
            return_url=rng.choice([None, "https://merchant.example.com/alipay/return"]),
            notify_url=rng.choice([None, "https://merchant.example.com/alipay/notify"]),
            **extra,
        )
        params = dict(parse_qsl(order_string, keep_blank_values=True))
        python_sign = params.pop("sign")
        out = cli("sign", "--private-key", os.path.join(DATA, "keys", "app_private_pkcs8.pem"),
                  "--sign-type", sign_type, stdin=json.dumps(params, ensure_ascii=False))
        check(out.returncode == 0, f"page pay {i}: alipay sign failed: {out.stderr}")
        if out.returncode == 0:
            lines = out.stdout.rstrip("\n").split("\n")
            check(lines[-1] == python_sign, f"page pay {i}: signature differs ({sign_type})")
            expected = "&".join(f"{k}={v}" for k, v in sorted(params.items()))
            check("\n".join(lines[:-1]) == expected, f"page pay {i}: content differs")


def notification(i):
    fen = rng.randint(1, 10**8)
    return {
        "app_id": "2021000000000001",
        "auth_app_id": "2021000000000001",
        "charset": "utf-8",
        "notify_id": f"2024052000222{rng.randint(10**20, 10**21 - 1)}",
        "notify_time": "2024-05-20 12:35:11",
        "notify_type": "trade_status_sync",
        "out_trade_no": f"ORD{i:05d}",
        "subject": text(rng.randint(1, 20)),
        "total_amount": f"{fen // 100}.{fen % 100:02d}",
        "trade_no": f"2024052022001{rng.randint(10**14, 10**15 - 1)}",
        "trade_status": rng.choice(["TRADE_SUCCESS", "TRADE_FINISHED", "TRADE_CLOSED"]),
        "version": "1.0",
        "passback_params": rng.choice(["", "k1%3Dv1", text(8)]) or "plain",
        "gmt_payment": "2024-05-20 12:35:10",
    }


def notification_cases():
    alipay_side = AliPay(appid="2021000000000001", app_notify_url=None,
                         app_private_key_string=key("alipay_private_pkcs1.pem"),
                         alipay_public_key_string=key("alipay_public_spki.pem"), sign_type="RSA2")
    merchant = AliPay(appid="2021000000000001", app_notify_url=None,
                      app_private_key_string=key("app_private_pkcs1.pem"),
                      alipay_public_key_string=key("alipay_public_spki.pem"), sign_type="RSA2")
    public_key = os.path.join(DATA, "keys", "alipay_public_spki.pem")
    for i in range(CASES):
        data = notification(i)
        unsigned = "&".join(f"{k}={v}" for k, v in sorted(data.items()))
        sign = alipay_side._sign(unsigned)
        body = urlencode({**data, "sign_type": "RSA2", "sign": sign})
        out = cli("verify", "--public-key", public_key, "--kind", "notify", stdin=body)
        check(out.returncode == 0, f"notify {i}: genuine notification rejected: {out.stderr}")
        if out.returncode == 0:
            check(json.loads(out.stdout)["subject"] == data["subject"], f"notify {i}: decoded subject differs")
        tampered = urlencode({**data, "total_amount": "99999.99", "sign_type": "RSA2", "sign": sign})
        out = cli("verify", "--public-key", public_key, "--kind", "notify", stdin=tampered)
        check(out.returncode == 1, f"notify {i}: tampered notification accepted")

        # The other direction: our signature, python's verify().
        out = cli("sign", "--private-key", os.path.join(DATA, "keys", "alipay_private_pkcs8.pem"), "--rule", "notify",
                  stdin=json.dumps(data, ensure_ascii=False))
        check(out.returncode == 0, f"notify {i}: alipay sign --rule notify failed: {out.stderr}")
        if out.returncode == 0:
            ours = out.stdout.rstrip("\n").split("\n")[-1]
            check(merchant.verify(dict(data, sign_type="RSA2"), ours), f"notify {i}: python-alipay-sdk rejects our signature")


def app_pay_config(sign_type, notify_url):
    path = os.path.join(SCRATCH, f"app_pay_{sign_type}_{bool(notify_url)}.toml")
    lines = [
        "[alipay]",
        'app_id = "2021000000000001"',
        f'app_private_key_file = "{os.path.join(DATA, "keys", "app_private_pkcs8.pem")}"',
        f'alipay_public_key_file = "{os.path.join(DATA, "keys", "alipay_public_spki.pem")}"',
        f'sign_type = "{sign_type}"',
        'gateway = "sandbox"',
    ]
    if notify_url:
        lines.append(f'notify_url = "{notify_url}"')
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def app_pay_cases():
    for i in range(CASES):
        sign_type = rng.choice(["RSA2", "RSA"])
        notify_url = rng.choice([None, "https://merchant.example.com/alipay/notify"])
        client = AliPay(
            appid="2021000000000001",
            app_notify_url=notify_url,
            app_private_key_string=key(rng.choice(["app_private_pkcs1.pem", "app_private_pkcs8.pem"])),
            alipay_public_key_string=key("alipay_public_spki.pem"),
            sign_type=sign_type,
        )
        # kwargs in the order the SDK writes the typed fields.
        extra = {}
        args = []
        if rng.random() < 0.5:
            extra["body"] = text(20)
            args += ["--body", extra["body"]]
        if rng.random() < 0.5:
            extra["timeout_express"] = rng.choice(["15m", "2h", "1c"])
            args += ["--timeout-express", extra["timeout_express"]]
        subject = text(rng.randint(1, 30))
        out_trade_no = f"APP{i:04d}{rng.randint(0, 10**9)}"
        total_amount = amount()
        python_string = client.api_alipay_trade_app_pay(
            subject=subject, out_trade_no=out_trade_no, total_amount=total_amount, **extra
        )
        timestamp = dict(parse_qsl(python_string))["timestamp"]
        out = cli("pay-url", "--app", "--ascii-json", "--config", app_pay_config(sign_type, notify_url),
                  "--out-trade-no", out_trade_no, "--amount", total_amount, "--subject", subject,
                  "--timestamp", timestamp, *args)
        check(out.returncode == 0, f"app pay {i}: alipay pay-url --app failed: {out.stderr}")
        if out.returncode == 0:
            ours = out.stdout.rstrip("\n")
            check(ours == python_string, f"app pay {i}: order string differs ({sign_type}):\n  python {python_string}\n  ours   {ours}")


page_pay_cases()
notification_cases()
app_pay_cases()
if failures:
    print(f"{len(failures)} failures:", *failures[:20], sep="\n  ")
    sys.exit(1)
print(f"ok: {CASES} page-pay links, {CASES} notifications (both directions) and {CASES} app-pay order strings agree with python-alipay-sdk")

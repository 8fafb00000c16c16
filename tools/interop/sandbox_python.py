#!/usr/bin/env python3
"""Interop: python-alipay-sdk (PyPI) against the alipay-sandbox binary.

Starts the sandbox (in memory, port 0), registers an app, then drives it only through the real
client: a page pay link the emulator must accept, a payment, the notification verified with
AliPay.verify, and trade query / refund / refund query / close with the SDK's own response
signature verification, the day's trade bill through the generic server_api (verified, then
downloaded and opened as a zip of GBK CSVs), an app-pay order string, barcode payments (at once,
waiting then cancelled, refused) and alipay.trade.create. Exits non-zero with a clear message on any mismatch.

Environment (set by run.sh): SANDBOX_BIN (the built alipay-sandbox), INTEROP_DATA
(crates/alipay/tests/data).
"""

import atexit
import datetime
import http.server
import io
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile

from alipay import AliPay, DCAliPay

APP_ID = "2021000000000001"
CERT_APP_ID = "2021000000000002"
TIMEOUT = 10
checks = 0


def fail(message):
    print(f"FAIL (python-alipay-sdk): {message}", file=sys.stderr)
    sys.exit(1)


def check(condition, message):
    global checks
    if not condition:
        fail(message)
    checks += 1


def read_line_with_timeout(stream, seconds):
    lines = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=seconds)
    except queue.Empty:
        fail(f"the sandbox printed nothing within {seconds} s")


def start_sandbox():
    binary = os.environ.get("SANDBOX_BIN")
    if not binary or not os.path.exists(binary):
        fail(f"SANDBOX_BIN={binary!r} does not exist; build it with cargo build -p alipay-sandbox")
    child = subprocess.Popen(
        [binary, "--listen", "127.0.0.1:0", "--in-memory", "--time-scale", "0.001"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )

    def stop():
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()

    atexit.register(stop)
    first = read_line_with_timeout(child.stdout, TIMEOUT)
    if "listening on " not in first:
        fail(f"unexpected first line from the sandbox: {first!r}")
    return first.strip().rsplit(" ", 1)[-1]


def call(method, url, body=None, content_type="application/json"):
    data = body.encode() if isinstance(body, str) else body
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


class Notifications:
    """A merchant notify endpoint on 127.0.0.1 that answers `success`."""

    def __init__(self):
        self.received = queue.Queue()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                outer.received.put(self.rfile.read(length).decode())
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"success")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alipay/notify"

    def next(self, what):
        try:
            return self.received.get(timeout=TIMEOUT)
        except queue.Empty:
            fail(f"no notification for {what} within {TIMEOUT} s")


def verified_notification(alipay, body, what):
    # Decoded exactly once, as a web framework would hand it to the merchant.
    data = dict(urllib.parse.parse_qsl(body, keep_blank_values=True))
    sign = data.pop("sign", None)
    check(sign, f"{what}: the notification has no sign")
    fields = dict(data)
    check(alipay.verify(data, sign), f"{what}: AliPay.verify refused the notification: {body}")
    tampered = dict(fields, total_amount="0.01")
    check(not alipay.verify(tampered, sign), f"{what}: AliPay.verify accepted a tampered notification")
    return fields


def main():
    data_dir = os.environ.get("INTEROP_DATA")
    if not data_dir:
        fail("INTEROP_DATA is not set")
    base = start_sandbox()
    gateway = f"{base}/gateway.do"
    with open(os.path.join(data_dir, "keys/app_private_pkcs1.pem")) as f:
        app_private_key = f.read()
    with open(os.path.join(data_dir, "keys/app_public_spki.pem")) as f:
        app_public_key = f.read()
    status, body = call("POST", f"{base}/api/apps", json.dumps({"app_id": APP_ID, "public_key": app_public_key}))
    check(status == 201, f"registering the app: {status} {body}")
    seller_id = json.loads(body)["seller_id"]
    status, alipay_public_key = call("GET", f"{base}/api/alipay-public-key")
    check(status == 200 and "BEGIN PUBLIC KEY" in alipay_public_key, "fetching the sandbox's public key")

    notifications = Notifications()
    alipay = AliPay(
        appid=APP_ID,
        app_notify_url=notifications.url,
        app_private_key_string=app_private_key,
        alipay_public_key_string=alipay_public_key,
        sign_type="RSA2",
    )
    alipay._gateway = gateway  # the SDK has no public setting for a custom gateway

    # A page pay link, made by the real client, accepted by the emulator.
    out_trade_no = f"PY_{int(time.time() * 1000)}"
    order_string = alipay.api_alipay_trade_page_pay(
        subject="Python 测试 a+b/c",
        out_trade_no=out_trade_no,
        total_amount="88.88",
        return_url="https://shop.example/return",
        notify_url=notifications.url,
    )
    status, page = call("GET", f"{gateway}?{order_string}")
    check(status == 200 and 'id="pay"' in page, f"the pay link was not accepted: {status} {page[-800:]}")

    query = alipay.api_alipay_trade_query(out_trade_no=out_trade_no)
    check(query.get("trade_status") == "WAIT_BUYER_PAY", f"query before paying: {query}")

    status, body = call("POST", f"{base}/api/trades/{out_trade_no}/pay", "{}")
    check(status == 200, f"paying: {status} {body}")
    paid = verified_notification(alipay, notifications.next("the payment"), "payment")
    check(paid["trade_status"] == "TRADE_SUCCESS", f"payment notification: {paid}")
    check(paid["out_trade_no"] == out_trade_no and paid["total_amount"] == "88.88", f"payment notification: {paid}")
    check(paid["seller_id"] == seller_id and paid["app_id"] == APP_ID, f"payment notification: {paid}")
    check(paid["subject"] == "Python 测试 a+b/c", f"subject survived the trip: {paid['subject']!r}")

    query = alipay.api_alipay_trade_query(out_trade_no=out_trade_no)
    check(query.get("code") == "10000" and query.get("trade_status") == "TRADE_SUCCESS", f"query after paying: {query}")
    check(query.get("total_amount") == "88.88" and query.get("trade_no") == paid["trade_no"], f"query: {query}")

    refund = alipay.api_alipay_trade_refund(refund_amount="10.00", out_trade_no=out_trade_no, out_request_no="R1")
    check(refund.get("code") == "10000" and refund.get("fund_change") == "Y", f"refund: {refund}")
    check(refund.get("refund_fee") == "10.00", f"refund: {refund}")
    again = alipay.api_alipay_trade_refund(refund_amount="10.00", out_trade_no=out_trade_no, out_request_no="R1")
    check(again.get("fund_change") == "N", f"repeated refund: {again}")
    refunded = verified_notification(alipay, notifications.next("the refund"), "refund")
    check(refunded["refund_fee"] == "10.00" and refunded["out_biz_no"] == "R1", f"refund notification: {refunded}")
    refund_query = alipay.api_alipay_trade_fastpay_refund_query("R1", out_trade_no=out_trade_no)
    check(refund_query.get("refund_status") == "REFUND_SUCCESS", f"refund query: {refund_query}")

    # Close an unpaid trade; Alipay sends TRADE_CLOSED.
    other = f"{out_trade_no}_B"
    order_string = alipay.api_alipay_trade_page_pay(
        subject="to close", out_trade_no=other, total_amount=1, notify_url=notifications.url
    )
    status, page = call("GET", f"{gateway}?{order_string}")
    check(status == 200 and 'id="pay"' in page, f"second pay link: {status}")
    closed = alipay.api_alipay_trade_close(out_trade_no=other)
    check(closed.get("code") == "10000" and closed.get("out_trade_no") == other, f"close: {closed}")
    notice = verified_notification(alipay, notifications.next("the close"), "close")
    check(notice["trade_status"] == "TRADE_CLOSED", f"close notification: {notice}")
    missing = alipay.api_alipay_trade_query(out_trade_no="PY_NOPE")
    check(missing.get("sub_code") == "ACQ.TRADE_NOT_EXIST", f"query of an unknown trade: {missing}")

    trade_bill(alipay, out_trade_no, paid["trade_no"])
    app_barcode_and_create(base, gateway, alipay, notifications)
    certificate_mode(base, gateway, app_private_key, app_public_key, notifications)

    print(f"python-alipay-sdk interop: {checks} checks passed")


def app_barcode_and_create(base, gateway, alipay, notifications):
    """App pay (the order string the Alipay app submits), barcode pay (28: at once; 29: the buyer
    confirms, the merchant queries, then cancels what stays unpaid) and alipay.trade.create."""
    stamp = int(time.time() * 1000)
    out_trade_no = f"PY_APP_{stamp}"
    order_string = alipay.api_alipay_trade_app_pay(subject="手机 课程", out_trade_no=out_trade_no, total_amount="6.60")
    status, page = call("GET", f"{gateway}?{order_string}")
    check(status == 200 and 'id="pay"' in page and "6.60" in page, f"the app order string was not accepted: {status} {page[-600:]}")
    status, body = call("POST", f"{base}/api/trades/{out_trade_no}/pay", "{}")
    check(status == 200, f"paying the app trade: {status} {body}")
    paid = verified_notification(alipay, notifications.next("the app payment"), "app payment")
    check(paid["out_trade_no"] == out_trade_no and paid["trade_status"] == "TRADE_SUCCESS", f"app payment: {paid}")

    at_once = alipay.api_alipay_trade_pay(f"PY_BAR_{stamp}", "bar_code", "281234567890123456", "拿铁", total_amount="18.00")
    check(at_once.get("code") == "10000" and at_once.get("total_amount") == "18.00", f"barcode pay at once: {at_once}")
    verified_notification(alipay, notifications.next("the barcode payment"), "barcode payment")
    waiting_no = f"PY_BAR_W_{stamp}"
    waiting = alipay.api_alipay_trade_pay(waiting_no, "bar_code", "291234567890123456", "大额", total_amount="888.00")
    check(waiting.get("code") == "10003", f"barcode pay waiting for the buyer: {waiting}")
    query = alipay.api_alipay_trade_query(out_trade_no=waiting_no)
    check(query.get("trade_status") == "WAIT_BUYER_PAY", f"query of the waiting trade: {query}")
    cancelled = alipay.api_alipay_trade_cancel(out_trade_no=waiting_no)
    check(cancelled.get("code") == "10000" and cancelled.get("action") == "close", f"cancel: {cancelled}")
    closed = verified_notification(alipay, notifications.next("the cancel"), "cancel")
    check(closed["out_trade_no"] == waiting_no and closed["trade_status"] == "TRADE_CLOSED", f"cancel notification: {closed}")
    query = alipay.api_alipay_trade_query(out_trade_no=waiting_no)
    check(query.get("trade_status") == "TRADE_CLOSED", f"query after the cancel: {query}")
    refused = alipay.api_alipay_trade_pay(f"PY_BAR_X_{stamp}", "bar_code", "1234567890123456", "s", total_amount="1.00")
    check(refused.get("sub_code") == "ACQ.PAYMENT_AUTH_CODE_INVALID", f"an invalid payment code: {refused}")

    created = alipay.api_alipay_trade_create("小程序", f"PY_MP_{stamp}", "3.00", buyer_id="2088102177846880")
    check(created.get("code") == "10000" and created.get("trade_no"), f"trade create: {created}")


def trade_bill(alipay, out_trade_no, trade_no):
    """Today's trade bill (the sandbox serves today's, Alipay only past days), fetched through the
    SDK's generic server_api, which verifies the response's signature, then downloaded and opened."""
    today = datetime.datetime.now(datetime.timezone(datetime.timedelta(hours=8))).date().isoformat()
    answer = alipay.server_api(
        "alipay.data.dataservice.bill.downloadurl.query",
        biz_content={"bill_type": "trade", "bill_date": today},
    )
    check(answer.get("code") == "10000" and answer.get("bill_download_url"), f"bill download url: {answer}")
    url = answer["bill_download_url"]
    check(url.startswith("http://127.0.0.1:"), f"the bill is served by the sandbox itself: {url}")
    status, archive = fetch_bytes(url)
    check(status == 200, f"downloading the bill: {status}")
    with zipfile.ZipFile(io.BytesIO(archive)) as bill:
        names = [info.filename for info in bill.infolist()]
        details = [n for n in names if n.endswith("_业务明细.csv")]
        summaries = [n for n in names if n.endswith("_业务明细(汇总).csv")]
        check(len(details) == 1 and len(summaries) == 1, f"the zip holds the detail and the summary: {names}")
        text = bill.read(details[0]).decode("gbk")
    lines = text.splitlines()
    check(lines[0].startswith("#支付宝业务明细查询"), f"the bill's first line: {lines[0]!r}")
    start = next(i for i, line in enumerate(lines) if "业务明细列表----" in line and "结束" not in line)
    header = lines[start + 1].split(",")
    for column in ("支付宝交易号", "商户订单号", "业务类型", "订单金额（元）", "商家实收（元）", "退款批次号/请求号"):
        check(column in [c.strip() for c in header], f"the column {column} is in the header: {header}")
    rows = [line for line in lines[start + 2 :] if not line.startswith("#")]
    ours = [row for row in rows if out_trade_no in row]
    check(any(trade_no in row and "交易" in row and "88.88" in row for row in ours), f"the payment's line: {ours}")
    check(any("退款" in row and "-10.00" in row for row in ours), f"the refund's line: {ours}")
    check(any(line.startswith("#交易合计") for line in lines), "the bill ends with #交易合计")

    # A day without trades has no bill: a signed business failure, verified by the SDK like a success.
    missing = alipay.server_api(
        "alipay.data.dataservice.bill.downloadurl.query",
        biz_content={"bill_type": "trade", "bill_date": "2016-01-01"},
    )
    check(missing.get("code") == "40004" and missing.get("sub_code") == "isp.bill_not_exist", f"a day without trades: {missing}")


def fetch_bytes(url):
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def certificate_mode(base, gateway, app_private_key, app_public_key, notifications):
    """DCAliPay (certificate mode) against an app whose certificate the sandbox issued: the SDK
    computes app_cert_sn and alipay_root_cert_sn its own way, and they must be the sandbox's."""
    status, body = call(
        "POST",
        f"{base}/api/apps",
        json.dumps({"app_id": CERT_APP_ID, "public_key": app_public_key, "issue_cert": True}),
    )
    check(status == 201, f"registering the certificate-mode app: {status} {body}")
    app = json.loads(body)
    status, body = call("GET", f"{base}/api/certs")
    check(status == 200, f"fetching the certificates: {status} {body}")
    certs = json.loads(body)
    alipay = DCAliPay(
        appid=CERT_APP_ID,
        app_notify_url=notifications.url,
        app_private_key_string=app_private_key,
        app_public_key_cert_string=app["app_cert"],
        alipay_public_key_cert_string=certs["alipay_cert"],
        alipay_root_cert_string=certs["alipay_root_cert"],
    )
    alipay._gateway = gateway
    check(alipay.app_cert_sn == app["app_cert_sn"], f"app_cert_sn: {alipay.app_cert_sn} != {app['app_cert_sn']}")
    check(
        alipay.alipay_root_cert_sn == certs["alipay_root_cert_sn"],
        f"alipay_root_cert_sn: {alipay.alipay_root_cert_sn} != {certs['alipay_root_cert_sn']}",
    )

    out_trade_no = f"PYCERT_{int(time.time() * 1000)}"
    order_string = alipay.api_alipay_trade_page_pay(
        subject="证书模式", out_trade_no=out_trade_no, total_amount="9.90", notify_url=notifications.url
    )
    check("app_cert_sn=" in order_string, "the pay link carries app_cert_sn")
    status, page = call("GET", f"{gateway}?{order_string}")
    check(status == 200 and 'id="pay"' in page, f"the certificate-mode pay link was not accepted: {status} {page[-800:]}")
    status, body = call("POST", f"{base}/api/trades/{out_trade_no}/pay", "{}")
    check(status == 200, f"paying: {status} {body}")
    paid = verified_notification(alipay, notifications.next("the certificate-mode payment"), "certificate-mode payment")
    check(paid["app_id"] == CERT_APP_ID and paid["total_amount"] == "9.90", f"notification: {paid}")
    # The SDK verifies the response (signed by the Alipay certificate's key, with alipay_cert_sn).
    query = alipay.api_alipay_trade_query(out_trade_no=out_trade_no)
    check(query.get("trade_status") == "TRADE_SUCCESS", f"certificate-mode query: {query}")


if __name__ == "__main__":
    main()

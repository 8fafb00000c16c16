//! The trade state machine (spec §8), free of HTTP and SQL.
//!
//! ```text
//! (no trade) --precreate--> Created (invisible: APIs answer ACQ.TRADE_NOT_EXIST)
//! (no trade) / Created --buyer opens the cashier / scans--> WAIT_BUYER_PAY
//! WAIT_BUYER_PAY --pay--> TRADE_SUCCESS
//! WAIT_BUYER_PAY --timeout | close | cancel--> TRADE_CLOSED
//! TRADE_SUCCESS --partial refund--> TRADE_SUCCESS (refund_fee grows)
//! TRADE_SUCCESS --refunds reach the total | cancel--> TRADE_CLOSED
//! ```
//!
//! Every operation takes `now` so the rules can be tested without a clock, and reports refusals
//! as [`TradeError`], which knows its Alipay `sub_code` and `sub_msg`.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use alipay::Money;
use time::OffsetDateTime;

/// Which cashier (or API) created the trade.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// `alipay.trade.page.pay`, the PC cashier.
    Page,
    /// `alipay.trade.wap.pay`, the mobile cashier.
    Wap,
    /// `alipay.trade.precreate`, a QR code.
    Precreate,
    /// `create_direct_pay_by_user`, the legacy MD5 cashier (its `app_id` is the partner id).
    Legacy,
    /// `alipay.trade.app.pay`: the Alipay app opened the merchant app's order string.
    App,
    /// `alipay.trade.create`: a trade a mini program or JSAPI page pays.
    Create,
    /// `alipay.trade.pay`: the merchant scanned the buyer's payment code (付款码).
    Barcode,
}

impl Origin {
    /// The method that created the trade.
    #[must_use]
    pub const fn method(self) -> &'static str {
        match self {
            Origin::Page => "alipay.trade.page.pay",
            Origin::Wap => "alipay.trade.wap.pay",
            Origin::Precreate => "alipay.trade.precreate",
            Origin::Legacy => "create_direct_pay_by_user",
            Origin::App => "alipay.trade.app.pay",
            Origin::Create => "alipay.trade.create",
            Origin::Barcode => "alipay.trade.pay",
        }
    }

    /// The `method` value of the return URL (page and wap only).
    #[must_use]
    pub const fn return_method(self) -> Option<&'static str> {
        match self {
            Origin::Page => Some("alipay.trade.page.pay.return"),
            Origin::Wap => Some("alipay.trade.wap.pay.return"),
            Origin::Precreate | Origin::Legacy | Origin::App | Origin::Create | Origin::Barcode => {
                None
            }
        }
    }
}

impl FromStr for Origin {
    type Err = String;
    fn from_str(s: &str) -> Result<Origin, String> {
        [
            Origin::Page,
            Origin::Wap,
            Origin::Precreate,
            Origin::Legacy,
            Origin::App,
            Origin::Create,
            Origin::Barcode,
        ]
        .into_iter()
        .find(|o| o.method() == s)
        .ok_or_else(|| format!("unknown trade origin {s:?}"))
    }
}

/// Where a trade stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeState {
    /// Precreated; the buyer has not scanned the QR code yet. Alipay's APIs do not see it.
    Created,
    /// `WAIT_BUYER_PAY`.
    WaitBuyerPay,
    /// `TRADE_SUCCESS`: paid, refundable.
    TradeSuccess,
    /// `TRADE_FINISHED`: paid, no longer refundable.
    TradeFinished,
    /// `TRADE_CLOSED`: unpaid and closed, or fully refunded.
    TradeClosed,
}

impl TradeState {
    /// The stored name (the wire name, or `CREATED`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            TradeState::Created => "CREATED",
            TradeState::WaitBuyerPay => "WAIT_BUYER_PAY",
            TradeState::TradeSuccess => "TRADE_SUCCESS",
            TradeState::TradeFinished => "TRADE_FINISHED",
            TradeState::TradeClosed => "TRADE_CLOSED",
        }
    }

    /// The `trade_status` Alipay reports, `None` while the trade is invisible.
    #[must_use]
    pub const fn wire(self) -> Option<&'static str> {
        match self {
            TradeState::Created => None,
            other => Some(other.as_str()),
        }
    }
}

impl FromStr for TradeState {
    type Err = String;
    fn from_str(s: &str) -> Result<TradeState, String> {
        [
            TradeState::Created,
            TradeState::WaitBuyerPay,
            TradeState::TradeSuccess,
            TradeState::TradeFinished,
            TradeState::TradeClosed,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
        .ok_or_else(|| format!("unknown trade state {s:?}"))
    }
}

/// Why a trade was closed; refund-closed trades carry `refund_fee`, timeouts do not (spec §8).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// `timeout_express` / `time_expire` passed unpaid.
    Timeout,
    /// `alipay.trade.close`.
    Closed,
    /// `alipay.trade.cancel` of an unpaid trade.
    Cancelled,
    /// Refunded in full (by refunds or by `alipay.trade.cancel`).
    Refunded,
}

impl CloseReason {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::Timeout => "timeout",
            CloseReason::Closed => "closed",
            CloseReason::Cancelled => "cancelled",
            CloseReason::Refunded => "refunded",
        }
    }
}

impl FromStr for CloseReason {
    type Err = String;
    fn from_str(s: &str) -> Result<CloseReason, String> {
        [
            CloseReason::Timeout,
            CloseReason::Closed,
            CloseReason::Cancelled,
            CloseReason::Refunded,
        ]
        .into_iter()
        .find(|reason| reason.as_str() == s)
        .ok_or_else(|| format!("unknown close reason {s:?}"))
    }
}

/// The buyer who paid.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Payer {
    /// `2088…`.
    pub user_id: String,
    /// The unmasked login; masked whenever shown to the merchant.
    pub logon_id: String,
}

/// What a page/wap pay or precreate request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Order {
    /// Which cashier.
    pub origin: Origin,
    /// The merchant's order number.
    pub out_trade_no: String,
    /// The amount.
    pub total_amount: Money,
    /// The title.
    pub subject: String,
    /// The description.
    pub body: Option<String>,
    /// `product_code` as sent.
    pub product_code: Option<String>,
    /// Echoed verbatim in notifications.
    pub passback_params: Option<String>,
    /// Where notifications go.
    pub notify_url: Option<String>,
    /// Where the browser goes after paying.
    pub return_url: Option<String>,
    /// Where the wap cashier's back button goes.
    pub quit_url: Option<String>,
    /// Relative payment window (`15m`, `2h`, `1d`, `1c`).
    pub timeout_express: Option<String>,
    /// Absolute deadline (`yyyy-MM-dd HH:mm[:ss]`).
    pub time_expire: Option<String>,
}

/// The default payment window: 15 days.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(15 * 24 * 60 * 60);

impl Order {
    /// When an unpaid trade for this order closes, counting from `now`.
    pub fn deadline(&self, now: OffsetDateTime) -> Result<OffsetDateTime, TradeError> {
        let mut deadline = now + DEFAULT_WINDOW;
        if let Some(window) = &self.timeout_express {
            let at = timeout_express_deadline(window, now).ok_or_else(|| {
                TradeError::InvalidParameter(format!(
                    "timeout_express {window:?} must be minutes, hours or days (1m..15d) or 1c"
                ))
            })?;
            deadline = deadline.min(at);
        }
        if let Some(text) = &self.time_expire {
            let at = alipay::time::parse(text).map_err(|_| {
                TradeError::InvalidParameter(format!(
                    "time_expire {text:?} must be yyyy-MM-dd HH:mm:ss (Beijing time)"
                ))
            })?;
            if at <= now {
                return Err(TradeError::InvalidParameter(format!(
                    "time_expire {text} is already past"
                )));
            }
            deadline = deadline.min(at);
        }
        Ok(deadline)
    }
}

/// `<n>m`, `<n>h`, `<n>d` (1 minute to 15 days) or `1c` (midnight, Beijing time).
fn timeout_express_deadline(window: &str, now: OffsetDateTime) -> Option<OffsetDateTime> {
    if window == "1c" {
        let local = now.to_offset(alipay::time::BEIJING);
        let midnight = local
            .date()
            .next_day()?
            .midnight()
            .assume_offset(alipay::time::BEIJING);
        return Some(midnight);
    }
    let unit = window.chars().last()?;
    let digits = &window[..window.len() - unit.len_utf8()];
    if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let minutes = match unit {
        'm' => n,
        'h' => n * 60,
        'd' => n * 24 * 60,
        _ => return None,
    };
    if !(1..=15 * 24 * 60).contains(&minutes) {
        return None;
    }
    Some(now + Duration::from_secs(minutes * 60))
}

/// A trade, as Alipay keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trade {
    /// The merchant app.
    pub app_id: String,
    /// The merchant's order number, unique per app.
    pub out_trade_no: String,
    /// Alipay's 28-digit trade number.
    pub trade_no: String,
    /// Which cashier created it.
    pub origin: Origin,
    /// Where it stands.
    pub state: TradeState,
    /// The amount.
    pub total_amount: Money,
    /// The title.
    pub subject: String,
    /// The description.
    pub body: Option<String>,
    /// `product_code` as sent.
    pub product_code: Option<String>,
    /// Echoed in notifications.
    pub passback_params: Option<String>,
    /// Where notifications go.
    pub notify_url: Option<String>,
    /// Where the browser goes after paying.
    pub return_url: Option<String>,
    /// Wap back button.
    pub quit_url: Option<String>,
    /// As sent.
    pub timeout_express: Option<String>,
    /// As sent.
    pub time_expire: Option<String>,
    /// The QR token of a precreated trade.
    pub qr_token: Option<String>,
    /// When an unpaid trade closes.
    pub expires_at: OffsetDateTime,
    /// Creation.
    pub gmt_create: OffsetDateTime,
    /// Payment.
    pub gmt_payment: Option<OffsetDateTime>,
    /// Closing.
    pub gmt_close: Option<OffsetDateTime>,
    /// Why it closed.
    pub close_reason: Option<CloseReason>,
    /// Who paid.
    pub payer: Option<Payer>,
    /// Refunded so far.
    pub refund_fee: Money,
    /// Something the merchant should know (e.g. a notify_url with its own query string).
    pub warning: Option<String>,
}

/// A refund of part or all of a trade.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refund {
    /// The merchant's refund request number (the idempotency key).
    pub out_request_no: String,
    /// This refund's amount.
    pub amount: Money,
    /// Why, as the merchant said.
    pub reason: Option<String>,
    /// When it was paid out.
    pub gmt_refund: OffsetDateTime,
}

/// What `alipay.trade.refund` asks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundRequest {
    /// `None` means "the one full refund", keyed by the `out_trade_no`.
    pub out_request_no: Option<String>,
    /// The amount.
    pub amount: Money,
    /// Why.
    pub reason: Option<String>,
}

/// What a refund did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefundOutcome {
    /// The refund (the earlier one for an idempotent repeat).
    pub refund: Refund,
    /// Whether money moved in this call (`fund_change`).
    pub fund_change: bool,
}

/// What `alipay.trade.cancel` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CancelOutcome {
    /// `close` or `refund`.
    pub action: &'static str,
    /// The refund made, when a paid trade was cancelled now.
    pub refund: Option<Refund>,
    /// Whether the merchant is told (the trade was visible and changed in this call).
    pub notify: bool,
}

/// Why Alipay refuses; each maps to a `sub_code` and a `sub_msg` (spec §7.12).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TradeError {
    /// No such trade (or the buyer has not opened it yet).
    #[error("the trade does not exist")]
    NotExist,
    /// The operation is not allowed in this state.
    #[error("the trade is {0}, which does not allow this")]
    StatusError(&'static str),
    /// Already paid.
    #[error("the trade has already been paid")]
    HasSuccess,
    /// Already closed.
    #[error("the trade is closed")]
    HasClose,
    /// No longer refundable.
    #[error("the trade is finished")]
    HasFinished,
    /// Same out_trade_no, different amount or subject.
    #[error("the order differs from the existing trade with this out_trade_no (amount or subject)")]
    ContextInconsistent,
    /// A refund without out_request_no must be the full amount.
    #[error("a refund without out_request_no must refund the total amount")]
    RefundAmountNotEqualTotal,
    /// The refunds would exceed what was paid.
    #[error("the refunds would exceed the amount paid")]
    RefundFeeExceeded,
    /// Same out_request_no, different amount.
    #[error("out_request_no was used before with a different amount")]
    DiscordantRepeat,
    /// Cancel more than 24 hours after creation.
    #[error("the trade is more than 24 hours old and can no longer be cancelled")]
    CancelTimeout,
    /// Cancel of a partly refunded trade.
    #[error("the trade has refunds and can no longer be cancelled")]
    CancelAfterRefund,
    /// Amount above the maximum.
    #[error("the amount is above the limit")]
    TotalFeeExceed,
    /// Bad input.
    #[error("invalid parameter: {0}")]
    InvalidParameter(String),
    /// The buyer's balance is too low.
    #[error("insufficient balance: {balance} available, {amount} needed")]
    InsufficientBalance {
        /// What the buyer has.
        balance: Money,
        /// What the trade costs.
        amount: Money,
    },
    /// No such sandbox buyer.
    #[error("unknown sandbox buyer {0:?}")]
    UnknownBuyer(String),
    /// Wrong password.
    #[error("wrong password")]
    WrongPassword,
    /// `alipay.open.app.alipaycert.download` of an SN the sandbox never issued.
    #[error("no Alipay certificate has this SN")]
    AlipayCertNotExist,
    /// `alipay.trade.pay` with an `auth_code` that is not a payment code.
    #[error("auth_code is not a payment code: 16 to 24 digits starting 25 to 30")]
    AuthCodeInvalid,
}

impl TradeError {
    /// Alipay's `sub_code`.
    #[must_use]
    pub fn sub_code(&self) -> &'static str {
        match self {
            TradeError::NotExist => "ACQ.TRADE_NOT_EXIST",
            TradeError::StatusError(_) => "ACQ.TRADE_STATUS_ERROR",
            TradeError::HasSuccess => "ACQ.TRADE_HAS_SUCCESS",
            TradeError::HasClose => "ACQ.TRADE_HAS_CLOSE",
            TradeError::HasFinished => "ACQ.TRADE_HAS_FINISHED",
            TradeError::ContextInconsistent => "ACQ.CONTEXT_INCONSISTENT",
            TradeError::RefundAmountNotEqualTotal => "ACQ.REFUND_AMT_NOT_EQUAL_TOTAL",
            TradeError::RefundFeeExceeded | TradeError::CancelAfterRefund => {
                "ACQ.REASON_TRADE_REFUND_FEE_ERR"
            }
            TradeError::DiscordantRepeat => "ACQ.DISCORDANT_REPEAT_REQUEST",
            TradeError::CancelTimeout => "ACQ.TRADE_CANCEL_TIME_OUT",
            TradeError::TotalFeeExceed => "ACQ.TOTAL_FEE_EXCEED",
            TradeError::InvalidParameter(_) => "ACQ.INVALID_PARAMETER",
            TradeError::InsufficientBalance { .. } => "ACQ.BUYER_BALANCE_NOT_ENOUGH",
            TradeError::UnknownBuyer(_) | TradeError::WrongPassword => "ACQ.BUYER_NOT_EXIST",
            TradeError::AlipayCertNotExist => "ALIPAY_CERT_NOT_EXIST",
            TradeError::AuthCodeInvalid => "ACQ.PAYMENT_AUTH_CODE_INVALID",
        }
    }

    /// Alipay's `sub_msg` (clients must not match on it; it is for people).
    #[must_use]
    pub fn sub_msg(&self) -> String {
        match self {
            TradeError::NotExist => "交易不存在".into(),
            TradeError::StatusError(_) => "交易状态不合法".into(),
            TradeError::HasSuccess => "交易已被支付".into(),
            TradeError::HasClose => "交易已经关闭".into(),
            TradeError::HasFinished => "交易已完结".into(),
            TradeError::ContextInconsistent => "交易信息被篡改".into(),
            TradeError::RefundAmountNotEqualTotal => "撤销或退款金额与订单金额不一致".into(),
            TradeError::RefundFeeExceeded | TradeError::CancelAfterRefund => "退款金额无效".into(),
            TradeError::DiscordantRepeat => "不一致的请求".into(),
            TradeError::CancelTimeout => "超过撤销时间范围".into(),
            TradeError::TotalFeeExceed => "订单金额超过限额".into(),
            TradeError::InvalidParameter(detail) => format!("参数无效: {detail}"),
            TradeError::InsufficientBalance { .. } => "买家余额不足".into(),
            TradeError::UnknownBuyer(_) => "买家账户不存在".into(),
            TradeError::WrongPassword => "支付密码错误".into(),
            TradeError::AlipayCertNotExist => "支付宝公钥证书不存在".into(),
            TradeError::AuthCodeInvalid => {
                "支付失败，获取顾客账户信息失败，请顾客刷新付款码后重新收款".into()
            }
        }
    }

    /// A snake_case code for the test-control API.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            TradeError::NotExist => "trade_not_exist",
            TradeError::StatusError(_) => "trade_status_error",
            TradeError::HasSuccess => "trade_has_success",
            TradeError::HasClose => "trade_has_close",
            TradeError::HasFinished => "trade_has_finished",
            TradeError::ContextInconsistent => "context_inconsistent",
            TradeError::RefundAmountNotEqualTotal => "refund_amount_not_equal_total",
            TradeError::RefundFeeExceeded => "refund_fee_exceeded",
            TradeError::DiscordantRepeat => "discordant_repeat_request",
            TradeError::CancelTimeout => "cancel_time_out",
            TradeError::CancelAfterRefund => "cancel_after_refund",
            TradeError::TotalFeeExceed => "total_fee_exceed",
            TradeError::InvalidParameter(_) => "invalid_parameter",
            TradeError::InsufficientBalance { .. } => "insufficient_balance",
            TradeError::UnknownBuyer(_) => "unknown_buyer",
            TradeError::WrongPassword => "wrong_password",
            TradeError::AlipayCertNotExist => "alipay_cert_not_exist",
            TradeError::AuthCodeInvalid => "payment_auth_code_invalid",
        }
    }
}

/// What happens when the merchant scans a buyer's payment code (付款码) in the sandbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BarcodeOutcome {
    /// The payment goes through at once (`10000`).
    PayNow,
    /// The buyer must confirm on the phone first (`10003`), as Alipay asks for large amounts:
    /// the trade waits, and the buyer pays it at the cashier (`/cashier/{trade_no}`) or through
    /// the test API.
    WaitForBuyer,
}

/// Reads an `auth_code`: like Alipay's, 16 to 24 digits starting 25 to 30. Codes starting `29`
/// wait for the buyer's confirmation; the others pay at once.
pub fn read_auth_code(auth_code: &str) -> Result<BarcodeOutcome, TradeError> {
    let digits = auth_code.bytes().all(|b| b.is_ascii_digit());
    if !digits || !(16..=24).contains(&auth_code.len()) || !("25".."31").contains(&&auth_code[..2])
    {
        return Err(TradeError::AuthCodeInvalid);
    }
    Ok(if auth_code.starts_with("29") {
        BarcodeOutcome::WaitForBuyer
    } else {
        BarcodeOutcome::PayNow
    })
}

/// How long after creation a paid trade can still be cancelled.
pub const CANCEL_WINDOW: Duration = Duration::from_secs(24 * 60 * 60);

impl Trade {
    /// A new trade for `order`. Page, wap and app trades start `WAIT_BUYER_PAY` (the buyer is
    /// looking at the cashier), as do created and barcode ones (the buyer is about to pay);
    /// precreated ones start invisible until the QR code is scanned.
    pub fn new(
        app_id: &str,
        order: &Order,
        trade_no: String,
        qr_token: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Trade, TradeError> {
        let expires_at = order.deadline(now)?;
        Ok(Trade {
            app_id: app_id.to_owned(),
            out_trade_no: order.out_trade_no.clone(),
            trade_no,
            origin: order.origin,
            state: match order.origin {
                Origin::Precreate => TradeState::Created,
                Origin::Page
                | Origin::Wap
                | Origin::Legacy
                | Origin::App
                | Origin::Create
                | Origin::Barcode => TradeState::WaitBuyerPay,
            },
            total_amount: order.total_amount,
            subject: order.subject.clone(),
            body: order.body.clone(),
            product_code: order.product_code.clone(),
            passback_params: order.passback_params.clone(),
            notify_url: order.notify_url.clone(),
            return_url: order.return_url.clone(),
            quit_url: order.quit_url.clone(),
            timeout_express: order.timeout_express.clone(),
            time_expire: order.time_expire.clone(),
            qr_token,
            expires_at,
            gmt_create: now,
            gmt_payment: None,
            gmt_close: None,
            close_reason: None,
            payer: None,
            refund_fee: Money::ZERO,
            warning: None,
        })
    }

    /// The state Alipay's APIs report: `None` while the buyer has not opened the trade.
    #[must_use]
    pub fn visible_state(&self) -> Option<TradeState> {
        (self.state != TradeState::Created).then_some(self.state)
    }

    /// Whether the buyer has paid (`TRADE_SUCCESS`, `TRADE_FINISHED`, or refunded after paying).
    #[must_use]
    pub fn is_paid(&self) -> bool {
        self.gmt_payment.is_some()
    }

    /// Another page/wap (`reopen = true`) or precreate (`reopen = false`) request for the same
    /// `out_trade_no`: same details reuse the trade (a page cashier restarts its countdown and
    /// may reopen a trade that timed out); different details are refused as at Alipay.
    pub fn reinvoke(
        &mut self,
        order: &Order,
        now: OffsetDateTime,
        reopen: bool,
    ) -> Result<(), TradeError> {
        // A barcode charge or a created trade is its own trade: never one opened another way.
        let same_kind = !matches!(order.origin, Origin::Barcode | Origin::Create)
            || self.origin == order.origin;
        let same =
            same_kind && self.total_amount == order.total_amount && self.subject == order.subject;
        match self.state {
            TradeState::TradeSuccess | TradeState::TradeFinished => Err(TradeError::HasSuccess),
            TradeState::TradeClosed if !same => Err(TradeError::ContextInconsistent),
            TradeState::TradeClosed
                if !(reopen && self.close_reason == Some(CloseReason::Timeout)) =>
            {
                Err(TradeError::HasClose)
            }
            _ if !same => Err(TradeError::ContextInconsistent),
            _ => {
                if reopen {
                    self.expires_at = order.deadline(now)?;
                    self.state = TradeState::WaitBuyerPay;
                    self.gmt_close = None;
                    self.close_reason = None;
                    self.origin = order.origin;
                    self.timeout_express = order.timeout_express.clone();
                    self.time_expire = order.time_expire.clone();
                }
                // The latest request's callbacks win, as the merchant's latest intent.
                if order.notify_url.is_some() {
                    self.notify_url = order.notify_url.clone();
                }
                if order.return_url.is_some() {
                    self.return_url = order.return_url.clone();
                }
                if order.quit_url.is_some() {
                    self.quit_url = order.quit_url.clone();
                }
                Ok(())
            }
        }
    }

    /// Closes an unpaid trade whose window has passed. Returns whether it did.
    pub fn expire_if_due(&mut self, now: OffsetDateTime) -> bool {
        let unpaid = matches!(self.state, TradeState::Created | TradeState::WaitBuyerPay);
        if unpaid && now >= self.expires_at {
            self.close_now(CloseReason::Timeout, now);
            true
        } else {
            false
        }
    }

    /// Closes an unpaid trade now, as a timeout would (test control).
    pub fn expire_now(&mut self, now: OffsetDateTime) -> Result<(), TradeError> {
        match self.state {
            TradeState::Created | TradeState::WaitBuyerPay => {
                self.expires_at = now;
                self.close_now(CloseReason::Timeout, now);
                Ok(())
            }
            other => Err(TradeError::StatusError(other.as_str())),
        }
    }

    /// The buyer scanned the QR code: a precreated trade becomes visible.
    pub fn open(&mut self) {
        if self.state == TradeState::Created {
            self.state = TradeState::WaitBuyerPay;
        }
    }

    /// Whether the buyer can still pay (checked before anything about the buyer).
    pub fn payable(&self) -> Result<(), TradeError> {
        match self.state {
            TradeState::Created | TradeState::WaitBuyerPay => Ok(()),
            TradeState::TradeSuccess | TradeState::TradeFinished => Err(TradeError::HasSuccess),
            TradeState::TradeClosed => Err(TradeError::HasClose),
        }
    }

    /// The buyer pays from a balance of `balance`.
    pub fn pay(
        &mut self,
        payer: Payer,
        balance: Money,
        now: OffsetDateTime,
    ) -> Result<(), TradeError> {
        self.payable()?;
        if balance < self.total_amount {
            return Err(TradeError::InsufficientBalance {
                balance,
                amount: self.total_amount,
            });
        }
        self.state = TradeState::TradeSuccess;
        self.gmt_payment = Some(now);
        self.payer = Some(payer);
        Ok(())
    }

    /// `alipay.trade.close`: only an unpaid, visible trade closes.
    pub fn close(&mut self, now: OffsetDateTime) -> Result<(), TradeError> {
        match self.state {
            TradeState::Created => Err(TradeError::NotExist),
            TradeState::WaitBuyerPay => {
                self.close_now(CloseReason::Closed, now);
                Ok(())
            }
            other => Err(TradeError::StatusError(other.as_str())),
        }
    }

    /// `alipay.trade.cancel`: closes an unpaid trade, refunds a paid one in full (within 24 h
    /// of creation and before any partial refund); repeating it changes nothing.
    pub fn cancel(&mut self, now: OffsetDateTime) -> Result<CancelOutcome, TradeError> {
        match self.state {
            TradeState::Created | TradeState::WaitBuyerPay => {
                // A precreated trade nobody scanned was never visible: nothing to tell anyone.
                let notify = self.state == TradeState::WaitBuyerPay;
                self.close_now(CloseReason::Cancelled, now);
                Ok(CancelOutcome {
                    action: "close",
                    refund: None,
                    notify,
                })
            }
            TradeState::TradeSuccess => {
                if self.refund_fee > Money::ZERO {
                    return Err(TradeError::CancelAfterRefund);
                }
                if now - self.gmt_create > CANCEL_WINDOW {
                    return Err(TradeError::CancelTimeout);
                }
                let refund = Refund {
                    out_request_no: self.out_trade_no.clone(),
                    amount: self.total_amount,
                    reason: None,
                    gmt_refund: now,
                };
                self.refund_fee = self.total_amount;
                self.close_now(CloseReason::Refunded, now);
                Ok(CancelOutcome {
                    action: "refund",
                    refund: Some(refund),
                    notify: true,
                })
            }
            TradeState::TradeClosed => Ok(CancelOutcome {
                action: if self.refund_fee > Money::ZERO {
                    "refund"
                } else {
                    "close"
                },
                refund: None,
                notify: false,
            }),
            TradeState::TradeFinished => Err(TradeError::HasFinished),
        }
    }

    /// `alipay.trade.refund`, given the trade's earlier refunds.
    pub fn refund(
        &mut self,
        earlier: &[Refund],
        request: &RefundRequest,
        now: OffsetDateTime,
    ) -> Result<RefundOutcome, TradeError> {
        let out_request_no = request
            .out_request_no
            .clone()
            .unwrap_or_else(|| self.out_trade_no.clone());
        if let Some(previous) = earlier.iter().find(|r| r.out_request_no == out_request_no) {
            return if previous.amount == request.amount {
                Ok(RefundOutcome {
                    refund: previous.clone(),
                    fund_change: false,
                })
            } else {
                Err(TradeError::DiscordantRepeat)
            };
        }
        match self.state {
            TradeState::TradeSuccess => {}
            TradeState::TradeFinished => return Err(TradeError::HasFinished),
            TradeState::Created => return Err(TradeError::NotExist),
            other => return Err(TradeError::StatusError(other.as_str())),
        }
        if request.amount == Money::ZERO {
            return Err(TradeError::InvalidParameter(
                "refund_amount must be at least 0.01".into(),
            ));
        }
        if request.out_request_no.is_none() && request.amount != self.total_amount {
            return Err(TradeError::RefundAmountNotEqualTotal);
        }
        let refunded = self
            .refund_fee
            .checked_add(request.amount)
            .filter(|total| *total <= self.total_amount)
            .ok_or(TradeError::RefundFeeExceeded)?;
        self.refund_fee = refunded;
        if refunded == self.total_amount {
            self.close_now(CloseReason::Refunded, now);
        }
        Ok(RefundOutcome {
            refund: Refund {
                out_request_no,
                amount: request.amount,
                reason: request.reason.clone(),
                gmt_refund: now,
            },
            fund_change: true,
        })
    }

    fn close_now(&mut self, reason: CloseReason, now: OffsetDateTime) {
        self.state = TradeState::TradeClosed;
        self.gmt_close = Some(now);
        self.close_reason = Some(reason);
    }
}

impl fmt::Display for TradeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payment_codes() {
        assert_eq!(
            read_auth_code("281234567890123456"),
            Ok(BarcodeOutcome::PayNow)
        );
        assert_eq!(
            read_auth_code("291234567890123456"),
            Ok(BarcodeOutcome::WaitForBuyer)
        );
        for bad in [
            "",
            "31123456789012345",
            "2812345678901",
            "28123456789012345x",
            "２８12345678901234",
        ] {
            assert_eq!(
                read_auth_code(bad),
                Err(TradeError::AuthCodeInvalid),
                "{bad}"
            );
        }
    }
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2024-05-01 12:00:00 +8);

    fn order(origin: Origin, amount: i64) -> Order {
        Order {
            origin,
            out_trade_no: "ORDER_1".into(),
            total_amount: Money::from_fen(amount),
            subject: "课程".into(),
            body: None,
            product_code: None,
            passback_params: None,
            notify_url: Some("https://shop.example/notify".into()),
            return_url: None,
            quit_url: None,
            timeout_express: None,
            time_expire: None,
        }
    }

    fn payer() -> Payer {
        Payer {
            user_id: "2088102177846880".into(),
            logon_id: "buyer@sandbox.com".into(),
        }
    }

    fn paid(amount: i64) -> Trade {
        let mut trade =
            Trade::new("1", &order(Origin::Page, amount), "T".into(), None, NOW).unwrap();
        trade.pay(payer(), Money::from_yuan(1000), NOW).unwrap();
        trade
    }

    fn refund(no: Option<&str>, fen: i64) -> RefundRequest {
        RefundRequest {
            out_request_no: no.map(str::to_owned),
            amount: Money::from_fen(fen),
            reason: None,
        }
    }

    #[test]
    fn deadlines() {
        let mut o = order(Origin::Page, 1);
        assert_eq!(o.deadline(NOW).unwrap(), NOW + DEFAULT_WINDOW);
        o.timeout_express = Some("90m".into());
        assert_eq!(o.deadline(NOW).unwrap(), datetime!(2024-05-01 13:30:00 +8));
        o.timeout_express = Some("1c".into());
        assert_eq!(o.deadline(NOW).unwrap(), datetime!(2024-05-02 00:00:00 +8));
        o.time_expire = Some("2024-05-01 12:10".into());
        assert_eq!(o.deadline(NOW).unwrap(), datetime!(2024-05-01 12:10:00 +8));
        for bad in ["0m", "16d", "1.5h", "m", "1x"] {
            o.timeout_express = Some(bad.into());
            assert!(o.deadline(NOW).is_err(), "{bad}");
        }
        o.timeout_express = None;
        o.time_expire = Some("2024-05-01 11:00:00".into());
        assert!(o.deadline(NOW).is_err());
    }

    #[test]
    fn page_trades_are_visible_precreated_ones_are_not() {
        let page = Trade::new("1", &order(Origin::Page, 1), "T".into(), None, NOW).unwrap();
        assert_eq!(page.visible_state(), Some(TradeState::WaitBuyerPay));
        let mut qr = Trade::new("1", &order(Origin::Precreate, 1), "T".into(), None, NOW).unwrap();
        assert_eq!(qr.visible_state(), None);
        assert_eq!(qr.close(NOW), Err(TradeError::NotExist));
        qr.open();
        assert_eq!(qr.visible_state(), Some(TradeState::WaitBuyerPay));
    }

    #[test]
    fn reinvoking_reuses_or_refuses() {
        let mut trade = Trade::new("1", &order(Origin::Page, 100), "T".into(), None, NOW).unwrap();
        assert!(trade.reinvoke(&order(Origin::Page, 100), NOW, true).is_ok());
        assert_eq!(
            trade.reinvoke(&order(Origin::Page, 200), NOW, true),
            Err(TradeError::ContextInconsistent)
        );
        // A page trade that timed out can be paid again by reopening the cashier.
        assert!(trade.expire_if_due(NOW + DEFAULT_WINDOW));
        assert_eq!(trade.state, TradeState::TradeClosed);
        trade
            .reinvoke(&order(Origin::Page, 100), NOW + DEFAULT_WINDOW, true)
            .unwrap();
        assert_eq!(trade.state, TradeState::WaitBuyerPay);
        // One closed by the merchant cannot.
        trade.close(NOW).unwrap();
        assert_eq!(
            trade.reinvoke(&order(Origin::Page, 100), NOW, true),
            Err(TradeError::HasClose)
        );
        let mut paid = paid(100);
        assert_eq!(
            paid.reinvoke(&order(Origin::Page, 100), NOW, true),
            Err(TradeError::HasSuccess)
        );
    }

    #[test]
    fn paying_needs_an_open_trade_and_enough_balance() {
        let mut trade = Trade::new("1", &order(Origin::Page, 200), "T".into(), None, NOW).unwrap();
        assert_eq!(
            trade.pay(payer(), Money::from_fen(100), NOW),
            Err(TradeError::InsufficientBalance {
                balance: Money::from_fen(100),
                amount: Money::from_fen(200)
            })
        );
        trade.pay(payer(), Money::from_fen(200), NOW).unwrap();
        assert_eq!(trade.state, TradeState::TradeSuccess);
        assert_eq!(
            trade.pay(payer(), Money::from_fen(200), NOW),
            Err(TradeError::HasSuccess)
        );
        assert_eq!(
            trade.close(NOW),
            Err(TradeError::StatusError("TRADE_SUCCESS"))
        );
    }

    #[test]
    fn refunds_are_partial_idempotent_and_bounded() {
        let mut trade = paid(10_000);
        let mut done = Vec::new();
        let first = trade
            .refund(&done, &refund(Some("R1"), 3_000), NOW)
            .unwrap();
        assert!(first.fund_change);
        done.push(first.refund);
        assert_eq!(trade.refund_fee, Money::from_fen(3_000));
        assert_eq!(trade.state, TradeState::TradeSuccess);
        // The same request again moves nothing.
        let again = trade
            .refund(&done, &refund(Some("R1"), 3_000), NOW)
            .unwrap();
        assert!(!again.fund_change);
        assert_eq!(trade.refund_fee, Money::from_fen(3_000));
        assert_eq!(
            trade.refund(&done, &refund(Some("R1"), 100), NOW),
            Err(TradeError::DiscordantRepeat)
        );
        assert_eq!(
            trade.refund(&done, &refund(Some("R2"), 7_001), NOW),
            Err(TradeError::RefundFeeExceeded)
        );
        assert_eq!(
            trade.refund(&done, &refund(None, 7_000), NOW),
            Err(TradeError::RefundAmountNotEqualTotal)
        );
        let last = trade
            .refund(&done, &refund(Some("R2"), 7_000), NOW)
            .unwrap();
        done.push(last.refund);
        assert_eq!(trade.state, TradeState::TradeClosed);
        assert_eq!(trade.close_reason, Some(CloseReason::Refunded));
        assert_eq!(
            trade.refund(&done, &refund(Some("R3"), 1), NOW),
            Err(TradeError::StatusError("TRADE_CLOSED"))
        );
    }

    #[test]
    fn refunding_unpaid_trades_is_refused() {
        let mut trade = Trade::new("1", &order(Origin::Page, 100), "T".into(), None, NOW).unwrap();
        assert_eq!(
            trade.refund(&[], &refund(None, 100), NOW),
            Err(TradeError::StatusError("WAIT_BUYER_PAY"))
        );
    }

    #[test]
    fn cancel_closes_or_refunds() {
        let mut unpaid = Trade::new("1", &order(Origin::Page, 100), "T".into(), None, NOW).unwrap();
        let outcome = unpaid.cancel(NOW).unwrap();
        assert_eq!((outcome.action, outcome.notify), ("close", true));
        assert!(!unpaid.cancel(NOW).unwrap().notify);
        let mut qr = Trade::new("1", &order(Origin::Precreate, 1), "T".into(), None, NOW).unwrap();
        let outcome = qr.cancel(NOW).unwrap();
        assert!(!outcome.notify);
        assert_eq!(qr.state, TradeState::TradeClosed);

        let mut trade = paid(100);
        let outcome = trade.cancel(NOW).unwrap();
        assert_eq!(outcome.action, "refund");
        assert_eq!(trade.refund_fee, Money::from_fen(100));
        assert_eq!(trade.state, TradeState::TradeClosed);

        let mut late = paid(100);
        assert_eq!(
            late.cancel(NOW + CANCEL_WINDOW + Duration::from_secs(1)),
            Err(TradeError::CancelTimeout)
        );
        let mut partly = paid(100);
        partly.refund(&[], &refund(Some("R"), 1), NOW).unwrap();
        assert_eq!(partly.cancel(NOW), Err(TradeError::CancelAfterRefund));
    }
}

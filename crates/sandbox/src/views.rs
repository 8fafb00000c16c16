//! The emulator's state as the test-control API and the dashboard show it: trades with their
//! refunds, notification deliveries and the notification queue, with times in Beijing time.

use serde::Serialize;

use crate::error::SandboxError;
use crate::store::{self, DeliveryRow, NotificationRow};
use crate::trades::{Refund, Trade};

/// A trade in the test-control API.
#[derive(Debug, Serialize)]
pub(crate) struct TradeView {
    app_id: String,
    out_trade_no: String,
    trade_no: String,
    method: &'static str,
    /// What Alipay's APIs report; `null` while a precreated trade is unscanned.
    trade_status: Option<&'static str>,
    /// The sandbox's state, `CREATED` included.
    state: &'static str,
    total_amount: String,
    subject: String,
    body: Option<String>,
    passback_params: Option<String>,
    buyer_logon_id: Option<String>,
    buyer_user_id: Option<String>,
    notify_url: Option<String>,
    return_url: Option<String>,
    gmt_create: String,
    gmt_payment: Option<String>,
    gmt_close: Option<String>,
    close_reason: Option<&'static str>,
    expires_at: String,
    refund_fee: String,
    warning: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refunds: Option<Vec<RefundView>>,
}

#[derive(Debug, Serialize)]
pub(crate) struct RefundView {
    out_request_no: String,
    refund_amount: String,
    refund_reason: Option<String>,
    gmt_refund: String,
}

impl TradeView {
    pub(crate) fn new(trade: &Trade, refunds: Option<&[Refund]>) -> TradeView {
        TradeView {
            app_id: trade.app_id.clone(),
            out_trade_no: trade.out_trade_no.clone(),
            trade_no: trade.trade_no.clone(),
            method: trade.origin.method(),
            trade_status: trade.state.wire(),
            state: trade.state.as_str(),
            total_amount: trade.total_amount.to_string(),
            subject: trade.subject.clone(),
            body: trade.body.clone(),
            passback_params: trade.passback_params.clone(),
            buyer_logon_id: trade.payer.as_ref().map(|p| p.logon_id.clone()),
            buyer_user_id: trade.payer.as_ref().map(|p| p.user_id.clone()),
            notify_url: trade.notify_url.clone(),
            return_url: trade.return_url.clone(),
            gmt_create: alipay::time::format(trade.gmt_create),
            gmt_payment: trade.gmt_payment.map(alipay::time::format),
            gmt_close: trade.gmt_close.map(alipay::time::format),
            close_reason: trade.close_reason.map(|r| r.as_str()),
            expires_at: alipay::time::format(trade.expires_at),
            refund_fee: trade.refund_fee.to_string(),
            warning: trade.warning.clone(),
            refunds: refunds.map(|refunds| {
                refunds
                    .iter()
                    .map(|r| RefundView {
                        out_request_no: r.out_request_no.clone(),
                        refund_amount: r.amount.to_string(),
                        refund_reason: r.reason.clone(),
                        gmt_refund: crate::messages::format_millis(r.gmt_refund),
                    })
                    .collect()
            }),
        }
    }
}

/// One delivery attempt in `GET /api/notifications`.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryView {
    id: i64,
    notification_id: i64,
    notify_id: String,
    app_id: String,
    out_trade_no: String,
    trade_status: String,
    notify_url: String,
    /// 1..=8 on the schedule, 0 for a manual redelivery.
    attempt: i64,
    /// The exact form body sent.
    body: String,
    /// The HTTP status received (`null`: no answer, see `error`).
    status: Option<i64>,
    /// The body received.
    response: Option<String>,
    error: Option<String>,
    fault: Option<String>,
    acknowledged: bool,
    attempted_at: String,
}

impl DeliveryView {
    pub(crate) fn new(row: DeliveryRow) -> Result<DeliveryView, SandboxError> {
        Ok(DeliveryView {
            attempted_at: crate::messages::format_millis(store::from_ms(row.attempted_ms)?),
            id: row.id,
            notification_id: row.notification_id,
            notify_id: row.notify_id,
            app_id: row.app_id,
            out_trade_no: row.out_trade_no,
            trade_status: row.trade_status,
            notify_url: row.notify_url,
            attempt: row.attempt,
            body: row.body,
            status: row.status,
            response: row.response,
            error: row.error,
            fault: row.fault,
            acknowledged: row.acknowledged,
        })
    }
}

#[derive(Debug, Serialize)]
pub(crate) struct NotificationView {
    id: i64,
    notify_id: String,
    app_id: String,
    out_trade_no: String,
    trade_status: String,
    notify_url: String,
    /// `pending`, `acknowledged` or `exhausted`.
    state: String,
    attempts: i64,
    next_attempt_at: Option<String>,
    created_at: String,
}

impl NotificationView {
    pub(crate) fn new(row: NotificationRow) -> Result<NotificationView, SandboxError> {
        Ok(NotificationView {
            next_attempt_at: row
                .next_attempt_ms
                .map(|ms| store::from_ms(ms).map(crate::messages::format_millis))
                .transpose()?,
            created_at: crate::messages::format_millis(store::from_ms(row.created_ms)?),
            id: row.id,
            notify_id: row.notify_id,
            app_id: row.app_id,
            out_trade_no: row.out_trade_no,
            trade_status: row.trade_status,
            notify_url: row.notify_url,
            state: row.state,
            attempts: row.attempts,
        })
    }
}

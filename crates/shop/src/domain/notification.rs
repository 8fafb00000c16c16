//! Notifications as the shop keeps them: every one, with its verdict.

/// A notification as kept.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Row id.
    pub id: i64,
    /// When it arrived (Unix ms).
    pub received_at: i64,
    /// The verdict.
    pub verdict: String,
    /// Its `notify_id`.
    pub notify_id: Option<String>,
    /// Its order.
    pub out_trade_no: Option<String>,
    /// Its `trade_status`.
    pub trade_status: Option<String>,
    /// Why.
    pub detail: String,
    /// The body as kept (a rejected one cut to 8 KiB).
    pub body: Vec<u8>,
    /// The whole body's length.
    pub body_len: Option<i64>,
}

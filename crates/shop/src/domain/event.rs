//! The audit trail: every state change, anomaly and operator action on an order, with what
//! caused it.

/// One entry of an order's timeline.
#[derive(Clone, Debug)]
pub struct Event {
    /// `paid`, `cancelled`, `timeout_cancelled`, `refunded`, `anomaly`, ...
    pub kind: String,
    /// `notify`, `return`, `reconcile`, `timeout`, `admin`, `buyer`.
    pub source: String,
    /// The operator who acted, for operator actions.
    pub actor_id: Option<i64>,
    /// Free text.
    pub detail: String,
    /// When (ms).
    pub created_at: i64,
}

//! Fulfilment: the courses a buyer owns, and through which order.

/// A course a user owns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrollment {
    /// The course.
    pub course_id: i64,
    /// Its title.
    pub course_name: String,
    /// The order that gives it.
    pub out_trade_no: String,
    /// Since when (Unix ms).
    pub granted_at: i64,
}

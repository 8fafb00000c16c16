//! The shop's entities and rules, free of HTTP and SQL: orders and their transitions, refunds and
//! what they give back, the one mapping of Alipay's trade statuses, checkout pricing, the catalog,
//! enrolments, users and roles, anomalies, identifiers. Everything here is pure and unit-tested.

pub mod anomaly;
pub mod catalog;
pub mod checkout;
pub mod enrollment;
pub mod event;
pub mod ids;
pub mod notification;
pub mod order;
pub mod refund;
pub mod settlement;
pub mod time;
pub mod trade;
pub mod user;

pub use alipay::Money;
pub use anomaly::{Anomaly, AnomalyKind};
pub use catalog::{Course, CourseDetails, CourseDraft, Lesson};
pub use enrollment::Enrollment;
pub use event::Event;
pub use order::{Item, Order, OrderStatus, Transition};
pub use refund::{Refund, RefundItem, RefundOrigin, RefundStatus};
pub use user::{Role, User};

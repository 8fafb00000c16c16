//! The shop's rules, free of HTTP and SQL: order states and their transitions, checkout pricing,
//! identifiers, user names and passwords. Everything here is pure and unit-tested.

pub mod checkout;
pub mod ids;
pub mod order;
pub mod user;

pub use alipay::Money;
pub use order::{OrderStatus, Transition};

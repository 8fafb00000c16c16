//! The course shop: a catalog of courses, orders priced on the server, Alipay checkout with
//! verified notifications, reconciliation, timeouts and refunds, on SQLite or PostgreSQL.
//!
//! # Layout
//! * [`config`]: [`Config`], from a TOML file and `SHOP_*` variables.
//! * [`domain`]: order states and transitions, checkout pricing, ids, users. Pure.
//! * [`store`]: all SQL, one dialect for SQLite and PostgreSQL.
//! * [`payments`]: the use cases, and [`payments::apply`], the one path every order status
//!   change takes.
//! * [`jobs`]: reconciliation, timeout close, and the outbox of calls to Alipay.
//! * [`http`]: routes, extractors, JSON shapes, errors; the seeds' compatibility routes.
//! * [`app`]: assembling and serving it all; the built-in sandbox in demo mode.

pub mod app;
pub mod config;
pub mod context;
pub mod domain;
pub mod http;
pub mod jobs;
pub mod payments;
pub mod store;

pub use app::Application;
pub use config::Config;

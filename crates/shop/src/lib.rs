//! The course shop: a catalog of courses, orders priced on the server, Alipay checkout with
//! verified notifications, reconciliation, timeouts and refunds, on SQLite or PostgreSQL.
//!
//! # Layout
//! * [`config`]: [`Config`], from a TOML file and `SHOP_*` variables.
//! * [`domain`]: order states and transitions, checkout pricing, ids, users. Pure.
//! * [`store`]: all SQL, one dialect for SQLite and PostgreSQL.
//! * [`payments`]: the payment use cases (checkout, confirmation, notifications, refunds, the
//!   outbox), and [`payments::apply`], the one path every order status change takes.
//! * [`accounts`], [`catalog`], [`operations`]: the other use cases (users and operators, the
//!   catalog, readiness and gauges).
//! * [`jobs`]: loops that call the use cases on a schedule.
//! * [`http`]: routes, extractors, JSON shapes, errors; the seeds' compatibility routes. It
//!   calls use cases only, never [`store`].
//! * [`app`]: assembling and serving it all; the built-in sandbox in demo mode.

pub mod accounts;
pub mod app;
pub mod backoffice;
pub mod catalog;
pub mod config;
pub mod context;
pub mod domain;
pub mod hashers;
pub mod http;
pub mod jobs;
pub mod log;
pub mod operations;
pub mod payments;
pub mod store;

#[cfg(test)]
mod layering;

pub use app::Application;
pub use config::Config;

//! The shop over real HTTP on 127.0.0.1, with its built-in sandbox standing in for Alipay.

#![allow(clippy::unwrap_used)] // Tests and benches fail loudly on purpose.

mod helpers;

mod auth;
mod authority;
mod backoffice;
mod compat;
mod crash;
mod group_commit;
mod guardrails;
mod limits;
mod notify;
mod purchase;
mod recovery;
mod refunds;
mod resilience;
mod scale_out;
mod settlement;

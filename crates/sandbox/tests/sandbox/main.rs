//! Integration tests: every path of the emulator driven over real HTTP on 127.0.0.1, with this
//! workspace's `alipay::Client` as the merchant (so both sides agree on every byte).
//!
//! One test binary (modules below) so linking happens once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod aes;
mod apis;
mod barcode;
mod bills;
mod cashier;
mod certmode;
mod control;
mod doctor;
mod extractor;
mod faults;
mod gateway;
mod helpers;
mod legacy;
mod notifications;
mod readme;

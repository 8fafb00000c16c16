//! Alipay web payments for Rust: `alipay.trade.page.pay` and `alipay.trade.wap.pay` pay links,
//! notification and return verification, and the trade APIs, byte-compatible with
//! python-alipay-sdk and Alipay's official Node SDK.
//!
//! ```
//! use alipay::{Client, Money, PrivateKey, PublicKey, WebPay};
//!
//! # let app_private_key = PrivateKey::generate()?.to_pkcs8_base64();
//! # let alipay_public_key = PrivateKey::generate()?.public_key().to_base64();
//! // Keys as Alipay's key tool and console give them: bare base64, PEM, PKCS#1 or PKCS#8.
//! let client = Client::builder("2021000000000001", PrivateKey::parse(&app_private_key)?, PublicKey::parse(&alipay_public_key)?)
//!     .notify_url("https://shop.example.com/alipay/notify")
//!     .build()?;
//! let pay_url = client.web_pay(&WebPay::page("ORDER_42", "138.00".parse()?, "Rust 入门课"))?.url();
//! # assert!(pay_url.contains("sign="));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! A query and a refund, deciding only on what verified:
//!
//! ```no_run
//! use alipay::api::{RefundQuery, TradeQuery, TradeRef, TradeRefund};
//! use alipay::{Client, Money};
//!
//! # async fn run(client: Client) -> Result<(), alipay::Error> {
//! let trade = client.execute(&TradeQuery::by_out_trade_no("ORDER_42")).await?;
//! if trade.trade_status.is_paid() { /* fulfil, once */ }
//!
//! // Idempotent by its request number: on an unknown outcome, ask (or send it again with the
//! // same number); never read it as a "no".
//! let order = TradeRef::out_trade_no("ORDER_42");
//! let refund = TradeRefund::new(order.clone(), Money::from_fen(13800), "R1");
//! match client.execute(&refund).await {
//!     Ok(done) => println!("refunded, money moved: {:?}", done.fund_change),
//!     Err(e) if e.is_verified_refusal() => println!("refused: {:?}", e.verified_sub_code()),
//!     Err(e) if e.is_outcome_unknown() => {
//!         let asked = client.execute(&RefundQuery::new(order, "R1")).await?;
//!         println!("refunded: {}", asked.is_refunded());
//!     }
//!     Err(e) => return Err(e),
//! }
//! # Ok(()) }
//! ```
//!
//! # Layout
//! * [`money`]: [`Money`], an integer count of fen that prints as `"138.00"`.
//! * [`keys`]: [`PrivateKey`], [`PublicKey`] in every form; RSA2/RSA signatures; the [`Signer`] trait.
//! * [`content`]: the exact strings Alipay signs, and the URL encoding around them.
//! * [`request`]: [`SignedRequest`] (URL, auto-submit form, POST body) and [`Gateway`].
//! * [`pay`]: [`WebPay`], the payment the buyer makes in a cashier: page, wap, or app (a signed
//!   order string for the Alipay app SDK).
//! * [`json`]: how `biz_content` spells non-ASCII text ([`json::JsonText`]).
//! * [`barcode`]: [`Client::barcode_pay`], charging a payment code with Alipay's query-then-cancel
//!   loop.
//! * [`notify`]: verifying notifications and returns; [`TradeStatus`]; [`ack`].
//! * [`response`]: slicing and verifying gateway responses over their raw text.
//! * [`api`]: typed trade APIs (query, close, cancel, refund, refund query, precreate, create,
//!   pay).
//! * [`time`]: Beijing time, whatever the server's zone.
//! * [`cert`], [`cert_mode`]: certificate SNs, chains, and certificate mode ([`CertMode`]).
//! * [`config`]: [`config::AlipayConfig`], the `[alipay]` table of the shop and the CLI.
//! * `legacy` (feature `legacy`): the retired MD5 `create_direct_pay_by_user` interface
//!   (deprecated).
//!
//! # Features
//! * `legacy`: the retired MD5 interface and `[alipay.legacy]`.
//! * `bill`: downloading and reading the daily trade statement (对账单), with zip, GBK and CSV
//!   readers.
//! * `toml`: [`config::AlipayConfig::from_file`].
//! * `axum`: `extract::VerifiedNotification`, an extractor that hands a notify handler only
//!   notifications that verified, for this app.
//!
//! The `alipay` command line (`keygen`, `sign`, `verify`, `pay-url`, `doctor`) is the
//! `alipay-cli` crate: the SDK itself has no CLI, no TOML parser and no runtime of its own.

#![deny(missing_docs)]

pub mod aes;
pub mod api;
pub mod barcode;
#[cfg(feature = "bill")]
pub mod bill;
pub mod cert;
pub mod cert_mode;
mod client;
pub mod config;
pub mod content;
mod der;
mod error;
#[cfg(feature = "axum")]
pub mod extract;
mod fields;
pub mod json;
pub mod keys;
#[cfg(feature = "legacy")]
pub mod legacy;
pub mod money;
pub mod notify;
pub mod pay;
pub mod request;
pub mod response;
pub mod time;

pub use cert_mode::CertMode;
pub use client::{Client, ClientBuilder, Retry};
pub use error::{ApiError, Error, SignatureError, TransportError, VerifyError};
pub use fields::FieldError;
pub use keys::{KeyError, PrivateKey, PublicKey, SignType, Signer};
pub use money::{Money, MoneyError, SignedMoney};
pub use notify::{Notification, ReturnParams, TradeStatus, ack};
pub use pay::{GoodsDetail, PayKind, WebPay};
pub use request::{Gateway, SignedRequest};

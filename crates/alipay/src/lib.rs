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
//! # Layout
//! * [`money`]: [`Money`], an integer count of fen that prints as `"138.00"`.
//! * [`keys`]: [`PrivateKey`], [`PublicKey`] in every form; RSA2/RSA signatures; the [`Signer`] trait.
//! * [`content`]: the exact strings Alipay signs, and the URL encoding around them.
//! * [`request`]: [`SignedRequest`] (URL, auto-submit form, POST body) and [`Gateway`].
//! * [`pay`]: [`WebPay`], the typed pay-link request.
//! * [`notify`]: verifying notifications and returns; [`TradeStatus`]; [`ack`].
//! * [`response`]: slicing and verifying gateway responses over their raw text.
//! * [`api`]: typed trade APIs (query, close, cancel, refund, refund query, precreate).
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

pub mod api;
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

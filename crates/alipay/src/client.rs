//! The client: one merchant app's configuration, signing requests and verifying what comes back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::api::ApiRequest;
use crate::content::Params;
use crate::error::{Error, SignatureError, TransportError, VerifyError};
use crate::keys::{PublicKey, SignType, Signer};
use crate::notify::{self, Notification, ReturnParams};
use crate::pay::WebPay;
use crate::request::{Gateway, SignedRequest, check_callback_url};
use crate::response;

/// An Alipay app: signs requests with the app private key and verifies responses,
/// notifications and returns with the Alipay public key. Cheap to clone.
///
/// ```
/// use alipay::{Client, Gateway, Money, PrivateKey, PublicKey, WebPay};
/// # let app_key = PrivateKey::generate().unwrap();
/// # let alipay_key = PrivateKey::generate().unwrap().public_key().clone();
/// let client = Client::builder("2021000000000001", app_key, alipay_key)
///     .gateway(Gateway::Sandbox)
///     .notify_url("https://shop.example.com/alipay/notify")
///     .return_url("https://shop.example.com/alipay/return")
///     .build()?;
/// let link = client.web_pay(&WebPay::page("ORDER_42", Money::from_fen(13_800), "Rust 入门课"))?;
/// assert!(link.url().starts_with("https://openapi-sandbox.dl.alipaydev.com/gateway.do?app_id="));
/// # Ok::<(), alipay::Error>(())
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    app_id: String,
    signer: Arc<dyn Signer>,
    sign_type: SignType,
    alipay_public_key: PublicKey,
    gateway: Gateway,
    notify_url: Option<String>,
    return_url: Option<String>,
    extra_params: Params,
    http: reqwest::Client,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("app_id", &self.inner.app_id)
            .field("sign_type", &self.inner.sign_type)
            .field("gateway", &self.inner.gateway)
            .field("alipay_public_key", &self.inner.alipay_public_key)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    app_id: String,
    signer: Arc<dyn Signer>,
    alipay_public_key: PublicKey,
    sign_type: SignType,
    gateway: Gateway,
    notify_url: Option<String>,
    return_url: Option<String>,
    extra_params: Params,
    timeout: Duration,
    connect_timeout: Duration,
    http: Option<reqwest::Client>,
}

impl Client {
    /// Starts a client for `app_id`, signing with `app_private_key` (a [`PrivateKey`] or any
    /// [`Signer`]) and trusting `alipay_public_key`.
    pub fn builder(
        app_id: impl Into<String>,
        app_private_key: impl Signer + 'static,
        alipay_public_key: PublicKey,
    ) -> ClientBuilder {
        ClientBuilder {
            app_id: app_id.into(),
            signer: Arc::new(app_private_key),
            alipay_public_key,
            sign_type: SignType::Rsa2,
            gateway: Gateway::Production,
            notify_url: None,
            return_url: None,
            extra_params: Params::new(),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            http: None,
        }
    }

    /// The app id.
    #[must_use]
    pub fn app_id(&self) -> &str {
        &self.inner.app_id
    }

    /// The signature algorithm.
    #[must_use]
    pub fn sign_type(&self) -> SignType {
        self.inner.sign_type
    }

    /// The gateway.
    #[must_use]
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    /// The Alipay public key responses and notifications are verified with.
    #[must_use]
    pub fn alipay_public_key(&self) -> &PublicKey {
        &self.inner.alipay_public_key
    }

    /// The common parameters of a request to `method` at `timestamp`, unsigned.
    #[must_use]
    pub fn common_params(&self, method: &str, timestamp: OffsetDateTime) -> Params {
        let mut params = self.inner.extra_params.clone();
        for (k, v) in [
            ("app_id", self.inner.app_id.as_str()),
            ("method", method),
            ("charset", "utf-8"),
            ("sign_type", self.inner.sign_type.as_str()),
            ("version", "1.0"),
        ] {
            params.insert(k.to_owned(), v.to_owned());
        }
        params.insert("timestamp".into(), crate::time::format(timestamp));
        params
    }

    /// Signs arbitrary parameters for this app's gateway.
    pub fn sign(&self, params: Params) -> Result<SignedRequest, Error> {
        SignedRequest::sign(
            params,
            &*self.inner.signer,
            self.inner.sign_type,
            self.inner.gateway.url(),
        )
    }

    /// The unsigned parameters of a web payment at `timestamp`.
    pub fn web_pay_params(
        &self,
        order: &WebPay,
        timestamp: OffsetDateTime,
    ) -> Result<Params, Error> {
        order.validate()?;
        let mut params = self.common_params(order.kind().method(), timestamp);
        params.insert("biz_content".into(), order.biz_content()?);
        let notify_url = order
            .notify_url_override()
            .or(self.inner.notify_url.as_deref());
        let return_url = order
            .return_url_override()
            .or(self.inner.return_url.as_deref());
        if let Some(url) = notify_url {
            params.insert("notify_url".into(), url.to_owned());
        }
        if let Some(url) = return_url {
            params.insert("return_url".into(), url.to_owned());
        }
        Ok(params)
    }

    /// A signed pay link for `alipay.trade.page.pay` / `alipay.trade.wap.pay`: send the browser to
    /// [`SignedRequest::url`] or serve [`SignedRequest::form_html`].
    pub fn web_pay(&self, order: &WebPay) -> Result<SignedRequest, Error> {
        self.sign(self.web_pay_params(order, crate::time::now())?)
    }

    /// Calls a server API and returns its verified, typed response.
    pub async fn execute<R: ApiRequest>(&self, request: &R) -> Result<R::Response, Error> {
        let signed = self.sign_api_request(request, crate::time::now())?;
        let body = self.post(R::METHOD, &signed).await?;
        self.read_response(R::METHOD, &body)
    }

    /// Builds and signs a server API request without sending it.
    pub fn sign_api_request<R: ApiRequest>(
        &self,
        request: &R,
        timestamp: OffsetDateTime,
    ) -> Result<SignedRequest, Error> {
        request.validate()?;
        let mut params = self.common_params(R::METHOD, timestamp);
        let biz_content = serde_json::to_string(request)
            .map_err(|e| Error::InvalidRequest(format!("biz_content: {e}")))?;
        params.insert("biz_content".into(), biz_content);
        if let Some(url) = request.notify_url() {
            check_callback_url("notify_url", url)?;
            params.insert("notify_url".into(), url.to_owned());
        }
        self.sign(params)
    }

    /// Verifies a response body of `method` and parses its node.
    ///
    /// The signature is checked over the node's exact text before anything in it is trusted; an
    /// `error_response` from the gateway becomes [`Error::Gateway`], a signed error node
    /// [`Error::Api`].
    pub fn read_response<T: DeserializeOwned>(&self, method: &str, body: &str) -> Result<T, Error> {
        let signature_error = |kind| Error::Signature {
            method: method.to_owned(),
            kind,
        };
        let envelope = response::envelope(body, method).map_err(signature_error)?;
        let decode_error = |e: serde_json::Error| Error::Decode {
            method: method.to_owned(),
            detail: e.to_string(),
        };
        if envelope.is_error_response {
            let error = match response::status(envelope.node).map_err(decode_error)? {
                Ok(()) => {
                    return Err(signature_error(SignatureError::Malformed(
                        "error_response with code 10000".into(),
                    )));
                }
                Err(error) => error,
            };
            return Err(Error::Gateway {
                method: method.to_owned(),
                error: Box::new(error),
            });
        }
        response::verify_node(
            &envelope,
            &self.inner.alipay_public_key,
            self.inner.sign_type,
        )
        .map_err(signature_error)?;
        if let Err(error) = response::status(envelope.node).map_err(decode_error)? {
            return Err(Error::Api {
                method: method.to_owned(),
                error: Box::new(error),
            });
        }
        serde_json::from_str(envelope.node).map_err(decode_error)
    }

    async fn post(&self, method: &str, signed: &SignedRequest) -> Result<String, Error> {
        let transport = |kind| Error::Transport {
            method: method.to_owned(),
            kind,
        };
        let url = signed.gateway();
        let separator = if url.contains('?') { '&' } else { '?' };
        let response = self
            .inner
            .http
            .post(format!("{url}{separator}charset=utf-8"))
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded;charset=utf-8",
            )
            .body(signed.query_string())
            .send()
            .await
            .map_err(|e| transport(classify(&e)))?;
        if response.status() != reqwest::StatusCode::OK {
            return Err(transport(TransportError::Status(
                response.status().as_u16(),
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(classify(&e)))?;
        String::from_utf8(bytes.to_vec()).map_err(|_| Error::Signature {
            method: method.to_owned(),
            kind: SignatureError::Malformed("response is not UTF-8".into()),
        })
    }

    /// Verifies an asynchronous notification (the raw POST body) and returns it typed.
    pub fn verify_notification(&self, body: &[u8]) -> Result<Notification, VerifyError> {
        notify::verify_notification(body, &self.inner.alipay_public_key, self.inner.sign_type)
    }

    /// Verifies the browser's return (the raw query string) and returns it typed.
    pub fn verify_return(&self, query: &str) -> Result<ReturnParams, VerifyError> {
        notify::verify_return(query, &self.inner.alipay_public_key, self.inner.sign_type)
    }
}

fn classify(error: &reqwest::Error) -> TransportError {
    if error.is_timeout() {
        TransportError::Timeout
    } else if error.is_connect() {
        TransportError::Connect(error.to_string())
    } else {
        TransportError::Other(error.to_string())
    }
}

impl ClientBuilder {
    /// The gateway (default: production).
    pub fn gateway(mut self, gateway: Gateway) -> ClientBuilder {
        self.gateway = gateway;
        self
    }

    /// The signature algorithm (default: RSA2).
    pub fn sign_type(mut self, sign_type: SignType) -> ClientBuilder {
        self.sign_type = sign_type;
        self
    }

    /// The default `notify_url` of pay links.
    pub fn notify_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.notify_url = Some(url.into());
        self
    }

    /// The default `return_url` of pay links.
    pub fn return_url(mut self, url: impl Into<String>) -> ClientBuilder {
        self.return_url = Some(url.into());
        self
    }

    /// A common parameter sent (and signed) with every request, e.g. `app_auth_token`.
    pub fn common_param(
        mut self,
        key: impl Into<String>,
        value: impl Into<String>,
    ) -> ClientBuilder {
        self.extra_params.insert(key.into(), value.into());
        self
    }

    /// Total time allowed for one API call (default 15 s).
    pub fn timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.timeout = timeout;
        self
    }

    /// Time allowed to connect (default 5 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> ClientBuilder {
        self.connect_timeout = timeout;
        self
    }

    /// Uses this HTTP client (its own timeouts apply) instead of building one.
    pub fn http_client(mut self, client: reqwest::Client) -> ClientBuilder {
        self.http = Some(client);
        self
    }

    /// Checks the configuration and builds the client.
    pub fn build(self) -> Result<Client, Error> {
        if self.app_id.is_empty() || !self.app_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::Config(format!(
                "app_id {:?} must be the digits of your Alipay app id",
                self.app_id
            )));
        }
        if self.sign_type == SignType::Rsa2 && self.alipay_public_key.bits() < 2048 {
            return Err(Error::Key {
                which: "Alipay public key",
                source: crate::KeyError::TooShort {
                    bits: Some(self.alipay_public_key.bits()),
                },
            });
        }
        for (which, url) in [
            ("notify_url", &self.notify_url),
            ("return_url", &self.return_url),
        ] {
            if let Some(url) = url {
                check_callback_url(which, url).map_err(|e| Error::Config(e.to_string()))?;
            }
        }
        let http = match self.http {
            Some(http) => http,
            None => reqwest::Client::builder()
                .timeout(self.timeout)
                .connect_timeout(self.connect_timeout)
                .user_agent(concat!("alipay-rs/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| Error::Config(format!("HTTP client: {e}")))?,
        };
        Ok(Client {
            inner: Arc::new(Inner {
                app_id: self.app_id,
                signer: self.signer,
                sign_type: self.sign_type,
                alipay_public_key: self.alipay_public_key,
                gateway: self.gateway,
                notify_url: self.notify_url,
                return_url: self.return_url,
                extra_params: self.extra_params,
                http,
            }),
        })
    }
}

//! The client: one merchant app's configuration, signing requests and verifying what comes back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::aes::AesKey;
use crate::api::{AlipayCertDownload, AlipayCertDownloadResponse, ApiRequest};
use crate::cert_mode::CertMode;
use crate::content::Params;
use crate::error::{Error, SignatureError, TransportError, VerifyError};
use crate::json::JsonText;
use crate::keys::{PublicKey, SignType, Signer};
use crate::notify::{self, Notification, ReturnParams};
use crate::pay::{PayKind, WebPay};
use crate::request::{Gateway, SignedRequest, check_callback_url};
use crate::response;

/// An Alipay app: signs requests with the app private key and verifies responses,
/// notifications and returns with the Alipay public key, or, in certificate mode
/// ([`ClientBuilder::certificates`]), with the Alipay certificates' keys. Cheap to clone.
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
    cert_mode: Option<Arc<CertMode>>,
    gateway: Gateway,
    notify_url: Option<String>,
    return_url: Option<String>,
    extra_params: Params,
    http: reqwest::Client,
    retry: Retry,
    json_text: JsonText,
    aes: Option<AesKey>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("app_id", &self.inner.app_id)
            .field("sign_type", &self.inner.sign_type)
            .field("gateway", &self.inner.gateway)
            .field("alipay_public_key", &self.inner.alipay_public_key)
            .field("cert_mode", &self.inner.cert_mode)
            .finish_non_exhaustive()
    }
}

/// How many times a read is sent, and how long to wait in between ([`ClientBuilder::retry_reads`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retry {
    /// Attempts in all (1: sent once).
    pub attempts: u32,
    /// The wait before the second attempt, doubled before each one after.
    pub first_delay: Duration,
}

impl Retry {
    /// Sent once.
    pub const NEVER: Retry = Retry {
        attempts: 1,
        first_delay: Duration::ZERO,
    };

    /// `attempts` in all, `first_delay` before the second.
    #[must_use]
    pub const fn new(attempts: u32, first_delay: Duration) -> Retry {
        Retry {
            attempts,
            first_delay,
        }
    }
}

/// Builds a [`Client`].
#[derive(Debug)]
#[must_use]
pub struct ClientBuilder {
    app_id: String,
    signer: Arc<dyn Signer>,
    alipay_public_key: PublicKey,
    cert_mode: Option<CertMode>,
    sign_type: SignType,
    gateway: Gateway,
    notify_url: Option<String>,
    return_url: Option<String>,
    extra_params: Params,
    timeout: Duration,
    connect_timeout: Duration,
    http: Option<reqwest::Client>,
    retry: Retry,
    json_text: JsonText,
    aes: Option<AesKey>,
}

impl Client {
    /// Starts a client for `app_id`, signing with `app_private_key` (a [`PrivateKey`](crate::PrivateKey) or any
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
            cert_mode: None,
            sign_type: SignType::Rsa2,
            gateway: Gateway::Production,
            notify_url: None,
            return_url: None,
            extra_params: Params::new(),
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            http: None,
            retry: Retry::NEVER,
            json_text: JsonText::Utf8,
            aes: None,
        }
    }

    /// Starts a client in certificate mode (公钥证书模式): requests carry `app_cert_sn` and
    /// `alipay_root_cert_sn`, and what Alipay signs is verified with the Alipay certificate's key.
    pub fn builder_with_certificates(
        app_id: impl Into<String>,
        app_private_key: impl Signer + 'static,
        certificates: CertMode,
    ) -> ClientBuilder {
        Client::builder(app_id, app_private_key, certificates.alipay_public_key())
            .certificates(certificates)
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

    /// The HTTP client requests go through.
    #[cfg(feature = "bill")]
    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// The gateway.
    #[must_use]
    pub fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    /// The Alipay public key responses and notifications are verified with. In certificate mode,
    /// the key of the Alipay certificate configured at build time; see [`Client::cert_mode`] for
    /// certificates learnt since.
    #[must_use]
    pub fn alipay_public_key(&self) -> &PublicKey {
        &self.inner.alipay_public_key
    }

    /// The certificates, in certificate mode.
    #[must_use]
    pub fn cert_mode(&self) -> Option<&CertMode> {
        self.inner.cert_mode.as_deref()
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
        if let Some(certs) = &self.inner.cert_mode {
            params.insert("app_cert_sn".into(), certs.app_cert_sn().to_owned());
            params.insert(
                "alipay_root_cert_sn".into(),
                certs.alipay_root_cert_sn().to_owned(),
            );
        }
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
        params.insert(
            "biz_content".into(),
            order.biz_content_as(self.inner.json_text)?,
        );
        let notify_url = order
            .notify_url_override()
            .or(self.inner.notify_url.as_deref());
        // The app learns the outcome from the Alipay app SDK: no browser comes back.
        let return_url = match order.kind() {
            PayKind::App => None,
            _ => order
                .return_url_override()
                .or(self.inner.return_url.as_deref()),
        };
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
        if order.kind() == PayKind::App {
            return Err(Error::InvalidRequest(
                "an app payment has no pay link: sign it with Client::app_pay".into(),
            ));
        }
        self.sign(self.web_pay_params(order, crate::time::now())?)
    }

    /// A signed `alipay.trade.app.pay` order ([`WebPay::app`]): return
    /// [`SignedRequest::order_string`] to the merchant's mobile app, which hands it to the
    /// Alipay app SDK. The payment's outcome arrives as a notification, as for web payments.
    ///
    /// ```
    /// # fn run(client: alipay::Client) -> Result<(), alipay::Error> {
    /// use alipay::{Money, WebPay};
    /// let order = client.app_pay(&WebPay::app("ORDER_42", Money::from_fen(990), "a course"))?;
    /// let for_the_app: String = order.order_string();
    /// # Ok(()) }
    /// ```
    pub fn app_pay(&self, order: &WebPay) -> Result<SignedRequest, Error> {
        self.app_pay_at(order, crate::time::now())
    }

    /// [`Client::app_pay`] as of `timestamp` (to reproduce an order string signed elsewhere).
    pub fn app_pay_at(
        &self,
        order: &WebPay,
        timestamp: OffsetDateTime,
    ) -> Result<SignedRequest, Error> {
        if order.kind() != PayKind::App {
            return Err(Error::InvalidRequest(
                "Client::app_pay signs app payments (WebPay::app); use web_pay for page and wap"
                    .into(),
            ));
        }
        self.sign(self.web_pay_params(order, timestamp)?)
    }

    /// Calls a server API and returns its verified, typed response.
    ///
    /// In certificate mode, a response signed with an Alipay certificate this client does not
    /// know yet makes it download that certificate first ([`Client::download_alipay_cert`]).
    ///
    /// A read ([`ApiRequest::SAFE_TO_REPEAT`]) whose outcome is unknown (a transport failure, an
    /// untrustworthy answer, a system error) is sent again as [`ClientBuilder::retry_reads`]
    /// says; anything else is sent once.
    pub async fn execute<R: ApiRequest>(&self, request: &R) -> Result<R::Response, Error> {
        let retry = if R::SAFE_TO_REPEAT {
            self.inner.retry
        } else {
            Retry::NEVER
        };
        let mut delay = retry.first_delay;
        let mut attempt = 1;
        loop {
            match self.execute_once(request).await {
                Err(error) if attempt < retry.attempts && error.is_outcome_unknown() => {
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                    attempt += 1;
                }
                result => return result,
            }
        }
    }

    async fn execute_once<R: ApiRequest>(&self, request: &R) -> Result<R::Response, Error> {
        let signed = self.sign_api_request(request, crate::time::now())?;
        let body = self.post(R::METHOD, &signed).await?;
        if let Some(certs) = &self.inner.cert_mode
            && let Ok(envelope) = response::envelope(&body, R::METHOD)
            && let Some(sn) = envelope.alipay_cert_sn
            && envelope.sign.is_some()
            && certs.alipay_public_key_for(&sn).is_none()
        {
            self.download_alipay_cert(&sn).await?;
        }
        self.read_response(R::METHOD, &body)
    }

    /// Certificate mode: downloads the Alipay certificate `sn` with
    /// `alipay.open.app.alipaycert.download`, checks that it chains to the configured root bundle
    /// and that the download itself is signed by a trusted Alipay certificate, then keeps it (it
    /// becomes the newest). Returns its SN.
    pub async fn download_alipay_cert(&self, sn: &str) -> Result<String, Error> {
        const METHOD: &str = AlipayCertDownload::METHOD_NAME;
        let certs =
            self.inner.cert_mode.as_deref().ok_or_else(|| {
                Error::Config("download_alipay_cert needs certificate mode".into())
            })?;
        let signature_error = |kind| Error::Signature {
            method: METHOD.to_owned(),
            kind,
        };
        let decode_error = |e: serde_json::Error| Error::Decode {
            method: METHOD.to_owned(),
            detail: e.to_string(),
        };
        let signed = self.sign_api_request(&AlipayCertDownload::new(sn), crate::time::now())?;
        let body = self.post(METHOD, &signed).await?;
        let envelope = response::envelope(&body, METHOD).map_err(signature_error)?;
        if let Err(error) = response::status(envelope.node).map_err(decode_error)? {
            // Reported, never acted on: an error changes nothing here.
            return Err(if envelope.is_error_response {
                Error::Gateway {
                    method: METHOD.to_owned(),
                    error: Box::new(error),
                }
            } else {
                Error::Api {
                    method: METHOD.to_owned(),
                    error: Box::new(error),
                }
            });
        }
        let node: AlipayCertDownloadResponse =
            serde_json::from_str(envelope.node).map_err(decode_error)?;
        let pem = crate::keys::decode_signature(&node.alipay_cert_content).ok_or_else(|| {
            Error::Decode {
                method: METHOD.to_owned(),
                detail: "alipay_cert_content is not base64".into(),
            }
        })?;
        let trusted = certs
            .check_alipay_cert(&pem, crate::time::now())
            .map_err(|e| {
                signature_error(SignatureError::UntrustedCertificate {
                    sn: sn.to_owned(),
                    reason: e.to_string(),
                })
            })?;
        if trusted.sn() != sn {
            return Err(signature_error(SignatureError::UntrustedCertificate {
                sn: sn.to_owned(),
                reason: format!("the download holds certificate {} instead", trusted.sn()),
            }));
        }
        // The download is signed by Alipay too: with the certificate it delivers, or one we know.
        let signer = match envelope.alipay_cert_sn.as_deref() {
            Some(signer) if signer == trusted.sn() => trusted.public_key().clone(),
            Some(signer) => certs.alipay_public_key_for(signer).ok_or_else(|| {
                signature_error(SignatureError::UnknownCertificate(signer.into()))
            })?,
            None => certs.alipay_public_key(),
        };
        response::verify_node(&envelope, &signer, self.inner.sign_type).map_err(signature_error)?;
        certs.add_alipay_cert(trusted);
        Ok(sn.to_owned())
    }

    /// Builds and signs a server API request without sending it.
    pub fn sign_api_request<R: ApiRequest>(
        &self,
        request: &R,
        timestamp: OffsetDateTime,
    ) -> Result<SignedRequest, Error> {
        request.validate()?;
        let mut params = self.common_params(R::METHOD, timestamp);
        let biz_content = crate::json::to_string(request, self.inner.json_text)
            .map_err(|e| Error::InvalidRequest(format!("biz_content: {e}")))?;
        match &self.inner.aes {
            // Encrypted first, then signed: the signature covers the ciphertext.
            Some(aes) if R::ENCRYPTABLE => {
                params.insert("encrypt_type".into(), "AES".into());
                params.insert("biz_content".into(), aes.encrypt(&biz_content));
            }
            _ => {
                params.insert("biz_content".into(), biz_content);
            }
        }
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
        let key = match (&self.inner.cert_mode, envelope.alipay_cert_sn.as_deref()) {
            (Some(certs), Some(sn)) => certs
                .alipay_public_key_for(sn)
                .ok_or_else(|| signature_error(SignatureError::UnknownCertificate(sn.into())))?,
            (Some(certs), None) => certs.alipay_public_key(),
            (None, _) => self.inner.alipay_public_key.clone(),
        };
        response::verify_node(&envelope, &key, self.inner.sign_type).map_err(signature_error)?;
        // An encrypted node is a JSON string, verified above as it is (quotes included) and
        // only now decrypted; a gateway that could not decrypt the request answers in clear.
        let decrypted;
        let node = if envelope.node.starts_with('"') {
            let ciphertext: String = serde_json::from_str(envelope.node).map_err(decode_error)?;
            let aes = self.inner.aes.as_ref().ok_or_else(|| Error::Decode {
                method: method.to_owned(),
                detail: "the response is encrypted (AES) and this client has no AES key".into(),
            })?;
            decrypted = aes.decrypt(&ciphertext).map_err(|e| Error::Decode {
                method: method.to_owned(),
                detail: e.to_string(),
            })?;
            decrypted.as_str()
        } else {
            envelope.node
        };
        if let Err(error) = response::status(node).map_err(decode_error)? {
            return Err(Error::Api {
                method: method.to_owned(),
                error: Box::new(error),
            });
        }
        serde_json::from_str(node).map_err(decode_error)
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

    /// The keys notifications and returns are checked with: the Alipay public key, or in
    /// certificate mode every Alipay certificate known, the newest first (notifications carry no
    /// SN saying which one signed them).
    fn notification_keys(&self) -> Vec<PublicKey> {
        match &self.inner.cert_mode {
            Some(certs) => certs.alipay_public_keys(),
            None => vec![self.inner.alipay_public_key.clone()],
        }
    }

    /// Verifies an asynchronous notification (the raw POST body) and returns it typed.
    pub fn verify_notification(&self, body: &[u8]) -> Result<Notification, VerifyError> {
        first_that_verifies(&self.notification_keys(), |key| {
            notify::verify_notification(body, key, self.inner.sign_type)
        })
    }

    /// Verifies the browser's return (the raw query string) and returns it typed.
    pub fn verify_return(&self, query: &str) -> Result<ReturnParams, VerifyError> {
        first_that_verifies(&self.notification_keys(), |key| {
            notify::verify_return(query, key, self.inner.sign_type)
        })
    }
}

/// The first key whose check passes; otherwise the first key's error (a bad signature, or a
/// problem no key would change).
fn first_that_verifies<T>(
    keys: &[PublicKey],
    check: impl Fn(&PublicKey) -> Result<T, VerifyError>,
) -> Result<T, VerifyError> {
    let mut first_error = None;
    for key in keys {
        match check(key) {
            Ok(verified) => return Ok(verified),
            Err(VerifyError::BadSignature) => {
                first_error.get_or_insert(VerifyError::BadSignature);
            }
            Err(other) => return Err(other),
        }
    }
    Err(first_error.unwrap_or(VerifyError::BadSignature))
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

    /// Certificate mode (公钥证书模式): sends `app_cert_sn` and `alipay_root_cert_sn` with every
    /// request and verifies responses, notifications and returns with the Alipay certificates'
    /// keys instead of the public key given to [`Client::builder`]. RSA2 only.
    pub fn certificates(mut self, certificates: CertMode) -> ClientBuilder {
        self.alipay_public_key = certificates.alipay_public_key();
        self.cert_mode = Some(certificates);
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

    /// Sends reads again when their outcome is unknown (default: never). Only requests that
    /// are [`ApiRequest::SAFE_TO_REPEAT`] (queries, the bill's URL, certificate downloads) are
    /// retried: a refund or a close whose answer was lost must be queried, not repeated blindly.
    pub fn retry_reads(mut self, retry: Retry) -> ClientBuilder {
        self.retry = retry;
        self
    }

    /// How `biz_content` spells non-ASCII characters: raw UTF-8 (the default, as the official
    /// SDKs) or `\uXXXX` ([`JsonText::Ascii`], as python-alipay-sdk, to produce byte-identical
    /// signed strings). Alipay accepts both.
    pub fn json_text(mut self, text: JsonText) -> ClientBuilder {
        self.json_text = text;
        self
    }

    /// Encrypts the content of every API request that allows it ([`ApiRequest::ENCRYPTABLE`])
    /// with the app's AES key (接口内容加密), and decrypts the answers. Pay links and app-pay
    /// order strings stay in clear (the official SDKs encrypt them only when asked per call;
    /// Alipay accepts both).
    pub fn aes_key(mut self, key: AesKey) -> ClientBuilder {
        self.aes = Some(key);
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
        if self.cert_mode.is_some() && self.sign_type != SignType::Rsa2 {
            return Err(Error::Config(
                "certificate mode signs with RSA2 only; set sign_type to RSA2".into(),
            ));
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
                cert_mode: self.cert_mode.map(Arc::new),
                gateway: self.gateway,
                notify_url: self.notify_url,
                return_url: self.return_url,
                extra_params: self.extra_params,
                http,
                retry: self.retry,
                json_text: self.json_text,
                aes: self.aes,
            }),
        })
    }
}

//! Use cases: each loads what it needs, applies one [`trades`](crate::trades) transition, saves
//! it and queues the notifications it causes, in one transaction. Shared by the gateway, the
//! cashier and the test-control API so that "pay in the browser" and "pay through the API" are
//! the same thing.
//!
//! Unpaid trades whose window has passed are closed lazily by whichever use case touches them
//! first, and otherwise by [`run_expiry`] in the background, so a query never reports a trade as
//! open after its deadline.

use std::sync::Arc;
use std::time::Duration;

use alipay::Money;
use sqlx::SqliteConnection;
use time::OffsetDateTime;

use crate::apps::{App, Merchant, Partner};
use crate::error::SandboxError;
use crate::messages::{self, Event};
use crate::service::Shared;
use crate::store::{self, NewNotification, StoredTrade, TradeKey};
use crate::trades::{
    BarcodeOutcome, CancelOutcome, Order, Origin, Refund, RefundOutcome, RefundRequest, Trade,
    TradeError,
};

/// A trade as API callers name it: `trade_no` wins when both are given (spec §7.5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TradeRef {
    /// The merchant's order number.
    pub out_trade_no: Option<String>,
    /// Alipay's trade number.
    pub trade_no: Option<String>,
}

impl TradeRef {
    fn key<'a>(&'a self, app_id: &'a str) -> Option<TradeKey<'a>> {
        if let Some(trade_no) = &self.trade_no {
            return Some(TradeKey::TradeNo { app_id, trade_no });
        }
        self.out_trade_no
            .as_deref()
            .map(|out_trade_no| TradeKey::OutTradeNo {
                app_id,
                out_trade_no,
            })
    }
}

/// A queued notification, for the caller to wake the dispatcher after commit.
type Queued = bool;

/// Queues the notification `event` causes, if the trade has somewhere to send it. Legacy trades
/// notify payments only (the 即时到账 default: no `TRADE_CLOSED`), MD5-signed.
async fn queue(
    conn: &mut SqliteConnection,
    merchant: &Merchant,
    trade: &Trade,
    event: &Event,
    notify_url: Option<&str>,
    now: OffsetDateTime,
) -> Result<Queued, SandboxError> {
    let Some(notify_url) = notify_url.or(trade.notify_url.as_deref()) else {
        return Ok(false);
    };
    let notify_id = crate::ids::notify_id(now);
    let (merchant_id, fields, sign_type) = match merchant {
        Merchant::App(app) => (
            app.app_id.clone(),
            messages::notification_fields(app, trade, event, &notify_id),
            app.sign_type.as_str(),
        ),
        Merchant::Partner(_) if *event != Event::Paid => return Ok(false),
        Merchant::Partner(partner) => (
            partner.partner.clone(),
            crate::messages::legacy::notification_fields(partner, trade, &notify_id),
            crate::messages::legacy::SIGN_TYPE,
        ),
    };
    let fields = serde_json::to_string(&fields)
        .map_err(|e| SandboxError::Corrupt(format!("notification fields: {e}")))?;
    store::insert_notification(
        conn,
        &NewNotification {
            notify_id,
            app_id: merchant_id,
            out_trade_no: trade.out_trade_no.clone(),
            trade_status: trade.state.wire().unwrap_or_default().to_owned(),
            notify_url: notify_url.to_owned(),
            fields,
            sign_type: sign_type.to_owned(),
            created_ms: store::to_ms(now),
        },
    )
    .await?;
    Ok(true)
}

async fn app_of(conn: &mut SqliteConnection, app_id: &str) -> Result<App, SandboxError> {
    store::app(conn, app_id)
        .await?
        .ok_or_else(|| SandboxError::NotFound(format!("app {app_id} is not registered")))
}

/// The app, or for a legacy trade the partner, a trade belongs to.
async fn merchant_of(conn: &mut SqliteConnection, trade: &Trade) -> Result<Merchant, SandboxError> {
    if trade.origin == Origin::Legacy {
        return store::partner(conn, &trade.app_id)
            .await?
            .map(Merchant::Partner)
            .ok_or_else(|| {
                SandboxError::NotFound(format!("partner {} is not registered", trade.app_id))
            });
    }
    app_of(conn, &trade.app_id)
        .await
        .map(|app| Merchant::App(Box::new(app)))
}

/// Loads a trade and closes it first if its window has passed.
async fn load(
    conn: &mut SqliteConnection,
    key: TradeKey<'_>,
    now: OffsetDateTime,
    queued: &mut Queued,
) -> Result<Option<StoredTrade>, SandboxError> {
    let Some(mut stored) = store::trade(conn, key).await? else {
        return Ok(None);
    };
    let was_visible = stored.trade.visible_state().is_some();
    if stored.trade.expire_if_due(now) {
        store::update_trade(conn, stored.id, &stored.trade).await?;
        if was_visible {
            let merchant = merchant_of(conn, &stored.trade).await?;
            *queued |= queue(conn, &merchant, &stored.trade, &Event::Closed, None, now).await?;
        }
        tracing::info!(
            trade.no = %stored.trade.trade_no,
            "trade {} closed: payment window passed",
            stored.trade.out_trade_no
        );
    }
    Ok(Some(stored))
}

/// Loads a trade the merchant's API can see.
async fn load_visible(
    conn: &mut SqliteConnection,
    app_id: &str,
    trade: &TradeRef,
    now: OffsetDateTime,
    queued: &mut Queued,
) -> Result<StoredTrade, SandboxError> {
    let key = trade.key(app_id).ok_or_else(|| {
        TradeError::InvalidParameter("out_trade_no or trade_no is required".into())
    })?;
    match load(conn, key, now, queued).await? {
        Some(stored) if stored.trade.visible_state().is_some() => Ok(stored),
        _ => Err(TradeError::NotExist.into()),
    }
}

impl Shared {
    fn after_commit(&self, queued: Queued) {
        if queued {
            self.dispatch.wake.notify_one();
        }
    }

    /// Page/wap pay reached the gateway: the buyer is at the cashier. Creates the trade, or
    /// reuses the one with this `out_trade_no` (restarting its countdown).
    pub(crate) async fn open_web_pay(
        &self,
        app: &App,
        order: &Order,
        warning: Option<String>,
    ) -> Result<Trade, SandboxError> {
        self.place(&app.app_id, order, warning, true).await
    }

    /// `create_direct_pay_by_user` reached the mapi gateway: the buyer is at the cashier.
    pub(crate) async fn open_direct_pay(
        &self,
        partner: &Partner,
        order: &Order,
    ) -> Result<Trade, SandboxError> {
        self.place(&partner.partner, order, None, true).await
    }

    /// `alipay.trade.precreate`: creates an invisible trade, or reuses the unpaid one.
    pub(crate) async fn precreate(&self, app: &App, order: &Order) -> Result<Trade, SandboxError> {
        self.place(&app.app_id, order, None, false).await
    }

    /// `alipay.trade.create`: a trade the buyer pays in a mini program or a JSAPI page; reuses
    /// the unpaid one with the same details.
    pub(crate) async fn create(&self, app: &App, order: &Order) -> Result<Trade, SandboxError> {
        self.place(&app.app_id, order, None, false).await
    }

    /// `alipay.trade.pay`: the merchant scanned the buyer's payment code. The trade is created
    /// (or the waiting one reused), then paid at once by the first sandbox buyer, or left
    /// waiting for the buyer's confirmation.
    pub(crate) async fn barcode_pay(
        &self,
        app: &App,
        order: &Order,
        outcome: BarcodeOutcome,
    ) -> Result<Trade, SandboxError> {
        let trade = self.place(&app.app_id, order, None, false).await?;
        if outcome == BarcodeOutcome::WaitForBuyer {
            return Ok(trade);
        }
        let buyer = self
            .config
            .buyers
            .first()
            .map(|b| b.logon_id.clone())
            .ok_or_else(|| TradeError::UnknownBuyer(String::new()))?;
        let key = TradeKey::OutTradeNo {
            app_id: &app.app_id,
            out_trade_no: &order.out_trade_no,
        };
        match self.pay(key, &buyer, None).await {
            Ok((_, trade)) => Ok(trade),
            Err(refused) => {
                // The charge failed for good: the trade must not be payable later (at Alipay the
                // till's next step would be a cancel; the outcome is the same).
                let trade = TradeRef {
                    out_trade_no: Some(order.out_trade_no.clone()),
                    trade_no: None,
                };
                if let Err(error) = self.close(app, &trade, None).await {
                    tracing::warn!(%error, "closing a refused barcode charge failed");
                }
                Err(refused)
            }
        }
    }

    async fn place(
        &self,
        merchant_id: &str,
        order: &Order,
        warning: Option<String>,
        reopen: bool,
    ) -> Result<Trade, SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let key = TradeKey::OutTradeNo {
            app_id: merchant_id,
            out_trade_no: &order.out_trade_no,
        };
        let trade = match load(&mut tx, key, now, &mut queued).await? {
            Some(mut stored) => {
                stored.trade.reinvoke(order, now, reopen)?;
                if warning.is_some() {
                    stored.trade.warning = warning;
                }
                store::update_trade(&mut tx, stored.id, &stored.trade).await?;
                stored.trade
            }
            None => {
                let qr_token = (order.origin == Origin::Precreate).then(crate::ids::qr_token);
                let mut trade =
                    Trade::new(merchant_id, order, crate::ids::trade_no(now), qr_token, now)?;
                trade.warning = warning;
                store::insert_trade(&mut tx, &trade).await?;
                tracing::info!(
                    app.id = %merchant_id,
                    trade.no = %trade.trade_no,
                    "trade {} created for {}",
                    trade.out_trade_no,
                    trade.total_amount
                );
                trade
            }
        };
        tx.commit().await?;
        self.after_commit(queued);
        self.expiry_wake.notify_one();
        Ok(trade)
    }

    /// The buyer scanned a precreate QR code: the trade becomes visible.
    pub(crate) async fn scan(&self, qr_token: &str) -> Result<(App, Trade), SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let mut stored = load(&mut tx, TradeKey::QrToken(qr_token), now, &mut queued)
            .await?
            .ok_or(TradeError::NotExist)?;
        stored.trade.open();
        store::update_trade(&mut tx, stored.id, &stored.trade).await?;
        let app = app_of(&mut tx, &stored.trade.app_id).await?;
        tx.commit().await?;
        self.after_commit(queued);
        Ok((app, stored.trade))
    }

    /// A trade for the cashier or the test API, with expiry applied.
    pub(crate) async fn trade(&self, key: TradeKey<'_>) -> Result<(Merchant, Trade), SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let stored = load(&mut tx, key, now, &mut queued)
            .await?
            .ok_or(TradeError::NotExist)?;
        let merchant = merchant_of(&mut tx, &stored.trade).await?;
        tx.commit().await?;
        self.after_commit(queued);
        Ok((merchant, stored.trade))
    }

    /// The buyer pays (cashier or test API). A precreated trade is scanned and paid at once.
    /// `password` is checked when given (the cashier); the test API pays without one.
    pub(crate) async fn pay(
        &self,
        key: TradeKey<'_>,
        buyer_logon_id: &str,
        password: Option<&str>,
    ) -> Result<(Merchant, Trade), SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let mut stored = load(&mut tx, key, now, &mut queued)
            .await?
            .ok_or(TradeError::NotExist)?;
        if let Err(error) = stored.trade.payable() {
            // Keep a lazy expiry that happened on the way, then refuse.
            tx.commit().await?;
            self.after_commit(queued);
            return Err(error.into());
        }
        let buyer = store::buyer(&mut tx, buyer_logon_id.trim())
            .await?
            .ok_or_else(|| TradeError::UnknownBuyer(buyer_logon_id.to_owned()))?;
        if password.is_some_and(|p| p != buyer.password) {
            return Err(TradeError::WrongPassword.into());
        }
        let merchant = merchant_of(&mut tx, &stored.trade).await?;
        let result = stored.trade.pay(buyer.payer(), buyer.balance()?, now);
        if let Err(error) = result {
            // Keep a lazy expiry that happened on the way, then refuse.
            tx.commit().await?;
            self.after_commit(queued);
            return Err(error.into());
        }
        store::adjust_balance(&mut tx, &buyer.user_id, -stored.trade.total_amount.fen()).await?;
        store::update_trade(&mut tx, stored.id, &stored.trade).await?;
        queued |= queue(&mut tx, &merchant, &stored.trade, &Event::Paid, None, now).await?;
        tx.commit().await?;
        self.after_commit(queued);
        tracing::info!(
            trade.no = %stored.trade.trade_no,
            "trade {} paid: {}",
            stored.trade.out_trade_no,
            stored.trade.total_amount
        );
        Ok((merchant, stored.trade))
    }

    /// `alipay.trade.query`.
    pub(crate) async fn query(&self, app: &App, trade: &TradeRef) -> Result<Trade, SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let stored = load_visible(&mut tx, &app.app_id, trade, now, &mut queued).await?;
        tx.commit().await?;
        self.after_commit(queued);
        Ok(stored.trade)
    }

    /// `alipay.trade.close`; the `TRADE_CLOSED` notification goes to `notify_url` when given.
    pub(crate) async fn close(
        &self,
        app: &App,
        trade: &TradeRef,
        notify_url: Option<&str>,
    ) -> Result<Trade, SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let mut stored = load_visible(&mut tx, &app.app_id, trade, now, &mut queued).await?;
        if let Err(error) = stored.trade.close(now) {
            tx.commit().await?;
            self.after_commit(queued);
            return Err(error.into());
        }
        store::update_trade(&mut tx, stored.id, &stored.trade).await?;
        let merchant = Merchant::App(Box::new(app.clone()));
        queued |= queue(
            &mut tx,
            &merchant,
            &stored.trade,
            &Event::Closed,
            notify_url,
            now,
        )
        .await?;
        tx.commit().await?;
        self.after_commit(queued);
        Ok(stored.trade)
    }

    /// `alipay.trade.cancel`.
    pub(crate) async fn cancel(
        &self,
        app: &App,
        trade: &TradeRef,
    ) -> Result<(Trade, CancelOutcome), SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let key = trade.key(&app.app_id).ok_or_else(|| {
            TradeError::InvalidParameter("out_trade_no or trade_no is required".into())
        })?;
        let mut stored = load(&mut tx, key, now, &mut queued)
            .await?
            .ok_or(TradeError::NotExist)?;
        let outcome = match stored.trade.cancel(now) {
            Ok(outcome) => outcome,
            Err(error) => {
                tx.commit().await?;
                self.after_commit(queued);
                return Err(error.into());
            }
        };
        store::update_trade(&mut tx, stored.id, &stored.trade).await?;
        if outcome.notify {
            let event = match &outcome.refund {
                Some(refund) => {
                    store::insert_refund(&mut tx, stored.id, refund).await?;
                    refund_to_buyer(&mut tx, &stored.trade, refund.amount).await?;
                    Event::Refunded(refund.clone())
                }
                None => Event::Closed,
            };
            let merchant = Merchant::App(Box::new(app.clone()));
            queued |= queue(&mut tx, &merchant, &stored.trade, &event, None, now).await?;
        }
        tx.commit().await?;
        self.after_commit(queued);
        Ok((stored.trade, outcome))
    }

    /// `alipay.trade.refund`.
    pub(crate) async fn refund(
        &self,
        app: &App,
        trade: &TradeRef,
        request: &RefundRequest,
    ) -> Result<(Trade, RefundOutcome), SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let mut stored = load_visible(&mut tx, &app.app_id, trade, now, &mut queued).await?;
        let earlier = store::refunds(&mut tx, stored.id).await?;
        let outcome = match stored.trade.refund(&earlier, request, now) {
            Ok(outcome) => outcome,
            Err(error) => {
                tx.commit().await?;
                self.after_commit(queued);
                return Err(error.into());
            }
        };
        if outcome.fund_change {
            store::insert_refund(&mut tx, stored.id, &outcome.refund).await?;
            store::update_trade(&mut tx, stored.id, &stored.trade).await?;
            refund_to_buyer(&mut tx, &stored.trade, outcome.refund.amount).await?;
            let event = Event::Refunded(outcome.refund.clone());
            let merchant = Merchant::App(Box::new(app.clone()));
            queued |= queue(&mut tx, &merchant, &stored.trade, &event, None, now).await?;
        }
        tx.commit().await?;
        self.after_commit(queued);
        Ok((stored.trade, outcome))
    }

    /// `alipay.trade.fastpay.refund.query`.
    pub(crate) async fn refund_query(
        &self,
        app: &App,
        trade: &TradeRef,
        out_request_no: &str,
    ) -> Result<(Trade, Option<Refund>), SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let stored = load_visible(&mut tx, &app.app_id, trade, now, &mut queued).await?;
        let refund = store::refunds(&mut tx, stored.id)
            .await?
            .into_iter()
            .find(|r| r.out_request_no == out_request_no);
        tx.commit().await?;
        self.after_commit(queued);
        Ok((stored.trade, refund))
    }

    /// Test control: the payment window of an unpaid trade passes now.
    pub(crate) async fn expire(&self, key: TradeKey<'_>) -> Result<Trade, SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        let mut stored = load(&mut tx, key, now, &mut queued)
            .await?
            .ok_or(TradeError::NotExist)?;
        let was_visible = stored.trade.visible_state().is_some();
        stored.trade.expire_now(now)?;
        store::update_trade(&mut tx, stored.id, &stored.trade).await?;
        if was_visible {
            let merchant = merchant_of(&mut tx, &stored.trade).await?;
            queued |= queue(&mut tx, &merchant, &stored.trade, &Event::Closed, None, now).await?;
        }
        tx.commit().await?;
        self.after_commit(queued);
        Ok(stored.trade)
    }

    /// Closes every unpaid trade whose window has passed; returns when the next one is due.
    pub(crate) async fn expire_due(&self) -> Result<Option<OffsetDateTime>, SandboxError> {
        let now = alipay::time::now();
        let mut queued = false;
        let mut tx = self.store.begin().await?;
        for id in store::expired_trade_ids(&mut tx, store::to_ms(now)).await? {
            load(&mut tx, TradeKey::Id(id), now, &mut queued).await?;
        }
        let next = store::next_expiry_ms(&mut tx).await?;
        tx.commit().await?;
        self.after_commit(queued);
        next.map(store::from_ms).transpose()
    }
}

/// Where the browser goes after paying: `return_url` with the signed parameters (spec §10; the
/// legacy interface's are MD5-signed, spec §13).
pub(crate) async fn return_location(
    shared: &Shared,
    merchant: &Merchant,
    trade: &Trade,
) -> Result<Option<String>, SandboxError> {
    let Some(return_url) = trade.return_url.as_deref() else {
        return Ok(None);
    };
    let app = match merchant {
        Merchant::Partner(partner) => {
            return legacy_return_location(shared, partner, trade, return_url)
                .await
                .map(Some);
        }
        Merchant::App(app) => app,
    };
    let Some(method) = trade.origin.return_method() else {
        return Ok(None);
    };
    let (key, _) = shared.signer_for(app).await?;
    let params = messages::return_params(app, trade, method, alipay::time::now(), &key);
    Ok(Some(messages::return_location(return_url, &params)))
}

/// `return_url` with the signed legacy return parameters; their `notify_id` is recorded so that
/// `notify_verify` confirms it.
async fn legacy_return_location(
    shared: &Shared,
    partner: &Partner,
    trade: &Trade,
    return_url: &str,
) -> Result<String, SandboxError> {
    let now = alipay::time::now();
    let notify_id = crate::ids::notify_id(now);
    let params = messages::legacy::return_params(partner, trade, &notify_id, now);
    let mut conn = shared.store.conn().await?;
    store::insert_return_notify_id(
        &mut conn,
        &notify_id,
        &partner.partner,
        &trade.out_trade_no,
        store::to_ms(now),
    )
    .await?;
    Ok(messages::return_location(return_url, &params))
}

async fn refund_to_buyer(
    conn: &mut SqliteConnection,
    trade: &Trade,
    amount: Money,
) -> Result<(), SandboxError> {
    if let Some(payer) = &trade.payer {
        store::adjust_balance(conn, &payer.user_id, amount.fen()).await?;
    }
    Ok(())
}

/// The longest the expiry task sleeps without looking again.
const EXPIRY_POLL: Duration = Duration::from_secs(60);

/// Closes unpaid trades as their windows pass, until shutdown.
pub(crate) async fn run_expiry(shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    loop {
        let wait = match shared.expire_due().await {
            Ok(Some(next)) => {
                let until = next - alipay::time::now();
                Duration::try_from(until)
                    .unwrap_or(Duration::ZERO)
                    .clamp(Duration::from_millis(10), EXPIRY_POLL)
            }
            Ok(None) => EXPIRY_POLL,
            Err(error) => {
                tracing::error!(%error, "closing expired trades failed");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = shared.expiry_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

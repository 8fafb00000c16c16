//! The trade bill (对账单): a short-lived link to a day's bill
//! (`alipay.data.dataservice.bill.downloadurl.query`), and the file behind it, made from the
//! trades and refunds of that day (Beijing time) when it is downloaded.
//!
//! Unlike Alipay, which serves a day's bill from the next morning on, the sandbox serves today's
//! bill too (as it stands when downloaded), so that tests need not wait a day.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use time::Date;

use super::Shared;
use crate::apps::App;
use crate::error::SandboxError;
use crate::messages::bill::{self, BillFile, Day};
use crate::store;

/// How long a download link works (Alipay's: about 30 seconds; the sandbox is more patient with
/// slow test machines).
pub const LINK_TTL: Duration = Duration::from_secs(300);

/// The most links kept at once; the oldest go first.
const MAX_LINKS: usize = 1000;

/// Download links handed out and not yet expired.
#[derive(Debug, Default)]
pub(crate) struct BillLinks {
    links: Mutex<HashMap<String, Link>>,
}

#[derive(Debug)]
struct Link {
    app_id: String,
    date: Date,
    expires: Instant,
}

impl BillLinks {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Link>> {
        // Every update is a single insert or removal: a poisoned map is still consistent.
        self.links
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Shared {
    /// A token for `date`'s bill of `app` (valid for [`LINK_TTL`]), or `None` when nothing was
    /// paid or refunded that day (`isp.bill_not_exist`).
    pub(crate) async fn bill_link(
        &self,
        app: &App,
        date: Date,
    ) -> Result<Option<String>, SandboxError> {
        if self.day_bill(app, date).await?.is_none() {
            return Ok(None);
        }
        let token = crate::ids::qr_token();
        let now = Instant::now();
        let mut links = self.bill_links.lock();
        links.retain(|_, link| link.expires > now);
        if links.len() >= MAX_LINKS
            && let Some(oldest) = links
                .iter()
                .min_by_key(|(_, link)| link.expires)
                .map(|(token, _)| token.clone())
        {
            links.remove(&oldest);
        }
        links.insert(
            token.clone(),
            Link {
                app_id: app.app_id.clone(),
                date,
                expires: now + LINK_TTL,
            },
        );
        Ok(Some(token))
    }

    /// The bill behind a download token.
    pub(crate) async fn bill_file(&self, token: &str) -> Result<BillFile, SandboxError> {
        let expired = || SandboxError::NotFound("this bill link is unknown or has expired".into());
        let (app_id, date) = {
            let links = self.bill_links.lock();
            let link = links.get(token).ok_or_else(expired)?;
            if link.expires <= Instant::now() {
                return Err(expired());
            }
            (link.app_id.clone(), link.date)
        };
        let app = {
            let mut conn = self.store.conn().await?;
            store::app(&mut conn, &app_id).await?
        }
        .ok_or_else(expired)?;
        self.day_bill(&app, date).await?.ok_or_else(expired)
    }

    /// `date`'s bill of `app` as it stands now, or `None` for a day without business.
    async fn day_bill(&self, app: &App, date: Date) -> Result<Option<BillFile>, SandboxError> {
        let start = date.midnight().assume_offset(alipay::time::BEIJING);
        let from = store::to_ms(start);
        let until = from + 24 * 3600 * 1000;
        let mut conn = self.store.conn().await?;
        let payments: Vec<_> = store::paid_between(&mut conn, &app.app_id, from, until)
            .await?
            .into_iter()
            .map(|stored| stored.trade)
            .collect();
        let refunds: Vec<_> = store::refunded_between(&mut conn, &app.app_id, from, until)
            .await?
            .into_iter()
            .map(|(stored, refund)| (stored.trade, refund))
            .collect();
        drop(conn);
        if payments.is_empty() && refunds.is_empty() {
            return Ok(None);
        }
        let day = Day {
            account: &app.seller_id,
            date,
            payments: &payments,
            refunds: &refunds,
            exported_at: alipay::time::now(),
        };
        bill::zip(&day)
            .map(Some)
            .map_err(|e| SandboxError::Config(format!("making the bill: {e}")))
    }
}

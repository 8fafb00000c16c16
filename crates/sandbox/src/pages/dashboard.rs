//! `GET /`: a small HTML page listing apps, trades and notification deliveries, for people
//! watching a test run or a demo. Links are relative, so it works under any prefix.

use std::sync::Arc;

use axum::extract::{OriginalUri, State};
use axum::response::Response;
use minijinja::context;

use crate::apps::App;
use crate::error::SandboxError;
use crate::service::Shared;
use crate::store;
use crate::views::{DeliveryView, TradeView};

/// How many trades and deliveries the page shows.
const LATEST: usize = 100;

/// `GET /`.
///
/// Nested under a prefix, axum serves this page at `/prefix` (no trailing slash), where relative
/// links would resolve against the parent; `root` puts the prefix's last segment back in front.
pub(crate) async fn dashboard(
    State(shared): State<Arc<Shared>>,
    OriginalUri(uri): OriginalUri,
) -> Result<Response, SandboxError> {
    let root = match uri.path().rsplit_once('/') {
        Some((_, "")) | None => String::new(),
        Some((_, last)) => format!("{last}/"),
    };
    let mut conn = shared.store.conn().await?;
    let apps: Vec<_> = store::apps(&mut conn)
        .await?
        .iter()
        .map(App::view)
        .collect();
    let trades: Vec<TradeView> = store::trades(&mut conn, LATEST as i64)
        .await?
        .iter()
        .map(|stored| TradeView::new(&stored.trade, None))
        .collect();
    let rows = store::deliveries(&mut conn, None, i64::MAX).await?;
    drop(conn);
    let deliveries = rows
        .into_iter()
        .rev()
        .take(LATEST)
        .map(DeliveryView::new)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::pages::render(
        "dashboard.html",
        context! {
            root,
            fingerprint => shared.key.public_key().fingerprint(),
            faults => shared.faults.list(),
            apps,
            trades,
            deliveries,
        },
    ))
}

//! What Alipay's file servers serve: `GET /downloadBillFile.resource?…&token=…`, the trade bill
//! a `bill_download_url` points to (the zip, or 404 once the link has expired).

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::error::SandboxError;
use crate::service::Shared;

/// The query of a download link (only the token matters).
#[derive(Debug, Deserialize)]
pub(crate) struct Download {
    token: String,
}

/// `GET /downloadBillFile.resource`.
pub(crate) async fn bill(
    State(shared): State<Arc<Shared>>,
    Query(download): Query<Download>,
) -> Result<Response, SandboxError> {
    let file = shared.bill_file(&download.token).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", file.name),
            ),
        ],
        file.bytes,
    )
        .into_response())
}

//! Group commit for new orders.
//!
//! Placing an order is the shop's hottest write. One transaction per order costs four round
//! trips to the database (BEGIN, the order, its lines, COMMIT), and on SQLite, whose writes are
//! serialised, those round trips cap the shop far below what its CPUs can sign. So new orders go
//! through one writer task that takes whatever has queued up (up to [`MAX_BATCH`]) and stores it
//! in one transaction with multi-row statements: a handful of round trips for the whole batch.
//! Each order is still all-or-nothing (its lines commit with it), and an `Idempotency-Key` is
//! claimed in the same transaction as the order it names.

use std::collections::{HashMap, HashSet};

use tokio::sync::{mpsc, oneshot};

use super::{Db, StoreError, now_ms, values};
use crate::domain::checkout::Priced;
use crate::domain::{Item, Order};
use crate::domain::{Money, OrderStatus};

/// The most orders stored in one transaction.
pub const MAX_BATCH: usize = 64;

/// An `Idempotency-Key` to claim together with the order.
#[derive(Clone, Debug)]
pub struct Claim {
    /// What kind of request the key is for.
    pub scope: &'static str,
    /// The client's key.
    pub key: String,
    /// A fingerprint of the request, to tell a retry from a different request.
    pub request_hash: String,
}

/// An order to store.
#[derive(Clone, Debug)]
pub struct NewOrder {
    /// Its number.
    pub out_trade_no: String,
    /// The buyer.
    pub user_id: i64,
    /// Lines, total, subject.
    pub priced: Priced,
    /// Closed if unpaid by then (ms).
    pub expires_at: i64,
    /// First reconciliation check (ms).
    pub first_check_at: i64,
    /// The `Idempotency-Key` to claim with it, if any.
    pub claim: Option<Claim>,
}

/// What happened to an order sent to the writer.
#[derive(Debug)]
pub enum Written {
    /// Stored.
    Created(Order),
    /// Not stored: another request holds its `Idempotency-Key`.
    KeyTaken,
}

type Reply = oneshot::Sender<Result<Written, String>>;

/// The handle to the writer task. Cheap to clone; the task ends when every handle is dropped.
#[derive(Clone, Debug)]
pub struct OrderWriter {
    queue: mpsc::Sender<(NewOrder, Reply)>,
}

impl OrderWriter {
    /// Starts the writer task on the current runtime.
    #[must_use]
    pub fn spawn(db: Db) -> OrderWriter {
        let (queue, incoming) = mpsc::channel(4 * MAX_BATCH);
        tokio::spawn(run(db, incoming));
        OrderWriter { queue }
    }

    /// Stores an order (in some batch), waiting for the commit.
    pub async fn write(&self, order: NewOrder) -> Result<Written, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send((order, reply))
            .await
            .map_err(|_| StoreError::Batch("the order writer has stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Batch("the order writer has stopped".into()))?
            .map_err(StoreError::Batch)
    }
}

async fn run(db: Db, mut incoming: mpsc::Receiver<(NewOrder, Reply)>) {
    while let Some(first) = incoming.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        let (orders, replies): (Vec<NewOrder>, Vec<Reply>) = batch.into_iter().unzip();
        match write_batch(&db, orders).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::error!(%error, "storing a batch of orders failed");
                let message = error.to_string();
                for reply in replies {
                    let _ = reply.send(Err(message.clone()));
                }
            }
        }
        metrics::counter!("shop_order_batches_total").increment(1);
    }
}

async fn write_batch(db: &Db, batch: Vec<NewOrder>) -> Result<Vec<Written>, StoreError> {
    let now = now_ms();
    let mut tx = db.begin().await?;

    // Claim the idempotency keys first; an order whose key is taken is not stored.
    let claims: Vec<(&NewOrder, &Claim)> = batch
        .iter()
        .filter_map(|o| o.claim.as_ref().map(|c| (o, c)))
        .collect();
    let mut claimed: HashSet<String> = HashSet::new();
    if !claims.is_empty() {
        let sql = format!(
            "INSERT INTO idempotency_keys (user_id, scope, key, request_hash, resource, created_at) VALUES {} \
             ON CONFLICT DO NOTHING RETURNING resource",
            values(claims.len(), 6)
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql);
        for (order, claim) in &claims {
            query = query
                .bind(order.user_id)
                .bind(claim.scope)
                .bind(claim.key.as_str())
                .bind(claim.request_hash.as_str())
                .bind(order.out_trade_no.as_str())
                .bind(now);
        }
        claimed = query.fetch_all(&mut *tx).await?.into_iter().collect();
    }
    let storing: Vec<&NewOrder> = batch
        .iter()
        .filter(|o| o.claim.is_none() || claimed.contains(&o.out_trade_no))
        .collect();

    let mut ids: HashMap<String, i64> = HashMap::new();
    if !storing.is_empty() {
        let sql = format!(
            "INSERT INTO orders (out_trade_no, user_id, subject, total_fen, status, created_at, updated_at, expires_at, pay_link_at, next_check_at) \
             VALUES {} RETURNING id, out_trade_no",
            values(storing.len(), 10)
        );
        let mut query = sqlx::query_as::<_, (i64, String)>(&sql);
        for order in &storing {
            query = query
                .bind(order.out_trade_no.as_str())
                .bind(order.user_id)
                .bind(order.priced.subject.as_str())
                .bind(order.priced.total.fen())
                .bind(OrderStatus::Unpaid.as_str())
                .bind(now)
                .bind(now)
                .bind(order.expires_at)
                .bind(now)
                .bind(order.first_check_at);
        }
        ids = query
            .fetch_all(&mut *tx)
            .await
            .map_err(StoreError::from_sqlx)?
            .into_iter()
            .map(|(id, out_trade_no)| (out_trade_no, id))
            .collect();

        let lines: Vec<(i64, &crate::domain::checkout::Line)> = storing
            .iter()
            .flat_map(|o| {
                o.priced
                    .lines
                    .iter()
                    .map(|line| (ids[&o.out_trade_no], line))
            })
            .collect();
        let sql = format!(
            "INSERT INTO order_items (order_id, course_id, course_name, price_fen, real_price_fen) VALUES {}",
            values(lines.len(), 5)
        );
        let mut query = sqlx::query(&sql);
        for (order_id, line) in &lines {
            query = query
                .bind(*order_id)
                .bind(line.course_id)
                .bind(line.name.as_str())
                .bind(line.price.fen())
                .bind(line.real_price.fen());
        }
        query.execute(&mut *tx).await?;
    }
    tx.commit().await?;

    Ok(batch
        .into_iter()
        .map(|order| match ids.get(&order.out_trade_no) {
            None => Written::KeyTaken,
            Some(&id) => Written::Created(Order {
                id,
                items: order
                    .priced
                    .lines
                    .iter()
                    .map(|line| Item {
                        course_id: line.course_id,
                        course_name: line.name.clone(),
                        price: line.price,
                        real_price: line.real_price,
                    })
                    .collect(),
                out_trade_no: order.out_trade_no,
                user_id: order.user_id,
                subject: order.priced.subject,
                total: order.priced.total,
                status: OrderStatus::Unpaid,
                trade_no: None,
                paid_at: None,
                refunded: Money::ZERO,
                created_at: now,
                expires_at: order.expires_at,
                pay_link_at: Some(now),
                check_attempts: 0,
            }),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::values;

    #[test]
    fn placeholders_number_rows_then_columns() {
        assert_eq!(values(2, 3), "($1, $2, $3), ($4, $5, $6)");
        assert_eq!(values(1, 1), "($1)");
    }
}

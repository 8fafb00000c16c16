//! Orders, their lines, and enrolments (fulfilment).

use futures_util::TryStreamExt as _;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Db, StoreError, Tx, now_ms};
use crate::domain::{Enrollment, Item, Money, Order, OrderStatus};

const COLUMNS: &str = "id, out_trade_no, user_id, subject, total_fen, status, trade_no, paid_at, refunded_fen, created_at, expires_at, pay_link_at, check_attempts";
/// [`COLUMNS`] of the orders table named `o`.
const LOCK_COLUMNS: &str = "o.id, o.out_trade_no, o.user_id, o.subject, o.total_fen, o.status, o.trade_no, o.paid_at, o.refunded_fen, o.created_at, o.expires_at, o.pay_link_at, o.check_attempts";

fn money(row: &AnyRow, column: &str) -> Result<Money, StoreError> {
    let fen: i64 = row.try_get(column)?;
    Money::try_from_fen(fen).map_err(|e| StoreError::Corrupt(format!("{column}: {e}")))
}

fn order(row: &AnyRow) -> Result<Order, StoreError> {
    let status: String = row.try_get("status")?;
    Ok(Order {
        id: row.try_get("id")?,
        out_trade_no: row.try_get("out_trade_no")?,
        user_id: row.try_get("user_id")?,
        subject: row.try_get("subject")?,
        total: money(row, "total_fen")?,
        status: status
            .parse()
            .map_err(|e: crate::domain::order::UnknownStatus| StoreError::Corrupt(e.to_string()))?,
        trade_no: row.try_get("trade_no")?,
        paid_at: row.try_get("paid_at")?,
        refunded: money(row, "refunded_fen")?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        pay_link_at: row.try_get("pay_link_at")?,
        check_attempts: row.try_get("check_attempts")?,
        items: Vec::new(),
    })
}

async fn items(
    executor: impl sqlx::Executor<'_, Database = sqlx::Any>,
    order_id: i64,
) -> Result<Vec<Item>, StoreError> {
    let rows = sqlx::query("SELECT course_id, course_name, price_fen, real_price_fen FROM order_items WHERE order_id = $1 ORDER BY course_id")
        .bind(order_id)
        .fetch_all(executor)
        .await?;
    rows.iter().map(item).collect()
}

fn item(row: &AnyRow) -> Result<Item, StoreError> {
    Ok(Item {
        course_id: row.try_get("course_id")?,
        course_name: row.try_get("course_name")?,
        price: money(row, "price_fen")?,
        real_price: money(row, "real_price_fen")?,
    })
}

/// An order with its lines.
pub async fn get(db: &Db, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orders WHERE out_trade_no = $1"
    ))
    .bind(out_trade_no)
    .fetch_optional(db.reader())
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut found = order(&row)?;
    found.items = items(db.reader(), found.id).await?;
    Ok(Some(found))
}

/// An order with its lines, locked for the rest of the transaction.
pub async fn lock(tx: &mut Tx, db: &Db, out_trade_no: &str) -> Result<Option<Order>, StoreError> {
    // Read ahead in this transaction and not given out yet: nothing has written to it since.
    if let Some(prefetched) = tx.prefetched.remove(out_trade_no) {
        return Ok(prefetched);
    }
    lock_where(tx, db, "out_trade_no = $1", Key::Text(out_trade_no)).await
}

/// An order by row id, with its lines, locked for the rest of the transaction.
pub async fn lock_by_id(tx: &mut Tx, db: &Db, order_id: i64) -> Result<Option<Order>, StoreError> {
    // Whoever locks an order may change it: a copy read ahead is no longer to be given out.
    tx.prefetched
        .retain(|_, order| order.as_ref().is_none_or(|o| o.id != order_id));
    lock_where(tx, db, "id = $1", Key::Id(order_id)).await
}

/// Reads the orders `numbers` (with their lines) under lock in one statement, for a batch that
/// will [`lock`] each of them next: each is then given out once, without a statement of its
/// own (a number with no order, as `None`). A later [`lock`] of the same order reads it again,
/// so a second notification for it in the batch sees what the first did. Should a copy be
/// stale anyway, the compare-and-set every change goes through refuses it.
pub async fn prefetch(tx: &mut Tx, db: &Db, numbers: &[&str]) -> Result<(), StoreError> {
    for chunk in numbers.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {LOCK_COLUMNS}, i.course_id, i.course_name, i.price_fen, i.real_price_fen \
             FROM orders o LEFT JOIN order_items i ON i.order_id = o.id \
             WHERE o.out_trade_no IN ({}) ORDER BY o.id, i.course_id{}",
            placeholders.join(", "),
            db.for_update_of("o")
        );
        let mut query = sqlx::query(&sql);
        for no in chunk {
            query = query.bind(*no);
        }
        let rows = query.fetch_all(&mut **tx).await?;
        for no in chunk {
            tx.prefetched.insert((*no).to_owned(), None);
        }
        let mut current: Option<Order> = None;
        for row in &rows {
            let id: i64 = row.try_get("id")?;
            if current.as_ref().is_none_or(|o| o.id != id) {
                if let Some(done) = current.take() {
                    tx.prefetched.insert(done.out_trade_no.clone(), Some(done));
                }
                current = Some(order(row)?);
            }
            if row.try_get::<Option<i64>, _>("course_id")?.is_some()
                && let Some(order) = current.as_mut()
            {
                order.items.push(item(row)?);
            }
        }
        if let Some(done) = current {
            tx.prefetched.insert(done.out_trade_no.clone(), Some(done));
        }
    }
    Ok(())
}

enum Key<'a> {
    Text(&'a str),
    Id(i64),
}

async fn lock_where(
    tx: &mut Tx,
    db: &Db,
    condition: &str,
    key: Key<'_>,
) -> Result<Option<Order>, StoreError> {
    // The order and its lines in one statement (one round trip to the writer), the order's
    // row locked on PostgreSQL.
    let sql = format!(
        "SELECT {LOCK_COLUMNS}, i.course_id, i.course_name, i.price_fen, i.real_price_fen \
         FROM orders o LEFT JOIN order_items i ON i.order_id = o.id \
         WHERE o.{condition} ORDER BY i.course_id{}",
        db.for_update_of("o")
    );
    let query = sqlx::query(&sql);
    let query = match key {
        Key::Text(text) => query.bind(text),
        Key::Id(id) => query.bind(id),
    };
    let rows = query.fetch_all(&mut **tx).await?;
    let Some(first) = rows.first() else {
        return Ok(None);
    };
    let mut found = order(first)?;
    for row in &rows {
        if row.try_get::<Option<i64>, _>("course_id")?.is_some() {
            found.items.push(item(row)?);
        }
    }
    Ok(Some(found))
}

/// An order by row id, with its lines.
pub async fn get_by_id(db: &Db, order_id: i64) -> Result<Option<Order>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM orders WHERE id = $1"))
        .bind(order_id)
        .fetch_optional(db.reader())
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut found = order(&row)?;
    found.items = items(db.reader(), found.id).await?;
    Ok(Some(found))
}

/// A user's orders, newest first, with their lines.
pub async fn for_user(db: &Db, user_id: i64, limit: i64) -> Result<Vec<Order>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orders WHERE user_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2"
    ))
    .bind(user_id)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    let mut orders = rows.iter().map(order).collect::<Result<Vec<_>, _>>()?;
    for found in &mut orders {
        found.items = items(db.reader(), found.id).await?;
    }
    Ok(orders)
}

/// Fields set together with a status change.
#[derive(Clone, Debug, Default)]
pub struct StatusFields {
    /// Alipay's trade number.
    pub trade_no: Option<String>,
    /// Payment time (ms).
    pub paid_at: Option<i64>,
}

/// The compare-and-set every status change goes through: moves the order from `from` to `to`
/// only if it is still in `from`. Returns whether it moved.
pub async fn compare_and_set_status(
    tx: &mut Tx,
    order_id: i64,
    from: OrderStatus,
    to: OrderStatus,
    fields: &StatusFields,
) -> Result<bool, StoreError> {
    let result = sqlx::query(
        "UPDATE orders SET status = $1, trade_no = COALESCE($2, trade_no), paid_at = COALESCE($3, paid_at), updated_at = $4, next_check_at = NULL \
         WHERE id = $5 AND status = $6",
    )
    .bind(to.as_str())
    .bind(fields.trade_no.as_deref())
    .bind(fields.paid_at)
    .bind(now_ms())
    .bind(order_id)
    .bind(from.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Adds to the refunded total.
pub async fn add_refunded(tx: &mut Tx, order_id: i64, amount: Money) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE orders SET refunded_fen = refunded_fen + $1, updated_at = $2 WHERE id = $3",
    )
    .bind(amount.fen())
    .bind(now_ms())
    .bind(order_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Gives the buyer the order's courses. A course the buyer already owns through another order
/// stays with that order (one enrolment per course).
pub async fn grant(tx: &mut Tx, order: &Order) -> Result<Granted, StoreError> {
    if order.items.is_empty() {
        return Ok(Granted { all: true });
    }
    let now = now_ms();
    let rows: Vec<String> = (0..order.items.len())
        .map(|i| format!("($1, ${}, $2, $3)", i + 4))
        .collect();
    let sql = format!(
        "INSERT INTO enrollments (user_id, course_id, order_id, granted_at) VALUES {} ON CONFLICT DO NOTHING",
        rows.join(", ")
    );
    let mut query = sqlx::query(&sql)
        .bind(order.user_id)
        .bind(order.id)
        .bind(now);
    for item in &order.items {
        query = query.bind(item.course_id);
    }
    let inserted = query.execute(&mut **tx).await?.rows_affected();
    Ok(Granted {
        all: inserted == order.items.len() as u64,
    })
}

/// What [`grant`] did.
#[derive(Clone, Copy, Debug)]
pub struct Granted {
    /// Every course was new to the buyer (none owned already, through any order).
    pub all: bool,
}

/// Of `order`'s courses, those its buyer already owns through another order that is still paid
/// for them (a second payment for the same course).
pub async fn owned_through_other_orders(
    tx: &mut Tx,
    order: &Order,
) -> Result<Vec<i64>, StoreError> {
    let courses: Vec<i64> = order.course_ids().collect();
    if courses.is_empty() {
        return Ok(Vec::new());
    }
    let placeholders: Vec<String> = (0..courses.len()).map(|i| format!("${}", i + 3)).collect();
    let sql = format!(
        "SELECT DISTINCT e.course_id FROM enrollments e JOIN orders o ON o.id = e.order_id \
         WHERE e.user_id = $1 AND e.order_id <> $2 AND o.status = 'paid' AND e.course_id IN ({}) \
         ORDER BY e.course_id",
        placeholders.join(", ")
    );
    let mut query = sqlx::query_scalar(&sql).bind(order.user_id).bind(order.id);
    for course in &courses {
        query = query.bind(*course);
    }
    Ok(query.fetch_all(&mut **tx).await?)
}

/// Takes back the courses `course_ids` that `order` gave. A course another paid order of the
/// same buyer also pays for (and has not been refunded for) is kept: its enrolment moves to
/// that order. Courses this order did not give are not touched.
pub async fn revoke(tx: &mut Tx, order: &Order, course_ids: &[i64]) -> Result<(), StoreError> {
    for &course_id in course_ids {
        let other: Option<i64> = sqlx::query_scalar(
            "SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id \
             WHERE o.user_id = $1 AND i.course_id = $2 AND o.id <> $3 AND o.status = 'paid' \
             AND NOT EXISTS (SELECT 1 FROM refund_items ri JOIN refunds r ON r.id = ri.refund_id \
                             WHERE r.order_id = o.id AND ri.course_id = i.course_id AND r.status <> 'failed') \
             ORDER BY o.paid_at, o.id LIMIT 1",
        )
        .bind(order.user_id)
        .bind(course_id)
        .bind(order.id)
        .fetch_optional(&mut **tx)
        .await?;
        let query = match other {
            Some(other) => sqlx::query(
                "UPDATE enrollments SET order_id = $1 WHERE user_id = $2 AND course_id = $3 AND order_id = $4",
            )
            .bind(other),
            None => sqlx::query(
                "DELETE FROM enrollments WHERE user_id = $1 AND course_id = $2 AND order_id = $3",
            ),
        };
        query
            .bind(order.user_id)
            .bind(course_id)
            .bind(order.id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

/// Whether the browser's return may ask Alipay about this order now: only while it is unpaid,
/// and at most once per `interval_ms` (a claim, so concurrent returns and instances ask once).
pub async fn claim_return_check(
    db: &Db,
    order_id: i64,
    interval_ms: i64,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let mut tx = db.begin().await?;
    let result = sqlx::query(
        "UPDATE orders SET return_checked_at = $1 WHERE id = $2 AND status = 'unpaid' \
         AND (return_checked_at IS NULL OR return_checked_at <= $3)",
    )
    .bind(now)
    .bind(order_id)
    .bind(now - interval_ms)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}

/// The courses a user owns, newest first.
pub async fn enrollments(db: &Db, user_id: i64) -> Result<Vec<Enrollment>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.course_id, c.name, o.out_trade_no, e.granted_at FROM enrollments e \
         JOIN courses c ON c.id = e.course_id JOIN orders o ON o.id = e.order_id \
         WHERE e.user_id = $1 ORDER BY e.granted_at DESC, e.course_id",
    )
    .bind(user_id)
    .fetch_all(db.reader())
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Enrollment {
                course_id: row.try_get("course_id")?,
                course_name: row.try_get("name")?,
                out_trade_no: row.try_get("out_trade_no")?,
                granted_at: row.try_get("granted_at")?,
            })
        })
        .collect()
}

/// Records that a fresh pay link was issued.
pub async fn mark_pay_link(db: &Db, order_id: i64, first_check_at: i64) -> Result<(), StoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE orders SET pay_link_at = $1, next_check_at = $2, check_attempts = 0, updated_at = $1 WHERE id = $3 AND status = 'unpaid'")
        .bind(now_ms())
        .bind(first_check_at)
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Unpaid orders with a pay link whose check is due.
pub async fn due_for_check(db: &Db, now: i64, limit: i64) -> Result<Vec<Order>, StoreError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM orders WHERE status = 'unpaid' AND pay_link_at IS NOT NULL AND next_check_at <= $1 ORDER BY next_check_at LIMIT $2"
    ))
    .bind(now)
    .bind(limit)
    .fetch_all(db.reader())
    .await?;
    rows.iter().map(order).collect()
}

/// Moves an order's next check later; `claim` only succeeds for the instance that saw `previous`,
/// so two instances never check the same order at once.
pub async fn reschedule_check(
    db: &Db,
    order_id: i64,
    previous_attempts: i64,
    next_check_at: i64,
    attempts: i64,
) -> Result<bool, StoreError> {
    let mut tx = db.begin().await?;
    let result = sqlx::query("UPDATE orders SET next_check_at = $1, check_attempts = $2 WHERE id = $3 AND check_attempts = $4 AND status = 'unpaid'")
        .bind(next_check_at)
        .bind(attempts)
        .bind(order_id)
        .bind(previous_attempts)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(result.rows_affected() == 1)
}

/// Unpaid orders past their deadline.
pub async fn expired_unpaid(db: &Db, now: i64, limit: i64) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT out_trade_no FROM orders WHERE status = 'unpaid' AND expires_at <= $1 ORDER BY expires_at LIMIT $2")
        .bind(now)
        .bind(limit)
        .fetch_all(db.reader())
        .await?)
}

/// The orders with these numbers (without their lines), looked up `IN` batches.
pub async fn by_out_trade_nos(db: &Db, numbers: &[&str]) -> Result<Vec<Order>, StoreError> {
    let mut found = Vec::with_capacity(numbers.len());
    for chunk in numbers.chunks(500) {
        let placeholders: Vec<String> = (1..=chunk.len()).map(|i| format!("${i}")).collect();
        let sql = format!(
            "SELECT {COLUMNS} FROM orders WHERE out_trade_no IN ({})",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for no in chunk {
            query = query.bind(*no);
        }
        for row in query.fetch_all(db.reader()).await? {
            found.push(order(&row)?);
        }
    }
    Ok(found)
}

/// Orders paid in `[from, until)` (Unix ms) and still paid or refunded since (without lines).
/// A day can hold a hundred thousand: rows are read one at a time, never all held at once.
pub async fn paid_between(db: &Db, from: i64, until: i64) -> Result<Vec<Order>, StoreError> {
    let sql = format!(
        "SELECT {COLUMNS} FROM orders WHERE paid_at >= $1 AND paid_at < $2 AND status IN ('paid', 'refunded') ORDER BY paid_at, id"
    );
    let mut rows = sqlx::query(&sql).bind(from).bind(until).fetch(db.reader());
    let mut found = Vec::new();
    while let Some(row) = rows.try_next().await? {
        found.push(order(&row)?);
    }
    Ok(found)
}

/// Which orders the back office lists.
#[derive(Clone, Debug, Default)]
pub struct OrderFilter<'a> {
    /// One status only.
    pub status: Option<OrderStatus>,
    /// Created at or after (Unix ms).
    pub from: Option<i64>,
    /// Created before (Unix ms).
    pub until: Option<i64>,
    /// The buyer's user name.
    pub buyer: Option<&'a str>,
    /// An `out_trade_no` or Alipay `trade_no`.
    pub number: Option<&'a str>,
}

/// Orders matching `filter`, newest first, with their buyers' names (no lines), and how many
/// match in all.
pub async fn search(
    db: &Db,
    filter: &OrderFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<(Order, String)>, i64), StoreError> {
    let mut conditions = vec!["1 = 1".to_owned()];
    let mut n = 0;
    let mut next = || {
        n += 1;
        format!("${n}")
    };
    if filter.status.is_some() {
        conditions.push(format!("o.status = {}", next()));
    }
    if filter.from.is_some() {
        conditions.push(format!("o.created_at >= {}", next()));
    }
    if filter.until.is_some() {
        conditions.push(format!("o.created_at < {}", next()));
    }
    if filter.buyer.is_some() {
        conditions.push(format!("u.username = {}", next()));
    }
    if filter.number.is_some() {
        let p = next();
        conditions.push(format!("(o.out_trade_no = {p} OR o.trade_no = {p})"));
    }
    let condition = conditions.join(" AND ");
    let columns = COLUMNS
        .split(", ")
        .map(|c| format!("o.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let list = format!(
        "SELECT {columns}, u.username FROM orders o JOIN users u ON u.id = o.user_id WHERE {condition} \
         ORDER BY o.created_at DESC, o.id DESC LIMIT {} OFFSET {}",
        next(),
        next()
    );
    let count =
        format!("SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id WHERE {condition}");
    macro_rules! bind_filter {
        ($query:expr) => {{
            let mut query = $query;
            if let Some(status) = filter.status {
                query = query.bind(status.as_str());
            }
            if let Some(from) = filter.from {
                query = query.bind(from);
            }
            if let Some(until) = filter.until {
                query = query.bind(until);
            }
            if let Some(buyer) = filter.buyer {
                query = query.bind(buyer);
            }
            if let Some(number) = filter.number {
                query = query.bind(number);
            }
            query
        }};
    }
    let rows = bind_filter!(sqlx::query(&list))
        .bind(limit)
        .bind(offset)
        .fetch_all(db.reader())
        .await?;
    let total: i64 = bind_filter!(sqlx::query_scalar(&count))
        .fetch_one(db.reader())
        .await?;
    let orders = rows
        .iter()
        .map(|row| Ok((order(row)?, row.try_get("username")?)))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((orders, total))
}

/// How many orders were paid in `[from, until)` (Unix ms), and for how much.
pub async fn paid_summary(db: &Db, from: i64, until: i64) -> Result<(i64, Money), StoreError> {
    let row = sqlx::query(
        "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(total_fen), 0) AS BIGINT) AS total FROM orders \
         WHERE paid_at >= $1 AND paid_at < $2 AND status IN ('paid', 'refunded')",
    )
    .bind(from)
    .bind(until)
    .fetch_one(db.reader())
    .await?;
    Ok((row.try_get("n")?, money(&row, "total")?))
}

/// Orders per status, for metrics.
pub async fn count_by_status(db: &Db) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM orders GROUP BY status")
        .fetch_all(db.reader())
        .await?;
    rows.iter()
        .map(|row| Ok((row.try_get("status")?, row.try_get("n")?)))
        .collect()
}

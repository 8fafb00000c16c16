//! Group commit of notifications on SQLite: one transaction for a batch; a notification that
//! fails is left out and the others committed without it. The batch here is made deterministic by queueing every notification
//! before the committer starts, so all of them are taken in one transaction.

use reqwest::StatusCode;
use serde_json::Value;
use shop::payments::notify::batch::{self, Batches};
use shop::payments::notify::{Reply, receive_notification};

use crate::helpers::{TestApp, eventually, paid_fields, spawn_with};

/// A signed TRADE_SUCCESS notification for `order`.
fn paid_body(app: &TestApp, order: &Value, trade_no: &str) -> String {
    let fields = paid_fields(
        order["out_trade_no"].as_str().unwrap(),
        order["total_amount"].as_str().unwrap(),
        trade_no,
    );
    app.signed_notification(&app.alipay_key(), &fields)
}

#[tokio::test]
async fn one_batch_pays_each_order_once_and_a_failing_notification_fails_alone() {
    // SQLite even in the PostgreSQL pass: batches are SQLite's (PostgreSQL commits each alone).
    let app = spawn_with(|config| config.database_url = None).await;
    let buyer = app.buyer("alice").await;
    let first = app.order(&buyer, &[1]).await;
    let second = app.order(&buyer, &[2]).await;
    let broken = app.order(&buyer, &[3]).await;
    let broken_no = broken["out_trade_no"].as_str().unwrap().to_owned();

    // The database refuses anything recorded for the third order (as a damaged row or a full
    // disk would): its notification fails wherever it is handled.
    let mut tx = app.ctx.db.begin().await.unwrap();
    sqlx::query(&format!(
        "CREATE TRIGGER refuse_one BEFORE INSERT ON payment_events \
         WHEN NEW.order_id = (SELECT id FROM orders WHERE out_trade_no = '{broken_no}') \
         BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
    ))
    .execute(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let bodies = [
        paid_body(&app, &first, "2026112622001400000000000001"),
        paid_body(&app, &first, "2026112622001400000000000001"), // a duplicate, same batch
        paid_body(&app, &second, "2026112622001400000000000002"),
        paid_body(&app, &broken, "2026112622001400000000000003"),
    ];

    // Every notification waits in the queue before the committer runs: one batch.
    let (batches, incoming) = Batches::channel();
    let mut ctx = app.ctx.clone();
    ctx.notification_batches = Some(batches.clone());
    let requests: Vec<_> = bodies
        .iter()
        .map(|body| {
            let (ctx, body) = (ctx.clone(), body.clone());
            tokio::spawn(async move { receive_notification(&ctx, body.as_bytes(), None).await })
        })
        .collect();
    eventually("the four notifications queued for one batch", || async {
        (batches.queued() == bodies.len()).then_some(())
    })
    .await;
    let mut committer = app.ctx.clone();
    committer.notification_batches = None;
    tokio::spawn(batch::run(committer, incoming));

    let mut replies = Vec::new();
    for request in requests {
        replies.push(request.await.unwrap());
    }
    for reply in &replies[..3] {
        assert_eq!(reply.as_ref().unwrap(), &Reply::Success);
    }
    // The failing one failed in its batch, then alone: an error (Alipay will send it again),
    // never `success`.
    assert!(replies[3].is_err(), "{:?}", replies[3]);

    // Its batch-mates committed: each order paid once, each course granted once.
    for order in [&first, &second] {
        let no = order["out_trade_no"].as_str().unwrap();
        assert_eq!(app.order_status(&buyer, no).await, "paid");
        assert_eq!(
            app.count(&format!(
                "SELECT COUNT(*) FROM payment_events e JOIN orders o ON o.id = e.order_id \
                 WHERE o.out_trade_no = '{no}' AND e.kind = 'paid'"
            ))
            .await,
            1
        );
    }
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 2]);
    // Every verified notification of the batch is kept, the duplicate as one.
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'accepted'")
            .await,
        2
    );
    assert_eq!(
        app.count("SELECT COUNT(*) FROM notifications WHERE verdict = 'duplicate'")
            .await,
        1
    );
    // Nothing of the failed one stayed.
    assert_eq!(app.order_status(&buyer, &broken_no).await, "unpaid");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) FROM notifications WHERE out_trade_no = '{broken_no}'"
        ))
        .await,
        0
    );

    // When the database is well again, Alipay's next attempt pays it, through the shop's own
    // committer this time.
    let mut tx = app.ctx.db.begin().await.unwrap();
    sqlx::query("DROP TRIGGER refuse_one")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (status, answer) = app.notify(&bodies[3]).await;
    assert_eq!((status, answer.as_str()), (StatusCode::OK, "success"));
    assert_eq!(app.order_status(&buyer, &broken_no).await, "paid");
    assert_eq!(app.owned_courses(&buyer).await, vec![1, 2, 3]);
}

//! Group commit of verified notifications.
//!
//! On SQLite every write transaction ends in an fsync (`synchronous = FULL`: a notification is
//! answered `success` only once what it caused survives a power cut), and there is one writer.
//! One transaction per notification would cap the shop at the disk's fsync rate. So verified
//! notifications queue for one committer task, which takes whatever has queued up (up to
//! [`MAX_BATCH`]) and handles them in one transaction, each inside a savepoint of its own:
//!
//! * a notification whose handling fails is rolled back to its savepoint alone, and given back
//!   to its request to be handled again in a transaction of its own; its batch-mates commit;
//! * nobody is answered before the commit: if the commit fails, every notification of the batch
//!   is given back and handled alone (the one path is idempotent, so nothing happens twice);
//! * duplicates inside one batch see each other's writes, in order: the first pays, the second
//!   finds the order paid.
//!
//! PostgreSQL shares WAL flushes between concurrent commits by itself, and has many writers, so
//! there each notification keeps its own transaction.

use tokio::sync::{mpsc, oneshot};

use super::{Handled, handle};
use crate::context::Context;
use crate::store;

/// The most notifications committed in one transaction.
pub const MAX_BATCH: usize = 64;

/// A verified notification waiting for its batch.
#[derive(Debug)]
struct Job {
    notification: alipay::Notification,
    body: Vec<u8>,
    peer: Option<String>,
    /// `Some` once committed; `None`: not committed, handle it alone.
    reply: oneshot::Sender<Option<Handled>>,
}

/// The queue to the committer. Cheap to clone; the committer ends when every handle is gone.
#[derive(Clone, Debug)]
pub struct Batches {
    queue: mpsc::Sender<Job>,
}

/// The committer's end of the queue, to give to [`run`].
#[derive(Debug)]
pub struct Incoming(mpsc::Receiver<Job>);

impl Batches {
    /// A queue and its receiving end.
    #[must_use]
    pub fn channel() -> (Batches, Incoming) {
        let (queue, incoming) = mpsc::channel(4 * MAX_BATCH);
        (Batches { queue }, Incoming(incoming))
    }

    /// How many notifications wait for their batch now.
    #[must_use]
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Handles `notification` in the next batch and waits for its commit. `None`: it was not
    /// committed (it failed in its batch, or the batch failed); handle it alone.
    pub async fn commit(
        &self,
        notification: &alipay::Notification,
        body: &[u8],
        peer: Option<&str>,
    ) -> Option<Handled> {
        let (reply, answer) = oneshot::channel();
        let job = Job {
            notification: notification.clone(),
            body: body.to_vec(),
            peer: peer.map(str::to_owned),
            reply,
        };
        self.queue.send(job).await.ok()?;
        answer.await.ok().flatten()
    }
}

/// Commits batches until every [`Batches`] handle is dropped. `ctx` must not hold one (its
/// `notification_batches` is `None`), or the queue would never close.
pub async fn run(ctx: Context, Incoming(mut incoming): Incoming) {
    while let Some(first) = incoming.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match incoming.try_recv() {
                Ok(next) => batch.push(next),
                Err(_) => break,
            }
        }
        metrics::histogram!("shop_notification_batch_size").record(batch.len() as f64);
        let results = match commit_batch(&ctx, &batch).await {
            Ok(results) => results,
            Err(error) => {
                tracing::warn!(%error, size = batch.len(), "a batch of notifications did not commit; each is handled alone");
                vec![None; batch.len()]
            }
        };
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

/// One transaction for the batch, a savepoint for each notification in it.
async fn commit_batch(
    ctx: &Context,
    batch: &[Job],
) -> Result<Vec<Option<Handled>>, store::StoreError> {
    let mut tx = ctx.db.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        store::savepoint(&mut tx).await?;
        match handle(
            &mut tx,
            ctx,
            &job.notification,
            &job.body,
            job.peer.as_deref(),
        )
        .await
        {
            Ok(handled) => {
                store::release_savepoint(&mut tx).await?;
                results.push(Some(handled));
            }
            Err(error) => {
                tracing::info!(%error, out_trade_no = %crate::log::cut(&job.notification.out_trade_no), "a notification failed in its batch; it is handled alone");
                store::rollback_to_savepoint(&mut tx).await?;
                results.push(None);
            }
        }
    }
    tx.commit().await?;
    Ok(results)
}

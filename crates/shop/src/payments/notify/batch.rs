//! Group commit of verified notifications.
//!
//! On SQLite every write transaction ends in an fsync (`synchronous = FULL`: a notification is
//! answered `success` only once what it caused survives a power cut), and there is one writer.
//! One transaction per notification would cap the shop at the disk's fsync rate. So verified
//! notifications queue for one committer task, which takes whatever has queued up (up to
//! [`MAX_BATCH`]) and handles them, one after another, in one transaction:
//!
//! * a notification whose handling fails rolls the transaction back; it is given back to its
//!   request, to be handled again in a transaction of its own, and its batch-mates are handled
//!   again without it, in a new transaction (failures are rare: this costs less than a savepoint
//!   around every notification, two more round trips to the writer each);
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
use crate::log::cut;
use crate::store::StoreError;

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
        let results = commit_batch(&ctx, &batch).await;
        for (job, result) in batch.into_iter().zip(results) {
            let _ = job.reply.send(result);
        }
    }
}

/// Handles and commits `batch`, leaving out (and retrying without) any notification that fails;
/// `None` for those not committed.
async fn commit_batch(ctx: &Context, batch: &[Job]) -> Vec<Option<Handled>> {
    let mut results = vec![None; batch.len()];
    let mut members: Vec<usize> = (0..batch.len()).collect();
    while !members.is_empty() {
        match attempt(ctx, batch, &members).await {
            Ok(handled) => {
                for (&index, handled) in members.iter().zip(handled) {
                    results[index] = Some(handled);
                }
                break;
            }
            Err(Failed::One { position, error }) => {
                let job = &batch[members.remove(position)];
                tracing::info!(%error, out_trade_no = %cut(&job.notification.out_trade_no), "a notification failed in its batch; it is handled alone, the others again without it");
            }
            Err(Failed::All(error)) => {
                tracing::warn!(%error, size = members.len(), "a batch of notifications did not commit; each is handled alone");
                break;
            }
        }
    }
    results
}

/// Why an attempt at a batch was rolled back.
enum Failed {
    /// The notification at this position of the attempt failed.
    One { position: usize, error: StoreError },
    /// The transaction itself (begin or commit) failed.
    All(StoreError),
}

/// One transaction for the notifications of `batch` at `members`.
async fn attempt(ctx: &Context, batch: &[Job], members: &[usize]) -> Result<Vec<Handled>, Failed> {
    let mut tx = ctx.db.begin().await.map_err(Failed::All)?;
    // Every order the batch names, read in one statement rather than one each.
    let numbers: Vec<&str> = members
        .iter()
        .map(|&index| batch[index].notification.out_trade_no.as_str())
        .collect();
    crate::store::orders::prefetch(&mut tx, &ctx.db, &numbers)
        .await
        .map_err(Failed::All)?;
    let mut handled = Vec::with_capacity(members.len());
    for (position, &index) in members.iter().enumerate() {
        let job = &batch[index];
        match handle(
            &mut tx,
            ctx,
            &job.notification,
            &job.body,
            job.peer.as_deref(),
        )
        .await
        {
            Ok(done) => handled.push(done),
            // Dropping the transaction rolls it back.
            Err(error) => return Err(Failed::One { position, error }),
        }
    }
    tx.commit().await.map_err(|e| Failed::All(e.into()))?;
    Ok(handled)
}

//! A small pool of threads for password hashing.
//!
//! argon2id takes ~19 MiB and tens of milliseconds per hash. Run on tokio's blocking pool, a
//! burst of logins or registrations would hash on as many threads as there are requests, and
//! the allocator keeps a per-thread arena of each thread's last 19 MiB: 64 concurrent
//! registrations measured +618 MiB of resident memory. Here a fixed number of threads (about one
//! per core) take the work from a bounded queue, each with its own reused argon2 working memory
//! ([`Workspace`]), so memory stays at a few hashes' worth however many requests arrive: callers
//! wait their turn (asynchronously) instead.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};

use crate::domain::user::Workspace;

type Job = Box<dyn FnOnce(&mut Workspace) + Send>;

/// The pool. Cheap to share; its threads stop when the last handle is dropped.
#[derive(Debug)]
pub struct Hashers {
    jobs: mpsc::Sender<Job>,
}

/// The pool is gone (its threads stopped).
#[derive(Debug, thiserror::Error)]
#[error("the password hashing threads are gone")]
pub struct Stopped;

impl Hashers {
    /// Starts `threads` hashing threads (at least one).
    #[must_use]
    pub fn new(threads: usize) -> Hashers {
        let (sender, receiver) = mpsc::channel::<Job>(256);
        let receiver = Arc::new(Mutex::new(receiver));
        for n in 0..threads.max(1) {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || {
                    let mut workspace = Workspace::default();
                    loop {
                        // One thread waits on the queue at a time; the others wait for the lock.
                        let job = match receiver.lock() {
                            Ok(mut queue) => queue.blocking_recv(),
                            Err(_) => None,
                        };
                        match job {
                            Some(job) => job(&mut workspace),
                            None => break,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "cannot start a password hashing thread");
            }
        }
        Hashers { jobs: sender }
    }

    /// Runs `work` on one of the pool's threads, with that thread's reusable argon2 working
    /// memory, and returns its result.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Workspace) -> T + Send + 'static,
    ) -> Result<T, Stopped> {
        let (done, result) = oneshot::channel();
        let job: Job = Box::new(move |workspace| {
            let _ = done.send(work(workspace));
        });
        self.jobs.send(job).await.map_err(|_| Stopped)?;
        result.await.map_err(|_| Stopped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_on_the_pool_threads() {
        let hashers = Hashers::new(2);
        let name = hashers
            .run(|_| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("password-hash-"));
    }
}

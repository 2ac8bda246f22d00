//! The single SQLite writer with group commit.
//!
//! SQLite allows one writer at a time, and a commit costs far more than a row. So every
//! write of this process goes through one task that owns the only write connection: it
//! takes whatever operations are waiting (up to [`MAX_BATCH`]), runs them all in one
//! `BEGIN IMMEDIATE` transaction, commits once, and only then answers each caller. Under
//! load batches form by themselves while the previous commit runs; when idle a lone
//! operation commits at once, so no artificial delay is added.
//!
//! Operations must not write anything before returning a non-database error (e.g.
//! `LeaseLost`): only a database error aborts the batch, and then every caller in it gets
//! that error because nothing of the batch was committed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sqlx::{Connection, SqliteConnection};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::error::{QueueError, Result};

/// Most operations committed in one transaction; bounds the latency of one batch.
const MAX_BATCH: usize = 512;
/// Waiting operations before callers are slowed down (back-pressure).
const CHANNEL_CAPACITY: usize = 8192;

/// A boxed future borrowing the connection.
pub(super) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One caller's operation, type-erased so one channel carries them all.
trait WriteOp: Send {
    /// Runs inside the batch transaction. `Err` means a database error: abort the batch.
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFut<'c, Result<()>>;
    /// Answers the caller once the batch committed (`Ok`) or failed (`Err`).
    fn finish(self: Box<Self>, batch: Result<()>);
    /// Whether a successful commit may have made jobs claimable.
    fn wakes_workers(&self) -> bool;
}

struct Op<R, F> {
    work: Option<F>,
    outcome: Option<Result<R>>,
    reply: oneshot::Sender<Result<R>>,
    wakes: bool,
}

impl<R, F> WriteOp for Op<R, F>
where
    R: Send + 'static,
    F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<R>> + Send,
{
    fn run<'c>(&'c mut self, conn: &'c mut SqliteConnection) -> BoxFut<'c, Result<()>> {
        Box::pin(async move {
            let work = self.work.take().ok_or(QueueError::Closed)?;
            let outcome = work(conn).await;
            let abort = match &outcome {
                Err(error @ QueueError::Database { .. }) => Err(error.clone()),
                _ => Ok(()),
            };
            self.outcome = Some(outcome);
            abort
        })
    }

    fn finish(self: Box<Self>, batch: Result<()>) {
        let answer = match batch {
            Ok(()) => self.outcome.unwrap_or(Err(QueueError::Closed)),
            Err(error) => Err(error),
        };
        // The caller may have given up (dropped its future); nothing to do then.
        let _ = self.reply.send(answer);
    }

    fn wakes_workers(&self) -> bool {
        self.wakes
    }
}

enum Msg {
    Op(Box<dyn WriteOp>),
    Close(oneshot::Sender<()>),
}

/// Handle to the writer task; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Msg>,
}

impl Writer {
    /// Starts the task on `conn`. `wake` is signalled after commits that may have made
    /// jobs claimable.
    pub(super) fn spawn(conn: SqliteConnection, wake: Arc<Notify>) -> Writer {
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        tokio::spawn(run(conn, rx, wake));
        Writer { tx }
    }

    /// Runs `work` in the next batch and returns its result once committed.
    pub(super) async fn call<R, F>(&self, wakes: bool, work: F) -> Result<R>
    where
        R: Send + 'static,
        F: for<'c> FnOnce(&'c mut SqliteConnection) -> BoxFut<'c, Result<R>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let op = Op {
            work: Some(work),
            outcome: None,
            reply,
            wakes,
        };
        self.tx
            .send(Msg::Op(Box::new(op)))
            .await
            .map_err(|_| QueueError::Closed)?;
        answer.await.map_err(|_| QueueError::Closed)?
    }

    /// Finishes pending operations, closes the connection and stops the task.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Msg::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Msg>, wake: Arc<Notify>) {
    let mut batch: Vec<Box<dyn WriteOp>> = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while let Some(first) = rx.recv().await {
        match first {
            Msg::Op(op) => batch.push(op),
            Msg::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Msg::Op(op)) => batch.push(op),
                Ok(Msg::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            let outcome = commit_batch(&mut conn, &mut batch).await;
            if let Err(error) = &outcome {
                tracing::warn!(%error, ops = batch.len(), "sqlite write batch rolled back");
            }
            let wakes = outcome.is_ok() && batch.iter().any(|op| op.wakes_workers());
            for op in batch.drain(..) {
                op.finish(outcome.clone());
            }
            if wakes {
                // Wake every idle worker now, and leave one permit for a worker that is
                // between an empty claim and its wait, so that wakeup is not lost.
                wake.notify_waiters();
                wake.notify_one();
            }
        }
        if let Some(done) = closing.take() {
            rx.close();
            let _ = conn.close().await;
            let _ = done.send(());
            return;
        }
    }
    let _ = conn.close().await;
}

async fn commit_batch(conn: &mut SqliteConnection, batch: &mut [Box<dyn WriteOp>]) -> Result<()> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
    // could fail with SQLITE_BUSY on upgrade when another process writes the same file.
    let mut tx = conn
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(QueueError::db("starting a write transaction"))?;
    for op in batch.iter_mut() {
        op.run(&mut tx).await?;
    }
    tx.commit()
        .await
        .map_err(QueueError::db("committing a write batch"))
}

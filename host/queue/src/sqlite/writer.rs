//! The single SQLite writer with group commit, on a thread of its own.
//!
//! SQLite allows one writer at a time, and a commit costs far more than a row. So every
//! write of this process goes through one thread that owns the only write connection: it
//! takes whatever operations are waiting (up to [`MAX_BATCH`]), runs them all in one
//! `BEGIN IMMEDIATE` transaction, commits once, and only then answers each caller. Under
//! load batches form by themselves while the previous commit runs; when idle a lone
//! operation commits at once, so no artificial delay is added.
//!
//! The thread calls SQLite directly: a batch of any size costs one hand-off from the async
//! callers to the thread and one answer back per caller, not a round trip per statement.
//! WAL checkpoints, the other large cost of a write-heavy SQLite, run on a second thread
//! with its own connection (`PASSIVE`, so they never block the writer), and
//! automatic checkpoints on the writer's commits are turned off.
//!
//! Operations must not write anything before returning a non-database error (e.g.
//! `LeaseLost`): only a database error aborts the batch, and then every caller in it gets
//! that error because nothing of the batch was committed.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use rusqlite::Connection;
use tokio::sync::{Notify, mpsc, oneshot};

use crate::error::{QueueError, Result};

/// Most operations committed in one transaction; bounds the latency of one batch.
const MAX_BATCH: usize = 512;
/// Waiting operations before callers are slowed down (back-pressure).
const CHANNEL_CAPACITY: usize = 8192;
/// How often the checkpointer copies committed WAL pages into the database file.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(100);

/// One caller's operation, type-erased so one channel carries them all.
trait WriteOp: Send {
    /// Runs inside the batch transaction. `Err` means a database error: abort the batch.
    fn run(&mut self, conn: &Connection) -> Result<()>;
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
    F: FnOnce(&Connection) -> Result<R> + Send,
{
    fn run(&mut self, conn: &Connection) -> Result<()> {
        let work = self.work.take().ok_or(QueueError::Closed)?;
        let outcome = work(conn);
        let abort = match &outcome {
            Err(error @ QueueError::Database { .. }) => Err(error.clone()),
            _ => Ok(()),
        };
        self.outcome = Some(outcome);
        abort
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

/// Handle to the writer thread; cheap to clone.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Msg>,
}

impl Writer {
    /// Starts the writer thread on `conn` (the database at `path`) and its checkpointer.
    /// `wake` is signalled after commits that may have made jobs claimable.
    pub(super) fn spawn(path: &Path, conn: Connection, wake: Arc<Notify>) -> Result<Writer> {
        let checkpoints = super::schema::open_checkpointer(path)?;
        conn.pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(QueueError::db("handing checkpoints to their thread"))?;
        let (tx, rx) = mpsc::channel(CHANNEL_CAPACITY);
        let (alive, writer_gone) = std::sync::mpsc::channel::<()>();
        let commits = Arc::new(AtomicU64::new(0));
        let committed = commits.clone();
        let start = |name: &str, body: Box<dyn FnOnce() + Send>| {
            std::thread::Builder::new()
                .name(name.into())
                .spawn(body)
                .map_err(QueueError::db("starting a SQLite thread"))
        };
        start(
            "sqlite-checkpoint",
            Box::new(move || checkpoint(&checkpoints, &committed, &writer_gone)),
        )?;
        start(
            "sqlite-writer",
            Box::new(move || {
                run(conn, rx, &wake, &commits);
                drop(alive);
            }),
        )?;
        Ok(Writer { tx })
    }

    /// Runs `work` in the next batch and returns its result once committed.
    pub(super) async fn call<R, F>(&self, wakes: bool, work: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
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

    /// Finishes pending operations, closes the connection and stops the thread.
    pub(super) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.tx.send(Msg::Close(done)).await.is_ok() {
            let _ = closed.await;
        }
    }
}

fn run(conn: Connection, mut rx: mpsc::Receiver<Msg>, wake: &Notify, commits: &AtomicU64) {
    let mut batch: Vec<Box<dyn WriteOp>> = Vec::with_capacity(MAX_BATCH);
    let mut closing = None;
    while let Some(first) = rx.blocking_recv() {
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
            let outcome = commit_batch(&conn, &mut batch);
            commits.fetch_add(1, Ordering::Relaxed);
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
            drop(conn);
            let _ = done.send(());
            return;
        }
    }
}

/// Checkpoints every [`CHECKPOINT_EVERY`] when the writer committed since the last one,
/// until the writer thread ends (its end drops the sender of `writer_gone`).
fn checkpoint(conn: &Connection, commits: &AtomicU64, writer_gone: &std::sync::mpsc::Receiver<()>) {
    use std::sync::mpsc::RecvTimeoutError;
    let mut seen = 0;
    while let Err(RecvTimeoutError::Timeout) = writer_gone.recv_timeout(CHECKPOINT_EVERY) {
        let now = commits.load(Ordering::Relaxed);
        if now == seen {
            continue;
        }
        seen = now;
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        if let Err(error) = done {
            tracing::warn!(%error, "sqlite checkpoint failed; retrying");
        }
    }
}

fn commit_batch(conn: &Connection, batch: &mut [Box<dyn WriteOp>]) -> Result<()> {
    // IMMEDIATE takes the write lock up front: a deferred transaction that reads first
    // could fail with SQLITE_BUSY on upgrade when another process writes the same file.
    conn.execute_batch("BEGIN IMMEDIATE")
        .map_err(QueueError::db("starting a write transaction"))?;
    let ran = batch.iter_mut().try_for_each(|op| op.run(conn));
    let ended = match ran {
        Ok(()) => conn
            .execute_batch("COMMIT")
            .map_err(QueueError::db("committing a write batch")),
        Err(error) => Err(error),
    };
    if ended.is_err() && !conn.is_autocommit() {
        // Nothing of a failed batch may stay: the next batch starts a fresh transaction.
        let _ = conn.execute_batch("ROLLBACK");
    }
    ended
}

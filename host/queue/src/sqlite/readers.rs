//! Read-only connections for reads beside the writer (WAL readers never block it or each
//! other). A read runs on tokio's blocking pool with a connection taken from the idle
//! list; at most [`READERS`] run at once, and connections are opened as first needed.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::Semaphore;

use super::schema;
use crate::error::{QueueError, Result};

/// Most reads at once (and most read connections).
const READERS: usize = 4;

/// The pool; cheap to clone.
#[derive(Clone)]
pub(super) struct Readers {
    path: Arc<PathBuf>,
    idle: Arc<Mutex<Vec<Connection>>>,
    permits: Arc<Semaphore>,
}

impl Readers {
    pub(super) fn new(path: PathBuf) -> Readers {
        Readers {
            path: Arc::new(path),
            idle: Arc::default(),
            permits: Arc::new(Semaphore::new(READERS)),
        }
    }

    /// Runs `read` on a read connection.
    pub(super) async fn read<R, F>(&self, read: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&Connection) -> Result<R> + Send + 'static,
    {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| QueueError::Closed)?;
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let conn = match this.idle().pop() {
                Some(conn) => conn,
                None => schema::open_reader(&this.path)?,
            };
            let answer = read(&conn);
            this.idle().push(conn);
            drop(permit);
            answer
        })
        .await
        .map_err(|_| QueueError::Closed)?
    }

    /// Closes the idle connections and refuses further reads.
    pub(super) fn close(&self) {
        self.permits.close();
        self.idle().clear();
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Connection>> {
        // A poisoned list still holds valid connections.
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }
}

//! Leadership for singleton duties (rescuer, pruner) through a session advisory lock.
//!
//! The lock lives as long as the session holding it, so the leader keeps one dedicated
//! connection open; if that process dies or its connection breaks, PostgreSQL releases
//! the lock and another process's next `try_lead` takes over.

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};
use tokio::sync::Mutex;

use crate::error::{QueueError, Result};

/// Advisory lock key: "framepip" in ASCII, unlikely to collide with other applications.
const LOCK_KEY: i64 = 0x6672_616d_6570_6970;

#[derive(Default)]
struct State {
    conn: Option<PgConnection>,
    leading: bool,
}

/// This process's view of leadership.
#[derive(Default)]
pub(super) struct Leadership {
    state: Mutex<State>,
}

impl Leadership {
    /// True while this process holds the lock; tries to take it otherwise.
    pub(super) async fn try_lead(&self, options: &PgConnectOptions) -> Result<bool> {
        let mut state = self.state.lock().await;
        if state.conn.is_none() {
            let conn = PgConnection::connect_with(options)
                .await
                .map_err(QueueError::db("connecting for leadership"))?;
            state.conn = Some(conn);
            state.leading = false;
        }
        let leading = state.leading;
        let Some(conn) = state.conn.as_mut() else {
            return Ok(false);
        };
        let checked = if leading {
            // A live session still holds its lock; a dead one lost it.
            sqlx::query("SELECT 1")
                .execute(&mut *conn)
                .await
                .map(|_| true)
        } else {
            sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                .bind(LOCK_KEY)
                .fetch_one(&mut *conn)
                .await
        };
        match checked {
            Ok(now_leading) => {
                state.leading = now_leading;
                Ok(now_leading)
            }
            Err(error) => {
                // Drop the broken session (and with it any lock) and report not leading.
                state.conn = None;
                state.leading = false;
                if leading {
                    tracing::warn!(%error, "lost queue leadership");
                    Ok(false)
                } else {
                    Err(QueueError::db("taking the leader lock")(error))
                }
            }
        }
    }

    /// Releases the lock (if held) and closes the connection.
    pub(super) async fn resign(&self) {
        let mut state = self.state.lock().await;
        if let Some(mut conn) = state.conn.take() {
            if state.leading {
                let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                    .bind(LOCK_KEY)
                    .execute(&mut conn)
                    .await;
            }
            let _ = conn.close().await;
        }
        state.leading = false;
    }
}

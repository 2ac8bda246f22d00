//! LISTEN/NOTIFY wakeups: a background task turns notifications on `framepipe_jobs` into
//! local [`Notify`] signals for [`crate::Store::wait_for_work`].

use std::sync::Arc;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::PgListener;
use tokio::sync::Notify;
use tokio::task::JoinHandle;

/// The channel the insert trigger (migration 0001) and rescues notify.
pub(super) const CHANNEL: &str = "framepipe_jobs";

/// Wakes idle workers now, and leaves one permit for a worker about to wait.
pub(super) fn wake_all(wake: &Notify) {
    wake.notify_waiters();
    wake.notify_one();
}

/// Starts the listener task; abort the handle to stop it.
pub(super) fn spawn(pool: PgPool, wake: Arc<Notify>) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            if let Err(error) = listen(&pool, &wake).await {
                tracing::warn!(%error, "postgres LISTEN failed; workers fall back to polling");
            }
            // Notifications may have been missed while disconnected.
            wake_all(&wake);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
}

async fn listen(pool: &PgPool, wake: &Notify) -> Result<(), sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener.listen(CHANNEL).await?;
    loop {
        // `None` means the connection dropped; the listener reconnects and re-listens on
        // the next call, but whatever was sent in between is lost, so wake everyone.
        if listener.try_recv().await?.is_none() {
            tracing::debug!("postgres listener reconnecting");
        }
        wake_all(wake);
    }
}

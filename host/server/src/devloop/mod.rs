//! The local dev loop of a plugin author: `plugin new` (a skeleton in Rust, Python or
//! JavaScript), `run-step --watch` (rerun on rebuild) and `job replay` (rerun one step of
//! a finished job on its own inputs and config, fetched through the API).

pub mod replay;
pub mod scaffold;
pub mod watch;

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

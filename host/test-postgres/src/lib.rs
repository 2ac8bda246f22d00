//! The PostgreSQL server that framepipe's tests and benchmarks use, so that they pass on
//! any machine with Debian's `postgresql` package, whatever its packaged cluster's port or
//! authentication.
//!
//! [`admin_url`] is `FRAMEPIPE_TEST_PG_URL` when set (any server where the user may
//! `CREATE DATABASE`); otherwise `tests/pg-cluster.sh` starts a throwaway trust-auth
//! cluster on a free loopback port, once per machine and user, shared by every test binary
//! (`tests/run-all.sh` starts one first and stops it at the end). Each test then makes a
//! database of its own on that server ([`database_url`]).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// URL of a database where the tests may `CREATE DATABASE`
/// (`postgres://user@host:port/db`).
///
/// # Panics
/// When `FRAMEPIPE_TEST_PG_URL` is unset and no cluster could be started; the message says
/// what is missing.
pub fn admin_url() -> String {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        std::env::var("FRAMEPIPE_TEST_PG_URL")
            .ok()
            .filter(|url| !url.is_empty())
            .unwrap_or_else(start_cluster)
    })
    .clone()
}

/// The URL of database `name` on the same server as `admin_url`.
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (server, _) = admin_url
        .rsplit_once('/')
        .expect("a PostgreSQL URL ends in /<database>");
    format!("{server}/{name}")
}

/// A database name no other test or run uses: `<prefix>_<time>_<pid>_<n>`.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_nanos();
    format!(
        "{prefix}_{nanos:x}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn start_cluster() -> String {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/pg-cluster.sh");
    let user = std::env::var("USER").unwrap_or_else(|_| "user".into());
    let dir = std::env::temp_dir().join(format!("framepipe-test-pg-{user}"));
    let output = Command::new("bash")
        .arg(&script)
        .arg("ensure")
        .arg(&dir)
        .output()
        .unwrap_or_else(|e| panic!("running {}: {e}", script.display()));
    if !output.status.success() {
        panic!(
            "FRAMEPIPE_TEST_PG_URL is unset and no throwaway PostgreSQL cluster could be started \
             in {}: {}. Install Debian's postgresql package or point FRAMEPIPE_TEST_PG_URL at a \
             server where the user may CREATE DATABASE.",
            dir.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    String::from_utf8(output.stdout)
        .expect("the script prints a URL")
        .trim()
        .to_owned()
}

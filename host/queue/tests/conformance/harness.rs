//! Per-test stores: a temp SQLite file, or a fresh PostgreSQL database dropped afterwards.

use std::future::Future;

use framepipe_queue::{NewJob, Store};
use serde_json::json;
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;

/// Which backend a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// What a test case gets.
pub struct Ctx {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    _dir: Option<TempDir>,
}

impl Ctx {
    /// Closes the store and opens the same database again (migrations run again).
    pub async fn reopen(&mut self) {
        self.store.close().await;
        self.store = Store::open(&self.url).await.expect("reopen store");
    }

    /// Opens a second, independent store on the same database (another "process").
    pub async fn open_another(&self) -> Store {
        Store::open(&self.url).await.expect("open second store")
    }

    /// Reads one text column of every row of a query, straight from the database.
    pub async fn raw_strings(&self, sql: &str) -> Vec<String> {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.strip_prefix("sqlite://").unwrap();
                let conn = rusqlite::Connection::open(path).unwrap();
                let mut statement = conn.prepare(sql).unwrap();
                let found = statement.query_map([], |row| row.get(0)).unwrap();
                found.collect::<Result<_, _>>().unwrap()
            }
            Backend::Postgres => {
                let mut conn = PgConnection::connect(&self.url).await.unwrap();
                sqlx::query_scalar(sql).fetch_all(&mut conn).await.unwrap()
            }
        }
    }
}

/// A small job for `owner`.
pub fn job(owner: &str, pipeline: &str) -> NewJob {
    NewJob::new(
        owner,
        pipeline,
        json!({"url": format!("https://example.com/{pipeline}")}),
    )
}

fn pg_base_url() -> String {
    framepipe_test_postgres::admin_url()
}

async fn pg_admin(base: &str) -> PgConnection {
    PgConnection::connect(base).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL is unreachable at {base}: {e}. The postgres::* tests need it: start \
             PostgreSQL or point FRAMEPIPE_TEST_PG_URL at a server where the user may \
             CREATE DATABASE."
        )
    })
}

fn with_database(base: &str, name: &str) -> String {
    framepipe_test_postgres::database_url(base, name)
}

/// Runs `case` on a fresh store, then cleans up (also when the case panics).
pub async fn run<F, Fut>(backend: Backend, case: F)
where
    F: FnOnce(Ctx) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (ctx, database) = match backend {
        Backend::Sqlite => {
            let dir = tempfile::tempdir().expect("temp dir");
            let url = format!("sqlite://{}", dir.path().join("queue.db").display());
            let store = Store::open(&url).await.expect("open sqlite store");
            let ctx = Ctx {
                store,
                url,
                backend,
                _dir: Some(dir),
            };
            (ctx, None)
        }
        Backend::Postgres => {
            let base = pg_base_url();
            let name = format!("fp_test_{}", uuid::Uuid::new_v4().simple());
            let mut admin = pg_admin(&base).await;
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut admin)
                .await
                .unwrap_or_else(|e| panic!("CREATE DATABASE {name} on {base}: {e}"));
            let url = with_database(&base, &name);
            let store = Store::open(&url).await.expect("open postgres store");
            (
                Ctx {
                    store,
                    url,
                    backend,
                    _dir: None,
                },
                Some((base, name)),
            )
        }
    };
    // A separate task, so a panicking case still lets us drop its database.
    let outcome = tokio::spawn(case(ctx)).await;
    if let Some((base, name)) = database {
        let mut admin = pg_admin(&base).await;
        let dropped = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut admin)
            .await;
        if let Err(e) = dropped {
            eprintln!("warning: could not drop test database {name}: {e}");
        }
    }
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

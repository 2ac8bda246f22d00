-- Jobs and API keys. Timestamps are INTEGER microseconds since the Unix epoch (UTC),
-- taken from the host clock: SQLite serves one host. Ids are UUIDv7 as 16-byte BLOBs.
CREATE TABLE jobs (
    id                 BLOB PRIMARY KEY NOT NULL,
    owner              TEXT NOT NULL,
    pipeline           TEXT NOT NULL,
    lane               TEXT NOT NULL,
    priority           INTEGER NOT NULL,
    state              TEXT NOT NULL CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    attempt            INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER NOT NULL CHECK (max_attempts >= 1),
    input              TEXT NOT NULL,
    params             TEXT NOT NULL,
    result             TEXT,
    error              TEXT,
    progress_processed INTEGER,
    progress_total     INTEGER,
    progress_at        INTEGER,
    cancel_requested   INTEGER NOT NULL DEFAULT 0,
    idempotency_key    TEXT,
    request_hash       TEXT,
    lease_owner        TEXT,
    lease_expires_at   INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    started_at         INTEGER,
    finished_at        INTEGER,
    run_at             INTEGER NOT NULL
);

-- Claim: equality on lane, then already in claim order. Partial, so it only holds the
-- (small) set of waiting jobs. The claim query repeats this exact predicate.
CREATE INDEX jobs_claim ON jobs (lane, priority DESC, run_at, created_at)
    WHERE state IN ('queued', 'retrying');
-- Listing an owner's jobs newest first (keyset on created_at, id).
CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
-- Idempotency keys are unique per owner.
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- Rescuing expired leases.
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
-- Pruning finished jobs.
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');
-- counts() for metrics and readiness.
CREATE INDEX jobs_state ON jobs (state);

CREATE TABLE api_keys (
    id         BLOB PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    admin      INTEGER NOT NULL,
    key_hash   TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

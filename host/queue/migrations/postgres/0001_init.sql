-- Jobs and API keys. Timestamps come from the database clock (now()), so workers on
-- many hosts agree on lease expiry and run_at whatever their own clocks say.
CREATE TABLE jobs (
    id                 uuid PRIMARY KEY,
    owner              text NOT NULL,
    pipeline           text NOT NULL,
    lane               text NOT NULL,
    priority           integer NOT NULL,
    state              text NOT NULL CHECK (state IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    attempt            integer NOT NULL DEFAULT 0,
    max_attempts       integer NOT NULL CHECK (max_attempts >= 1),
    input              jsonb NOT NULL,
    params             jsonb NOT NULL,
    result             jsonb,
    error              jsonb,
    progress_processed bigint,
    progress_total     bigint,
    progress_at        timestamptz,
    cancel_requested   boolean NOT NULL DEFAULT false,
    idempotency_key    text,
    request_hash       text,
    lease_owner        text,
    lease_expires_at   timestamptz,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    started_at         timestamptz,
    finished_at        timestamptz,
    run_at             timestamptz NOT NULL
);

-- Claim: equality on lane, then already in claim order; partial so it stays small.
CREATE INDEX jobs_claim ON jobs (lane, priority DESC, run_at, created_at)
    WHERE state IN ('queued', 'retrying');
CREATE INDEX jobs_owner_created ON jobs (owner, created_at DESC, id DESC);
CREATE UNIQUE INDEX jobs_idempotency ON jobs (owner, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');
CREATE INDEX jobs_state ON jobs (state);

-- Wake idle workers on every host when jobs arrive. A statement-level trigger fires once
-- per INSERT statement, and PostgreSQL folds identical notifications of a transaction.
CREATE FUNCTION framepipe_notify_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('framepipe_jobs', '');
    RETURN NULL;
END;
$$;
CREATE TRIGGER jobs_notify AFTER INSERT ON jobs
    FOR EACH STATEMENT EXECUTE FUNCTION framepipe_notify_jobs();

CREATE TABLE api_keys (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    admin      boolean NOT NULL,
    key_hash   text NOT NULL UNIQUE,
    created_at timestamptz NOT NULL
);

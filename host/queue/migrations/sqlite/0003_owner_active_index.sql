-- Per-key quotas count a key's queued, retrying and running jobs on every submission:
-- this partial index holds only those, so the count does not walk the key's history.
CREATE INDEX jobs_owner_active ON jobs (owner)
    WHERE state IN ('queued', 'retrying', 'running');

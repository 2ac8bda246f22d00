-- Without ANALYZE statistics SQLite preferred the equality index on `state` over the
-- partial claim/lease/finished indexes, so a claim sorted every waiting job and a batch
-- completion scanned every running one. counts() now scans the table instead, which is
-- cheap at the sizes retention keeps.
DROP INDEX IF EXISTS jobs_state;

-- Claims across several (or all) lanes walk this one in claim order instead of sorting
-- every waiting job of those lanes; single-lane claims keep using jobs_claim.
CREATE INDEX jobs_claim_any_lane ON jobs (priority DESC, run_at, created_at)
    WHERE state IN ('queued', 'retrying');

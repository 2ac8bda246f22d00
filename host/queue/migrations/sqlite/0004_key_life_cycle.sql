-- Keys with a life cycle: an optional expiry, and revocation (the row stays, for the
-- record of who owned which jobs, until the key is deleted). Microseconds, like the rest.
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN revoked_at INTEGER;

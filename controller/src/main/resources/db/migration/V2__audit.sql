-- The audit chain (docs/audit-and-alerts.md). Rows are only ever inserted. Each row's hash is an HMAC-SHA-256 over its
-- fields and the previous row's hash, keyed by a key that is kept outside the database, so whoever can edit this table
-- cannot recompute the chain. detail stays plain text: a JSON column type would normalise it and change the hashed bytes.
CREATE TABLE audit_log (
    seq       BIGINT                   NOT NULL PRIMARY KEY,
    at        TIMESTAMP WITH TIME ZONE NOT NULL,
    actor     VARCHAR(256)             NOT NULL,
    action    VARCHAR(128)             NOT NULL,
    target    VARCHAR(1024),
    detail    TEXT,
    prev_hash VARCHAR(64)              NOT NULL,
    hash      VARCHAR(64)              NOT NULL
);

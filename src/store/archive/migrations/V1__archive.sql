-- The archive tier: conversations resolved long enough ago, moved out of Redis whole.
-- `record` holds what the conversation view shows besides its customer (read live), its
-- state (always resolved) and its timeline; `timeline` the timeline, merged
-- conversations' entries included, as one JSON array of entries as the API shows them:
-- one row per conversation is what keeps the move cheap (measured against a row per
-- entry: README "The archive tier"), and a timeline is only ever read whole.
CREATE TABLE conversations (
    id           text PRIMARY KEY,
    customer_id  text NOT NULL,
    created_at   timestamptz NOT NULL,
    resolved_at  timestamptz NOT NULL,
    archived_at  timestamptz NOT NULL DEFAULT now(),
    record       jsonb NOT NULL,
    timeline     json COMPRESSION lz4 NOT NULL
);
CREATE INDEX conversations_by_customer ON conversations (customer_id, created_at);
CREATE INDEX conversations_by_resolution ON conversations (resolved_at);

-- The event feed as the archive keeps it (`app::feed_sink`): every event once, by its
-- CloudEvents id, with the customer it concerns (for erasure), and one row of facts per
-- resolved conversation for reporting (README "Event feed" has example queries). Never
-- any text a customer or an agent wrote: ids and figures only.
CREATE TABLE feed_events (
    id          text PRIMARY KEY,
    type        text NOT NULL,
    subject     text NOT NULL,
    customer_id text,
    time        timestamptz NOT NULL,
    data        jsonb NOT NULL
);
CREATE INDEX feed_events_time ON feed_events (time);
CREATE INDEX feed_events_customer ON feed_events (customer_id);

-- One row per resolved conversation: its latest resolution's facts (a reopened one is
-- resolved again), and the latest rating, which may come after it (a survey).
CREATE TABLE conversation_facts (
    conversation_id             text PRIMARY KEY,
    customer_id                 text NOT NULL,
    routing_group               text NOT NULL,
    resolved_at                 timestamptz NOT NULL,
    wait_secs                   double precision,
    wait_working_secs           double precision,
    first_response_secs         double precision,
    first_response_working_secs double precision,
    resolution_secs             double precision NOT NULL,
    resolution_working_secs     double precision NOT NULL,
    transfers                   integer NOT NULL,
    channels                    text[] NOT NULL,
    agent_id                    text,
    personal_agent_id           text,
    personal_agent_hit          boolean NOT NULL,
    csat                        smallint,
    complaint                   boolean NOT NULL,
    reopened                    integer NOT NULL
);
CREATE INDEX conversation_facts_resolved ON conversation_facts (resolved_at);
CREATE INDEX conversation_facts_customer ON conversation_facts (customer_id);

-- Where each sink reading the feed is (its cursor), moved in the same transaction as
-- what it wrote, so a sink that dies resumes exactly where it committed.
CREATE TABLE feed_sinks (
    name   text PRIMARY KEY,
    cursor text NOT NULL
);

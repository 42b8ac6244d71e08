-- The audit trail's older entries, moved out of Redis (`app::audit`): one row per entry,
-- ordered by its id as Redis numbered it (`<ms>-<seq>`, kept as two numbers). Never any
-- text: ids, actors and actions only.
CREATE TABLE audit (
    ms          bigint NOT NULL,
    seq         bigint NOT NULL,
    at          timestamptz NOT NULL,
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL,
    request_id  text,
    PRIMARY KEY (ms, seq)
);

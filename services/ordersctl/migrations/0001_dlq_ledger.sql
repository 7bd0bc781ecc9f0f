-- What operators did with dead letters. Kafka cannot delete one record, so a dead letter stays in
-- orders.dlq; its handling is recorded here and `ordersctl dlq stats/list` leave handled ones out.

-- One row per redrive or purge run: who, why, with which filters.
CREATE TABLE dlq_runs (
    run_id      uuid        PRIMARY KEY,
    action      text        NOT NULL CHECK (action IN ('redrive', 'purge')),
    actor       text        NOT NULL,
    reason      text        NOT NULL,
    filters     jsonb       NOT NULL,
    started_at  timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    -- done, interrupted or failed once the run ends
    outcome     text,
    records     integer     NOT NULL DEFAULT 0
);

-- One row per handled dead letter, keyed by its position in the DLQ topic.
CREATE TABLE dlq_handled (
    dlq_topic        text        NOT NULL,
    dlq_partition    integer     NOT NULL,
    dlq_offset       bigint      NOT NULL,
    action           text        NOT NULL CHECK (action IN ('redrive', 'purge')),
    -- A redrive row is 'pending' from just before the send until the broker's ack. A run that was
    -- killed in between looks for the record in the log (header redrive.id, from scan_from on)
    -- before sending it again, so a resumed redrive never sends a record twice.
    state            text        NOT NULL CHECK (state IN ('pending', 'done')),
    run_id           uuid        NOT NULL REFERENCES dlq_runs (run_id),
    actor            text        NOT NULL,
    reason           text        NOT NULL,
    target_topic     text,
    target_partition integer,
    scan_from        bigint,
    target_offset    bigint,
    -- For purges: the archive file the record was written to first.
    archive          text,
    handled_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dlq_topic, dlq_partition, dlq_offset)
);

-- Read models of the order pipeline. Every table lives in the schema the projection was given (the
-- connection's search_path), so a rebuild can fill a shadow schema side by side with the live one.

-- Current state of each order, partitioned by month of placement (partitions are created by the
-- projector on first use). The primary key must include the partition key; order ids are unique
-- anyway because they are derived from (caller, idempotency key) and deduplicated by event id.
CREATE TABLE orders (
    order_id               uuid        NOT NULL,
    placed_at              timestamptz NOT NULL,
    customer_id            text        NOT NULL,
    caller                 text        NOT NULL,
    channel                text        NOT NULL,
    currency               text        NOT NULL,
    status                 text        NOT NULL,
    cancellation_requested boolean     NOT NULL DEFAULT false,
    delivery_address       jsonb       NOT NULL,
    notes                  text,
    line_count             integer     NOT NULL,
    -- Number of events applied to this order, and the last of them.
    version                bigint      NOT NULL,
    last_event_id          uuid        NOT NULL,
    -- occurred_at of the last event applied.
    updated_at             timestamptz NOT NULL,
    -- Wall-clock time the projector wrote this row (placed-to-projected latency is measured from it).
    projected_at           timestamptz NOT NULL,
    PRIMARY KEY (order_id, placed_at)
) PARTITION BY RANGE (placed_at);

CREATE INDEX orders_by_order_id ON orders (order_id);
CREATE INDEX orders_by_placed ON orders (placed_at DESC, order_id DESC);
CREATE INDEX orders_by_customer ON orders (customer_id, placed_at DESC, order_id DESC);
CREATE INDEX orders_by_status ON orders (status, placed_at DESC, order_id DESC);

-- Lines as the shop sent them.
CREATE TABLE order_lines (
    order_id uuid    NOT NULL,
    line_no  integer NOT NULL,
    kind     text    NOT NULL CHECK (kind IN ('text', 'sku')),
    text     text,
    sku      text,
    quantity integer,
    unit     text,
    PRIMARY KEY (order_id, line_no)
);

-- Every event of every order, with its envelope; the primary key deduplicates replays.
CREATE TABLE order_timeline (
    event_id        uuid        PRIMARY KEY,
    order_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    event_version   integer     NOT NULL,
    occurred_at     timestamptz NOT NULL,
    causation_id    uuid,
    correlation_id  uuid        NOT NULL,
    idempotency_key text        NOT NULL,
    producer        text        NOT NULL,
    traceparent     text,
    tracestate      text,
    payload         jsonb       NOT NULL,
    kafka_topic     text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    projected_at    timestamptz NOT NULL
);

CREATE INDEX order_timeline_by_order ON order_timeline (order_id, kafka_partition, kafka_offset);

-- The next offset to read per projection and partition, written in the same transaction as the
-- effects of the records before it.
CREATE TABLE projection_offsets (
    projection      text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    next_offset     bigint      NOT NULL,
    updated_at      timestamptz NOT NULL,
    PRIMARY KEY (projection, topic, kafka_partition)
);

-- Records the projection could not decode; kept byte for byte so nothing read is lost.
CREATE TABLE projection_rejects (
    projection      text        NOT NULL,
    topic           text        NOT NULL,
    kafka_partition integer     NOT NULL,
    kafka_offset    bigint      NOT NULL,
    reason          text        NOT NULL,
    record_key      bytea,
    record_value    bytea,
    rejected_at     timestamptz NOT NULL,
    PRIMARY KEY (projection, topic, kafka_partition, kafka_offset)
);

-- Read models of the workers' decisions: enrichment, risk, routing, reviews; customer statistics
-- (read by the risk scorer) and hub load (for queries and dashboards; the router reserves capacity
-- in its own table, router_hub_capacity, so replicas never over-book a hub).

-- Denormalised summary on the order row, for listing and filtering without joins.
ALTER TABLE orders
    ADD COLUMN enrichment_provider   text,
    ADD COLUMN estimated_total_minor bigint,
    ADD COLUMN risk_score            smallint,
    ADD COLUMN risk_decision         text,
    ADD COLUMN hub_id                text,
    -- Why the order waits for a person (status HELD): risk review or no hub could take it.
    ADD COLUMN hold_reason           text,
    -- Wall-clock time the projector first moved the order to a decided status (ROUTED, HELD,
    -- REJECTED, CANCELLED): placed-to-decided latency is measured from it.
    ADD COLUMN decided_at            timestamptz;

-- The enrichment of each order, as the enricher emitted it.
CREATE TABLE order_enrichments (
    order_id              uuid             PRIMARY KEY,
    event_id              uuid             NOT NULL,
    provider              text             NOT NULL,
    language              text             NOT NULL,
    confidence            double precision NOT NULL,
    estimated_total_minor bigint,
    currency              text,
    -- Every provider tried, in order, with the outcome and the reason.
    attempts              jsonb            NOT NULL,
    -- The enriched lines (sku, name, category, normalised quantity and unit, prices, confidence).
    lines                 jsonb            NOT NULL,
    matched_lines         integer          NOT NULL,
    unmatched_lines       integer          NOT NULL,
    enriched_at           timestamptz      NOT NULL
);
CREATE INDEX order_enrichments_by_provider ON order_enrichments (provider);

-- The risk assessment of each order.
CREATE TABLE order_risk (
    order_id    uuid        PRIMARY KEY,
    event_id    uuid        NOT NULL,
    score       smallint    NOT NULL,
    decision    text        NOT NULL,
    reasons     jsonb       NOT NULL,
    assessed_at timestamptz NOT NULL
);

-- Where each routed order goes.
CREATE TABLE order_routes (
    order_id    uuid             PRIMARY KEY,
    event_id    uuid             NOT NULL,
    hub_id      text             NOT NULL,
    hub_name    text             NOT NULL,
    distance_km double precision NOT NULL,
    eta_minutes integer          NOT NULL,
    reason      text             NOT NULL,
    routed_at   timestamptz      NOT NULL
);

-- Reviews of held orders.
CREATE TABLE order_reviews (
    event_id    uuid        PRIMARY KEY,
    order_id    uuid        NOT NULL,
    reviewer    text        NOT NULL,
    decision    text        NOT NULL,
    comment     text        NOT NULL,
    reviewed_at timestamptz NOT NULL
);
CREATE INDEX order_reviews_by_order ON order_reviews (order_id);

-- Per customer: what the risk scorer compares an order against.
CREATE TABLE customer_stats (
    customer_id       text        PRIMARY KEY,
    orders_count      bigint      NOT NULL DEFAULT 0,
    -- Orders with an estimated total, and the sum of those totals (average = total / valued).
    valued_orders     bigint      NOT NULL DEFAULT 0,
    total_value_minor bigint      NOT NULL DEFAULT 0,
    cancelled_count   bigint      NOT NULL DEFAULT 0,
    rejected_count    bigint      NOT NULL DEFAULT 0,
    first_order_at    timestamptz NOT NULL,
    last_order_at     timestamptz NOT NULL
);

-- Orders routed to each hub per day (UTC), and how many of them were cancelled afterwards.
CREATE TABLE hub_load (
    hub_id    text    NOT NULL,
    day       date    NOT NULL,
    routed    integer NOT NULL DEFAULT 0,
    cancelled integer NOT NULL DEFAULT 0,
    PRIMARY KEY (hub_id, day)
);

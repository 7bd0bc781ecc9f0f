-- The router's own state. It is not a read model: it is what the router decided, so that it can
-- decide cancellations against the order's state, re-route a held order after review, never
-- over-book a hub across replicas, and give the same answer when it reads a source event again.

-- What the router knows about each order it has seen decided.
CREATE TABLE router_orders (
    order_id          uuid        PRIMARY KEY,
    state             text        NOT NULL
        CHECK (state IN ('held', 'routed', 'unroutable', 'rejected', 'cancelled')),
    -- Kept from the assessment so that a held order can be routed after its review.
    delivery_location jsonb,
    categories        text[],
    hub_id            text,
    -- The day (UTC) whose capacity the order holds at hub_id.
    day               date,
    updated_at        timestamptz NOT NULL
);

-- The router's answer to each event it handled (payload NULL: nothing emitted). A source event read
-- again after a crash gets the same answer, so capacity is reserved once and the follow-up is the
-- same record.
CREATE TABLE router_decisions (
    source_event_id uuid        PRIMARY KEY,
    order_id        uuid        NOT NULL,
    event_type      text,
    payload         jsonb,
    decided_at      timestamptz NOT NULL
);

-- Slots taken per hub and day; reserved with a conditional update, so concurrent routers never
-- exceed a hub's capacity.
CREATE TABLE router_hub_capacity (
    hub_id text    NOT NULL,
    day    date    NOT NULL,
    used   integer NOT NULL CHECK (used >= 0),
    PRIMARY KEY (hub_id, day)
);

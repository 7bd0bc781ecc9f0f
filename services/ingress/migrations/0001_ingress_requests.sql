-- Requests the ingress has accepted, keyed by (caller, idempotency key). The row holds the exact event
-- bytes, so a retry after a crash re-appends the identical record, and a row lock serialises
-- concurrent calls with one key so that exactly one append happens.
CREATE TABLE ingress_requests (
    caller          text        NOT NULL,
    idempotency_key text        NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('place', 'cancel')),
    request_hash    text        NOT NULL,
    order_id        uuid        NOT NULL,
    event_id        uuid        NOT NULL,
    event_json      bytea       NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Set once the broker acknowledged the append; NULL means the append must still be done.
    appended_at     timestamptz,
    PRIMARY KEY (caller, idempotency_key)
);

CREATE INDEX ingress_requests_by_order ON ingress_requests (order_id) WHERE kind = 'place';

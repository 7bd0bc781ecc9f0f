-- ReviewOrder requests are kept like PlaceOrder and CancelOrder ones.
ALTER TABLE ingress_requests DROP CONSTRAINT ingress_requests_kind_check;
ALTER TABLE ingress_requests ADD CONSTRAINT ingress_requests_kind_check
    CHECK (kind IN ('place', 'cancel', 'review'));

//! Deterministic identifiers.
//!
//! WARNING: changing any derivation here (namespace, input encoding, format) gives every replayed or
//! retried request a new id, which creates duplicates of every order and event already in the log and
//! in the read models. The golden values in the tests exist to make such a change loud.

use uuid::Uuid;

/// UUIDv5 namespace of order ids. Fixed forever.
pub const ORDER_ID_NAMESPACE: Uuid = Uuid::from_u128(0xfba0_5b81_fe29_4976_9930_8081_9e20_6568);
/// UUIDv5 namespace of event ids. Fixed forever.
pub const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0xad5b_fd40_1fae_4b35_9619_998f_2886_c29c);

/// The order id for a caller's idempotency key: the same (caller, key) always gives the same order.
///
/// The name hashed is `<byte length of caller>:<caller>:<key>`; the length prefix keeps it
/// unambiguous whatever characters the caller or key contain (`("a:b", "c")` ≠ `("a", "b:c")`).
pub fn order_id_for(caller: &str, idempotency_key: &str) -> Uuid {
    let name = format!("{}:{caller}:{idempotency_key}", caller.len());
    Uuid::new_v5(&ORDER_ID_NAMESPACE, name.as_bytes())
}

/// The event id for an envelope's idempotency key.
///
/// The key must therefore be unique across the whole log: follow-ups use [`follow_up_key`], and a
/// producer of first events (ingress) must scope the caller's key, e.g. by caller or order id.
pub fn event_id_for(idempotency_key: &str) -> Uuid {
    Uuid::new_v5(&EVENT_ID_NAMESPACE, idempotency_key.as_bytes())
}

/// The envelope idempotency key of an event started by a caller's request of `kind` ("place",
/// "cancel", "review"): `"<kind>:<byte length of caller>:<caller>:<key>"`. The length prefix keeps it
/// unambiguous (caller `a:b` with key `c` ≠ caller `a` with key `b:c`), so two callers' requests can
/// never share an event id.
pub fn request_key(kind: &str, caller: &str, idempotency_key: &str) -> String {
    format!("{kind}:{}:{caller}:{idempotency_key}", caller.len())
}

/// The idempotency key of the event a `stage` emits in reaction to `source_event_id`:
/// `"<stage>:<source event id>"` (hyphenated lower-case UUID). Reprocessing the same source event after
/// a crash yields the same key, hence the same event id.
pub fn follow_up_key(stage: &str, source_event_id: Uuid) -> String {
    format!("{stage}:{}", source_event_id.hyphenated())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_give_same_ids() {
        assert_eq!(
            order_id_for("shop-app", "k-1"),
            order_id_for("shop-app", "k-1")
        );
        assert_eq!(event_id_for("enricher:x"), event_id_for("enricher:x"));
    }

    #[test]
    fn different_callers_with_the_same_key_get_different_orders() {
        assert_ne!(
            order_id_for("shop-app", "k-1"),
            order_id_for("sales-rep", "k-1")
        );
        assert_ne!(
            order_id_for("shop-app", "k-1"),
            order_id_for("shop-app", "k-2")
        );
    }

    #[test]
    fn separator_is_unambiguous() {
        assert_ne!(order_id_for("a:b", "c"), order_id_for("a", "b:c"));
        assert_ne!(order_id_for("1:a", "b"), order_id_for("1", "a:b"));
    }

    #[test]
    fn order_and_event_namespaces_differ() {
        assert_ne!(order_id_for("", "k"), event_id_for("0::k"));
        assert_eq!(order_id_for("x", "k").get_version_num(), 5);
        assert_eq!(event_id_for("k").get_version_num(), 5);
    }

    /// Golden values: if these change, every replayed request and event gets a new id (duplicates).
    #[test]
    fn derivations_are_pinned() {
        assert_eq!(
            order_id_for("shop-app", "k-1").to_string(),
            Uuid::new_v5(&ORDER_ID_NAMESPACE, b"8:shop-app:k-1").to_string()
        );
        assert_eq!(order_id_for("shop-app", "k-1").to_string(), GOLDEN_ORDER_ID);
        assert_eq!(event_id_for("enricher:k").to_string(), GOLDEN_EVENT_ID);
    }

    // Computed independently (Python `uuid.uuid5`), not by this code.
    const GOLDEN_ORDER_ID: &str = "aa302132-31a9-56ad-9e37-04c45a278343";
    const GOLDEN_EVENT_ID: &str = "2d6f03c5-d54b-5e95-9c12-8361564a55e8";

    #[test]
    fn request_keys_are_unambiguous_and_pinned() {
        assert_eq!(
            request_key("place", "shop-app", "k-1"),
            "place:8:shop-app:k-1"
        );
        assert_ne!(
            event_id_for(&request_key("place", "a:b", "c")),
            event_id_for(&request_key("place", "a", "b:c"))
        );
        assert_ne!(
            request_key("place", "a", "k"),
            request_key("cancel", "a", "k")
        );
    }

    #[test]
    fn follow_up_key_format() {
        let source = Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef);
        assert_eq!(
            follow_up_key("enricher", source),
            "enricher:01234567-89ab-cdef-0123-456789abcdef"
        );
    }
}

//! The JSON Schemas of every event type and version, embedded from `event-schemas/schemas/`.
//!
//! Each file describes a whole record (envelope + payload) and is self-contained (no `$ref` to other
//! files), so a published file never changes meaning. Published files are pinned in `schemas.lock`;
//! a change is a new `<Type>.v<N+1>.json` plus an upcaster in `codec.rs`, never an edit.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::Value;

use crate::{DecodeError, EventType, codec};

/// One embedded schema file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchemaFile {
    pub event_type: EventType,
    pub version: u32,
    /// `<EventType>.v<N>.json`, relative to `event-schemas/schemas/`.
    pub file_name: &'static str,
    /// The file's text.
    pub source: &'static str,
}

macro_rules! schema_files {
    ($(($event_type:ident, $version:literal)),* $(,)?) => {
        /// Every schema file, embedded at build time. A file in `schemas/` that is not listed here is
        /// caught by the tests.
        pub const SCHEMA_FILES: &[SchemaFile] = &[$(
            SchemaFile {
                event_type: EventType::$event_type,
                version: $version,
                file_name: concat!(stringify!($event_type), ".v", $version, ".json"),
                source: include_str!(concat!(
                    "../schemas/", stringify!($event_type), ".v", $version, ".json"
                )),
            },
        )*];
    };
}

schema_files!(
    (OrderPlaced, 1),
    (OrderEnriched, 1),
    (OrderEnriched, 2),
    (OrderRiskAssessed, 1),
    (OrderRiskAssessed, 2),
    (OrderRouted, 1),
    (OrderReviewed, 1),
    (OrderCancellationRequested, 1),
    (OrderCancelled, 1),
    (OrderCancellationRejected, 1),
    (OrderRoutingFailed, 1),
);

/// The schema file of `event_type` at `version`, if there is one.
pub fn schema_file(event_type: EventType, version: u32) -> Option<&'static SchemaFile> {
    SCHEMA_FILES
        .iter()
        .find(|f| f.event_type == event_type && f.version == version)
}

/// Compiles a schema text the way this crate uses it: draft 2020-12, with `format` (uuid, date-time)
/// enforced rather than treated as an annotation.
pub fn compile(source: &str) -> Result<jsonschema::Validator, String> {
    let schema: Value = serde_json::from_str(source).map_err(|e| format!("not JSON: {e}"))?;
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|e| format!("not a valid JSON Schema: {e}"))
}

/// Compiled once, on first use. The embedded files are checked by the tests, so a failure here is a
/// build that skipped them.
static VALIDATORS: LazyLock<HashMap<(EventType, u32), jsonschema::Validator>> =
    LazyLock::new(|| {
        SCHEMA_FILES
            .iter()
            .map(|f| {
                let validator = compile(f.source)
                    .unwrap_or_else(|e| panic!("embedded schema {} is broken: {e}", f.file_name));
                ((f.event_type, f.version), validator)
            })
            .collect()
    });

/// Validates a whole record against the schema chosen by its `event_type` and `event_version`.
///
/// Errors: `BadEnvelope` / `UnknownEventType` / `UnsupportedVersion` when no schema can be chosen,
/// `SchemaViolation` listing every violation as `<JSON pointer>: <what is wrong>`.
/// Parts of an event whose values are personal data (names, phone numbers, addresses, free text).
const PERSONAL: &[&str] = &["/delivery_address", "/contact", "/notes", "/comment"];

pub fn validate(value: &Value) -> Result<(), DecodeError> {
    let (event_type, version) = codec::type_and_version(value)?;
    let validator =
        VALIDATORS
            .get(&(event_type, version))
            .ok_or(DecodeError::UnsupportedVersion {
                event_type,
                version,
            })?;
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| {
            let path = e.instance_path().to_string();
            let path = if path.is_empty() { "/" } else { &path };
            // The validator's message quotes the offending value. Under the address, the contact
            // or the notes that is personal data, which must not reach logs or dead-letter headers.
            if PERSONAL.iter().any(|p| path.contains(p)) {
                format!("{path}: invalid value (not shown: personal data)")
            } else {
                format!("{path}: {e}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(DecodeError::SchemaViolation {
            event_type,
            version,
            errors,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_has_a_schema_for_every_readable_version() {
        for t in EventType::ALL {
            for v in 1..=t.current_version() {
                let file = schema_file(t, v).unwrap_or_else(|| panic!("no schema for {t} v{v}"));
                assert_eq!(file.file_name, format!("{t}.v{v}.json"));
            }
        }
    }

    #[test]
    fn embedded_schemas_compile() {
        for f in SCHEMA_FILES {
            compile(f.source).unwrap_or_else(|e| panic!("{}: {e}", f.file_name));
        }
        assert_eq!(VALIDATORS.len(), SCHEMA_FILES.len());
    }

    #[test]
    fn records_without_a_schema_are_refused_before_validation() {
        let err = validate(&serde_json::json!({"event_type": "OrderPlaced", "event_version": 99}))
            .unwrap_err();
        assert!(
            matches!(err, DecodeError::UnsupportedVersion { version: 99, .. }),
            "{err}"
        );
        let err = validate(&serde_json::json!([1, 2])).unwrap_err();
        assert!(matches!(err, DecodeError::BadEnvelope(_)), "{err}");
    }
}

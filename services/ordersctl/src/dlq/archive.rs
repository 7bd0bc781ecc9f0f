//! The purge archive: one JSON object per dead letter, with the record's bytes in base64 so that a
//! redrive from the archive sends exactly what was dead-lettered, and the provenance readable.
use std::io::{BufRead, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::DeadLetter;
use super::view::{provenance_json, readable};
use crate::CtlError;
use orders_runtime::Record;

#[derive(Debug, Serialize, Deserialize)]
struct Header {
    name: String,
    value_b64: String,
}

#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    dlq_topic: String,
    dlq_partition: i32,
    dlq_offset: i64,
    timestamp_ms: Option<i64>,
    key_b64: Option<String>,
    value_b64: Option<String>,
    headers: Vec<Header>,
    /// For people and `jq`; not read back.
    #[serde(default)]
    provenance: serde_json::Value,
    #[serde(default)]
    value: serde_json::Value,
}

/// Writes `letters` to a new file at `path` and syncs it to disk. An existing file is never
/// overwritten: an archive is evidence.
pub fn write(path: &Path, letters: &[&DeadLetter]) -> Result<(), CtlError> {
    let fail = |e: std::io::Error| {
        CtlError::Failed(anyhow::anyhow!(
            "cannot write the archive {}: {e}",
            path.display()
        ))
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => CtlError::Usage(format!(
                "the archive {} already exists; give a new file name (archives are never overwritten)",
                path.display()
            )),
            _ => fail(e),
        })?;
    let mut out = std::io::BufWriter::new(file);
    for d in letters {
        let r = &d.record;
        let entry = Entry {
            dlq_topic: r.topic.clone(),
            dlq_partition: r.partition,
            dlq_offset: r.offset,
            timestamp_ms: r.timestamp_ms,
            key_b64: r.key.as_ref().map(|k| B64.encode(k)),
            value_b64: r.value.as_ref().map(|v| B64.encode(v)),
            headers: r
                .headers
                .iter()
                .map(|(k, v)| Header {
                    name: k.clone(),
                    value_b64: B64.encode(v),
                })
                .collect(),
            provenance: d
                .provenance
                .as_ref()
                .map(provenance_json)
                .unwrap_or_default(),
            value: readable(r.value.as_deref()),
        };
        serde_json::to_writer(&mut out, &entry).map_err(|e| fail(e.into()))?;
        out.write_all(b"\n").map_err(fail)?;
    }
    let file = out.into_inner().map_err(|e| fail(e.into_error()))?;
    file.sync_all().map_err(fail)?;
    Ok(())
}

/// Reads an archive back into dead letters (positions as they were in the DLQ topic).
pub fn read(path: &Path) -> Result<Vec<DeadLetter>, CtlError> {
    let file = std::fs::File::open(path).map_err(|e| {
        CtlError::NotFound(format!("cannot open the archive {}: {e}", path.display()))
    })?;
    let mut letters = Vec::new();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let bad = |what: String| {
            CtlError::Failed(anyhow::anyhow!(
                "{} line {}: {what}; is this a file written by `ordersctl dlq purge --archive`?",
                path.display(),
                n + 1
            ))
        };
        let line = line.map_err(|e| bad(e.to_string()))?;
        if line.trim().is_empty() {
            continue;
        }
        let e: Entry = serde_json::from_str(&line).map_err(|e| bad(e.to_string()))?;
        let decode = |s: &str| B64.decode(s).map_err(|e| bad(format!("bad base64: {e}")));
        let record = Record {
            topic: e.dlq_topic,
            partition: e.dlq_partition,
            offset: e.dlq_offset,
            key: e.key_b64.as_deref().map(decode).transpose()?,
            value: e.value_b64.as_deref().map(decode).transpose()?,
            headers: e
                .headers
                .iter()
                .map(|h| Ok((h.name.clone(), decode(&h.value_b64)?)))
                .collect::<Result<_, CtlError>>()?,
            timestamp_ms: e.timestamp_ms,
        };
        letters.push(DeadLetter::new(record));
    }
    Ok(letters)
}

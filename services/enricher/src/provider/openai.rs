//! Client for one OpenAI-compatible chat-completions endpoint.
//!
//! One call per order: the system message carries the task and the catalogue listing, the user
//! message the order lines as JSON, and the provider is asked for a JSON object
//! (`response_format: json_object`, `temperature: 0`). The answer is validated strictly before
//! anything of it is used: a provider that answers something else has failed, so that the
//! caller's circuit breaker and fallback see it.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Instant;

use serde_json::{Value, json};

use super::{AiAnswer, AiLine, ProviderConfig, ProviderError};

/// Longest body read from a provider. A chat answer for one order is a few KiB; anything this
/// large is not an answer, and reading it all would only cost memory.
const MAX_BODY_BYTES: usize = 1 << 20;

/// Longest excerpt of a provider's body quoted in an error, in characters.
const EXCERPT_CHARS: usize = 200;

/// Longest language tag accepted; RFC 5646 asks implementations to handle tags of at least 35
/// characters, and real answers are "en" or "hi-Latn".
const MAX_LANGUAGE_CHARS: usize = 35;

/// One OpenAI-compatible provider. Cheap to share behind an `Arc`; the HTTP client inside keeps
/// its connections.
pub struct OpenAiProvider {
    cfg: ProviderConfig,
    endpoint: reqwest::Url,
    client: reqwest::Client,
}

impl fmt::Debug for OpenAiProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiProvider")
            .field("cfg", &self.cfg)
            .field("endpoint", &self.endpoint.as_str())
            .finish_non_exhaustive()
    }
}

impl OpenAiProvider {
    /// A provider for `cfg`. Fails with [`ProviderError::Transport`] when `base_url` is not an
    /// http(s) URL, the timeout is zero, or the HTTP client cannot be built.
    pub fn new(cfg: ProviderConfig) -> Result<Self, ProviderError> {
        let raw = format!("{}/chat/completions", cfg.base_url.trim_end_matches('/'));
        let endpoint = reqwest::Url::parse(&raw)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(|| {
                ProviderError::Transport(format!(
                    "provider {}: base_url {:?} is not an http(s) URL; expected e.g. \
                     \"https://api.openai.com/v1\"",
                    cfg.name, cfg.base_url
                ))
            })?;
        if cfg.timeout.is_zero() {
            return Err(ProviderError::Transport(format!(
                "provider {}: timeout is zero; every call would time out",
                cfg.name
            )));
        }
        // The client's timeout covers connect, headers and body; `enrich` adds a
        // `tokio::time::timeout` around the whole call as a second bound.
        let client = reqwest::Client::builder()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout)
            .user_agent(concat!("orders-enricher/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| {
                ProviderError::Transport(format!(
                    "provider {}: cannot build the HTTP client: {}",
                    cfg.name,
                    error_chain(&err)
                ))
            })?;
        Ok(OpenAiProvider {
            cfg,
            endpoint,
            client,
        })
    }

    /// The provider's configured name.
    pub fn name(&self) -> &str {
        &self.cfg.name
    }

    /// Asks the provider to match `lines` (`(line_no, text as placed)`, line numbers unique) to
    /// the products of `catalogue_listing` (one product per line: "SKU | name | aliases | unit").
    ///
    /// Returns one [`AiLine`] per input line, in input order, or an error when the provider did
    /// not give a valid answer within the configured timeout. SKUs are not checked against the
    /// catalogue.
    pub async fn enrich(
        &self,
        lines: &[(u32, String)],
        catalogue_listing: &str,
    ) -> Result<AiAnswer, ProviderError> {
        let started = Instant::now();
        let outcome = tokio::time::timeout(self.cfg.timeout, self.call(lines, catalogue_listing))
            .await
            .unwrap_or(Err(ProviderError::Timeout(self.cfg.timeout)));
        let elapsed_ms = started.elapsed().as_millis() as u64;
        match &outcome {
            Ok(answer) => tracing::debug!(
                provider = %self.cfg.name,
                model = %self.cfg.model,
                lines = lines.len(),
                matched = answer.lines.iter().filter(|line| line.sku.is_some()).count(),
                elapsed_ms,
                "provider {} matched the order lines",
                self.cfg.name,
            ),
            Err(err) => tracing::debug!(
                provider = %self.cfg.name,
                model = %self.cfg.model,
                lines = lines.len(),
                kind = err.kind(),
                elapsed_ms,
                "provider {} gave no usable answer: {err}",
                self.cfg.name,
            ),
        }
        outcome
    }

    async fn call(
        &self,
        lines: &[(u32, String)],
        catalogue_listing: &str,
    ) -> Result<AiAnswer, ProviderError> {
        let mut request = self.client.post(self.endpoint.clone()).json(&request_body(
            &self.cfg.model,
            lines,
            catalogue_listing,
        ));
        if let Some(key) = &self.cfg.api_key {
            // reqwest marks the header sensitive, so it stays out of its own debug output.
            request = request.bearer_auth(key);
        }
        let mut response = request.send().await.map_err(|err| self.failed(err))?;
        let status = response.status();
        let (body, complete) = read_capped(&mut response)
            .await
            .map_err(|err| self.failed(err))?;
        if !status.is_success() {
            return Err(ProviderError::Status {
                code: status.as_u16(),
                body: self.excerpt(&String::from_utf8_lossy(&body)),
            });
        }
        if !complete {
            return Err(ProviderError::BadAnswer(format!(
                "response body larger than {MAX_BODY_BYTES} bytes"
            )));
        }
        parse_answer(&body, lines).map_err(|msg| ProviderError::BadAnswer(self.redact(&msg)))
    }

    fn failed(&self, err: reqwest::Error) -> ProviderError {
        if err.is_timeout() {
            ProviderError::Timeout(self.cfg.timeout)
        } else {
            ProviderError::Transport(self.redact(&error_chain(&err)))
        }
    }

    /// The start of a provider's body, safe to put in an error.
    fn excerpt(&self, text: &str) -> String {
        excerpt(&self.redact(text))
    }

    /// Providers sometimes echo the request's credentials in errors; never pass them on.
    fn redact(&self, text: &str) -> String {
        match &self.cfg.api_key {
            Some(key) if !key.is_empty() && text.contains(key.as_str()) => {
                text.replace(key.as_str(), "[redacted]")
            }
            _ => text.to_owned(),
        }
    }
}

/// The chat-completions request for one order.
fn request_body(model: &str, lines: &[(u32, String)], catalogue_listing: &str) -> Value {
    let user = json!({
        "lines": lines
            .iter()
            .map(|(line_no, text)| json!({ "line_no": line_no, "text": text }))
            .collect::<Vec<_>>(),
    });
    json!({
        "model": model,
        "temperature": 0,
        "response_format": { "type": "json_object" },
        "messages": [
            { "role": "system", "content": system_prompt(catalogue_listing) },
            { "role": "user", "content": user.to_string() },
        ],
    })
}

fn system_prompt(catalogue_listing: &str) -> String {
    format!(
        r#"You match the lines of a grocery order placed by a business customer to the products of a catalogue.
Order lines are free text in any language or script, e.g. "5 kg basmati rice" or "2 darjan anda" (Hinglish: 2 dozen eggs).

The catalogue has one product per line: SKU | name | aliases | unit.
<catalogue>
{catalogue}
</catalogue>

The user message is JSON: {{"lines": [{{"line_no": <number>, "text": "<the line as placed>"}}]}}.

Answer with a single JSON object and nothing else, exactly in this shape:
{{"language": "<BCP 47 tag of the order's language, e.g. en, hi-Latn>", "lines": [{{"line_no": <number>, "sku": "<SKU or null>", "quantity": <number>, "unit": "<unit>", "confidence": <number from 0 to 1>}}]}}

Rules:
- Exactly one entry per input line, with the same line_no; no other entries.
- sku: the SKU of the catalogue product the line asks for, copied exactly; null when no product fits. Never invent a SKU.
- quantity: a number greater than 0, the amount the line asks for ("2 dozen" is quantity 2, unit "dozen"); 1 when the line gives none.
- unit: the unit the line uses, in English ("kg", "g", "l", "ml", "dozen", "packet", "piece"); the product's unit when the line gives none.
- confidence: how sure you are that sku, quantity and unit are all right, from 0 to 1."#,
        catalogue = catalogue_listing.trim_end(),
    )
}

/// Reads the body up to [`MAX_BODY_BYTES`]; the flag says whether it was read to the end.
async fn read_capped(response: &mut reqwest::Response) -> Result<(Vec<u8>, bool), reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_BODY_BYTES - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            return Ok((body, false));
        }
        body.extend_from_slice(&chunk);
    }
    Ok((body, true))
}

/// Checks a chat-completions response body and the answer inside it against the lines asked
/// for. The error says what was wrong, for the operator.
fn parse_answer(body: &[u8], lines: &[(u32, String)]) -> Result<AiAnswer, String> {
    let response: Value = serde_json::from_slice(body).map_err(|err| {
        format!(
            "response body is not JSON ({err}): {}",
            excerpt(&String::from_utf8_lossy(body))
        )
    })?;
    let choice = response
        .get("choices")
        .and_then(Value::as_array)
        .ok_or("response has no \"choices\" array")?
        .first()
        .ok_or("response has an empty \"choices\" array")?;
    let content = match choice.pointer("/message/content") {
        Some(Value::String(content)) => content,
        _ => {
            return Err(
                match choice.pointer("/message/refusal").and_then(Value::as_str) {
                    Some(refusal) => format!("the model refused: {}", excerpt(refusal)),
                    None => "choices[0].message.content is not a string".to_owned(),
                },
            );
        }
    };
    let answer: Value = serde_json::from_str(unfence(content)).map_err(|err| {
        let cut_off = choice.get("finish_reason").and_then(Value::as_str) == Some("length");
        if cut_off {
            "the answer was cut off at the model's token limit (finish_reason \"length\")"
                .to_owned()
        } else {
            format!("content is not JSON ({err}): {}", excerpt(content))
        }
    })?;
    let answer = answer
        .as_object()
        .ok_or_else(|| format!("content is not a JSON object: {}", excerpt(content)))?;

    let language = match answer.get("language") {
        Some(Value::String(language)) => language.trim(),
        _ => return Err("\"language\" is missing or not a string".to_owned()),
    };
    let well_formed = |c: char| c.is_ascii_alphanumeric() || c == '-';
    if language.is_empty()
        || language.chars().count() > MAX_LANGUAGE_CHARS
        || !language.chars().all(well_formed)
    {
        return Err(format!(
            "\"language\" is not a BCP 47 tag: {:?}",
            excerpt(language)
        ));
    }

    let answered = answer
        .get("lines")
        .and_then(Value::as_array)
        .ok_or("\"lines\" is missing or not an array")?;
    let asked: HashSet<u32> = lines.iter().map(|(line_no, _)| *line_no).collect();
    let mut by_line_no: HashMap<u32, AiLine> = HashMap::with_capacity(answered.len());
    for (index, item) in answered.iter().enumerate() {
        let line = parse_line(item).map_err(|msg| format!("lines[{index}]: {msg}"))?;
        if !asked.contains(&line.line_no) {
            return Err(format!("line_no {} was not asked for", line.line_no));
        }
        let line_no = line.line_no;
        if by_line_no.insert(line_no, line).is_some() {
            return Err(format!("line_no {line_no} is answered more than once"));
        }
    }
    let mut missing = Vec::new();
    let mut in_order = Vec::with_capacity(lines.len());
    for (line_no, _) in lines {
        match by_line_no.remove(line_no) {
            Some(line) => in_order.push(line),
            // Already taken: the caller passed the same line_no twice.
            None if in_order
                .iter()
                .any(|line: &AiLine| line.line_no == *line_no) => {}
            None => missing.push(line_no.to_string()),
        }
    }
    if !missing.is_empty() {
        return Err(format!("no answer for line_no {}", missing.join(", ")));
    }
    Ok(AiAnswer {
        language: language.to_owned(),
        lines: in_order,
    })
}

fn parse_line(item: &Value) -> Result<AiLine, String> {
    let item = item.as_object().ok_or("not an object")?;
    let line_no = item
        .get("line_no")
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
        .ok_or_else(|| {
            format!(
                "line_no is not a line number: {}",
                shown(item.get("line_no"))
            )
        })?;
    let sku = match item.get("sku") {
        Some(Value::Null) => None,
        Some(Value::String(sku)) if sku.trim().is_empty() => None,
        Some(Value::String(sku)) => Some(sku.trim().to_owned()),
        other => {
            return Err(format!(
                "line {line_no}: sku is not a string or null: {}",
                shown(other)
            ));
        }
    };
    let quantity = item
        .get("quantity")
        .and_then(Value::as_f64)
        .filter(|q| q.is_finite() && *q > 0.0)
        .ok_or_else(|| {
            format!(
                "line {line_no}: quantity is not a number greater than 0: {}",
                shown(item.get("quantity"))
            )
        })?;
    let unit = item
        .get("unit")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|unit| !unit.is_empty())
        .ok_or_else(|| {
            format!(
                "line {line_no}: unit is not a non-empty string: {}",
                shown(item.get("unit"))
            )
        })?;
    let confidence = item
        .get("confidence")
        .and_then(Value::as_f64)
        .filter(|c| (0.0..=1.0).contains(c))
        .ok_or_else(|| {
            format!(
                "line {line_no}: confidence is not a number from 0 to 1: {}",
                shown(item.get("confidence"))
            )
        })?;
    Ok(AiLine {
        line_no,
        sku,
        quantity,
        unit: unit.to_owned(),
        confidence,
    })
}

/// The JSON inside a Markdown code fence (```json ... ```), or the content as is.
fn unfence(content: &str) -> &str {
    let trimmed = content.trim();
    let Some(rest) = trimmed.strip_prefix("```") else {
        return trimmed;
    };
    // Drop the info string ("json") up to the end of the opening line.
    let inner = rest.split_once('\n').map_or("", |(_, inner)| inner);
    inner.trim_end().strip_suffix("```").unwrap_or(inner).trim()
}

/// A value as it appeared in the answer, short enough for an error message.
fn shown(value: Option<&Value>) -> String {
    value.map_or_else(|| "missing".to_owned(), |value| excerpt(&value.to_string()))
}

/// At most [`EXCERPT_CHARS`] characters of `text`, on one line.
fn excerpt(text: &str) -> String {
    let flat: String = text
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= EXCERPT_CHARS {
        return flat;
    }
    let mut cut: String = flat.chars().take(EXCERPT_CHARS - 1).collect();
    cut.push('…');
    cut
}

/// An error and its causes, e.g. "error sending request: client error (Connect): tcp connect
/// error: Connection refused (os error 111)"; reqwest's own `Display` shows only the first.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;

//! The provider chain: the primary AI provider, then the secondary, each behind its circuit breaker,
//! then the local matcher, which always answers. Every provider tried is recorded with its outcome
//! and reason, so an `OrderEnriched` says which one answered and why the others did not.
//!
//! Providers see only the free-text lines; SKU lines are resolved from the catalogue directly. An
//! answer naming a SKU that is not in the catalogue, or a unit that does not parse, counts as a
//! failed answer (the breaker hears of it) and the next provider is asked.
use std::sync::Arc;

use orders_events::{EnrichedLine, LineItem, Money, PlacedLine, ProviderAttempt};

use crate::catalogue::{self, Catalogue};
use crate::local::{Enrichment, LocalEnricher};
use crate::provider::{AiAnswer, CircuitBreaker, OpenAiProvider};
use crate::units::Unit;

/// Name of the built-in matcher in `OrderEnriched.provider` and `attempts`.
pub const LOCAL: &str = "local";

/// One AI provider and its breaker.
pub struct Slot {
    pub provider: OpenAiProvider,
    pub breaker: CircuitBreaker,
}

/// The enrichment of an order and how it was obtained.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub enrichment: Enrichment,
    /// The provider whose answer was used.
    pub provider: String,
    /// Every provider tried, in order.
    pub attempts: Vec<ProviderAttempt>,
}

/// Providers in order of preference, then the local matcher.
pub struct Chain {
    slots: Vec<Slot>,
    local: LocalEnricher,
    listing: String,
}

impl Chain {
    pub fn new(slots: Vec<Slot>, catalogue: Arc<Catalogue>) -> Chain {
        let listing = catalogue.prompt_listing();
        Chain {
            slots,
            local: LocalEnricher::new(catalogue),
            listing,
        }
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Enriches `lines`; never fails.
    pub async fn enrich(&self, lines: &[PlacedLine]) -> Outcome {
        let texts: Vec<(u32, String)> = lines
            .iter()
            .filter_map(|l| match &l.item {
                LineItem::Text { text } => Some((l.line_no, text.clone())),
                LineItem::Sku { .. } => None,
            })
            .collect();
        let mut attempts = Vec::new();
        for slot in &self.slots {
            let name = slot.provider.name().to_owned();
            if texts.is_empty() {
                attempts.push(attempt(&name, "skipped", "no free-text lines"));
                continue;
            }
            let permit = match slot.breaker.try_acquire() {
                Ok(permit) => permit,
                Err(wait) if wait.is_zero() => {
                    attempts.push(attempt(
                        &name,
                        "skipped",
                        "circuit half-open; its trial calls are in flight",
                    ));
                    continue;
                }
                Err(wait) => {
                    let reason = format!(
                        "circuit open; next trial in {} s",
                        wait.as_secs_f64().ceil()
                    );
                    attempts.push(attempt(&name, "skipped", &reason));
                    continue;
                }
            };
            let answer = slot.provider.enrich(&texts, &self.listing).await;
            match answer
                .map_err(|e| format!("{}: {e}", e.kind()))
                .and_then(|a| self.enrichment_of(lines, &a))
            {
                Ok(enrichment) => {
                    permit.success();
                    attempts.push(ProviderAttempt {
                        provider: name.clone(),
                        outcome: "answered".into(),
                        reason: None,
                    });
                    return Outcome {
                        enrichment,
                        provider: name,
                        attempts,
                    };
                }
                Err(reason) => {
                    permit.failure();
                    tracing::warn!(provider = %name, %reason, "provider failed; trying the next");
                    attempts.push(attempt(&name, "failed", &reason));
                }
            }
        }
        attempts.push(ProviderAttempt {
            provider: LOCAL.into(),
            outcome: "answered".into(),
            reason: None,
        });
        Outcome {
            enrichment: self.local.enrich(lines),
            provider: LOCAL.into(),
            attempts,
        }
    }

    /// Turns a provider's answer into enriched lines, checked against the catalogue.
    fn enrichment_of(&self, lines: &[PlacedLine], answer: &AiAnswer) -> Result<Enrichment, String> {
        let catalogue = self.local.catalogue();
        if answer.language.len() < 2 {
            return Err(format!(
                "bad_answer: language {:?} is not a BCP 47 tag",
                answer.language
            ));
        }
        let mut enriched = Vec::with_capacity(lines.len());
        for line in lines {
            let LineItem::Text { text } = &line.item else {
                enriched.push(self.local.enrich_line(line));
                continue;
            };
            let ai = answer
                .lines
                .iter()
                .find(|a| a.line_no == line.line_no)
                .ok_or_else(|| format!("bad_answer: no answer for line {}", line.line_no))?;
            let unit = Unit::parse(&ai.unit).ok_or_else(|| {
                format!(
                    "bad_answer: line {} has unknown unit {:?}",
                    line.line_no, ai.unit
                )
            })?;
            enriched.push(match &ai.sku {
                Some(sku) => {
                    let product = catalogue.get(sku).ok_or_else(|| {
                        format!(
                            "bad_answer: line {} names SKU {sku:?}, which is not in the catalogue",
                            line.line_no
                        )
                    })?;
                    catalogue::price_line(
                        product,
                        catalogue.currency(),
                        line.line_no,
                        text,
                        ai.quantity,
                        unit,
                        ai.confidence,
                    )
                }
                None => EnrichedLine {
                    line_no: line.line_no,
                    raw: text.clone(),
                    matched: false,
                    sku: None,
                    name: None,
                    category: None,
                    quantity: ai.quantity,
                    unit: unit.as_str().to_owned(),
                    unit_price: None,
                    line_total: None,
                    confidence: ai.confidence,
                },
            });
        }
        let confidence = if enriched.is_empty() {
            0.0
        } else {
            enriched.iter().map(|l| l.confidence).sum::<f64>() / enriched.len() as f64
        };
        let total = enriched
            .iter()
            .filter_map(|l| l.line_total.as_ref())
            .map(|m| m.amount_minor)
            .reduce(|a, b| a.saturating_add(b))
            // Like the local matcher: an event cannot carry more (JSON numbers are exact to 2^53).
            .map(|t| t.min(catalogue::MAX_AMOUNT_MINOR));
        Ok(Enrichment {
            lines: enriched,
            language: answer.language.clone(),
            confidence,
            estimated_total: total.map(|amount_minor| Money {
                amount_minor,
                currency: catalogue.currency().to_owned(),
            }),
        })
    }
}

fn attempt(provider: &str, outcome: &str, reason: &str) -> ProviderAttempt {
    ProviderAttempt {
        provider: provider.to_owned(),
        outcome: outcome.to_owned(),
        reason: Some(reason.to_owned()),
    }
}

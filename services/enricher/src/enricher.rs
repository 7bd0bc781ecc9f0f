//! The enricher's handler: `OrderPlaced` in, `OrderEnriched` out. It never fails: when every AI
//! provider is down the local matcher answers.
use orders_events::{Event, EventType, OrderEnriched, OrderFacts, Payload};
use orders_runtime::worker::{Handler, HandlerError};

use crate::chain::Chain;

/// Enriches placed orders through the provider chain.
pub struct Enricher {
    pub chain: Chain,
}

impl Handler for Enricher {
    fn stage(&self) -> &'static str {
        "enricher"
    }

    fn handles(&self, event_type: EventType) -> bool {
        event_type == EventType::OrderPlaced
    }

    async fn handle(&self, event: &Event) -> Result<Option<Payload>, HandlerError> {
        let Payload::OrderPlaced(placed) = &event.payload else {
            return Ok(None);
        };
        let outcome = self.chain.enrich(&placed.lines).await;
        Ok(Some(Payload::OrderEnriched(OrderEnriched {
            order: Some(OrderFacts::of(placed, event.envelope.occurred_at)),
            lines: outcome.enrichment.lines,
            language: outcome.enrichment.language,
            provider: outcome.provider,
            confidence: outcome.enrichment.confidence,
            attempts: outcome.attempts,
            estimated_total: outcome.enrichment.estimated_total,
        })))
    }
}

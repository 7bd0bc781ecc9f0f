//! Request validation. Every bad field is reported at once, named by its path in the request
//! (`lines[2].sku.quantity`), with what was wrong and what is allowed.
use orders_events::{Address, Channel, GeoPoint, LineItem, OrderPlaced, PlacedLine};
use orders_proto::v1;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

pub const MAX_LINES: usize = 100;
pub const MAX_KEY_LEN: usize = 128;
pub const MAX_ID_LEN: usize = 64;
pub const MAX_LINE_TEXT: usize = 200;
pub const MAX_QUANTITY: i32 = 100_000;
pub const MAX_NOTES: usize = 1000;
pub const MAX_REASON: usize = 500;
pub const MAX_PAGE_SIZE: i32 = 500;

/// Field violations collected while checking one request.
#[derive(Debug, Default)]
pub struct Violations(Vec<(String, String)>);

impl Violations {
    pub fn add(&mut self, field: impl Into<String>, problem: impl Into<String>) {
        self.0.push((field.into(), problem.into()));
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// INVALID_ARGUMENT with a google.rpc.BadRequest naming every bad field.
    pub fn into_status(self) -> Status {
        let summary = self
            .0
            .iter()
            .map(|(f, p)| format!("{f}: {p}"))
            .collect::<Vec<_>>()
            .join("; ");
        let mut details = ErrorDetails::new();
        for (field, problem) in &self.0 {
            details.add_bad_request_violation(field.clone(), problem.clone());
        }
        Status::with_error_details(
            Code::InvalidArgument,
            format!("invalid request: {summary}"),
            details,
        )
    }

    /// `Ok(value)` when nothing was wrong.
    pub fn finish<T>(self, value: T) -> Result<T, Status> {
        if self.is_empty() {
            Ok(value)
        } else {
            Err(self.into_status())
        }
    }

    /// Text field: optional unless `required`, at most `max` characters, no control characters.
    /// Returns the trimmed value, `None` when empty.
    pub fn text(&mut self, field: &str, value: &str, required: bool, max: usize) -> Option<String> {
        let v = value.trim();
        if v.is_empty() {
            if required {
                self.add(field, "is required");
            }
            return None;
        }
        let len = v.chars().count();
        if len > max {
            self.add(
                field,
                format!("is {len} characters long; at most {max} are allowed"),
            );
        } else if v.chars().any(char::is_control) {
            self.add(field, "contains control characters");
        }
        Some(v.to_owned())
    }

    /// An identifier of `allowed` characters, 1 to `max` long.
    pub fn ident(
        &mut self,
        field: &str,
        value: &str,
        max: usize,
        allowed: fn(char) -> bool,
        what: &str,
    ) {
        if value.is_empty() {
            self.add(field, "is required");
        } else if value.len() > max {
            self.add(
                field,
                format!(
                    "is {} characters long; at most {max} are allowed",
                    value.len()
                ),
            );
        } else if !value.chars().all(allowed) {
            self.add(field, format!("may contain only {what}"));
        }
    }

    pub fn idempotency_key(&mut self, value: &str) {
        self.ident(
            "idempotency_key",
            value,
            MAX_KEY_LEN,
            |c| c.is_ascii_graphic(),
            "printable ASCII without spaces; send a unique key per order, e.g. a UUID, and reuse it only to retry",
        );
    }

    pub fn order_id(&mut self, field: &str, value: &str) -> Option<uuid::Uuid> {
        if value.is_empty() {
            self.add(field, "is required");
            return None;
        }
        match uuid::Uuid::parse_str(value) {
            Ok(id) => Some(id),
            Err(_) => {
                self.add(
                    field,
                    format!("{value:?} is not an order id (a UUID as returned by PlaceOrder)"),
                );
                None
            }
        }
    }
}

fn customer_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':')
}

fn sku_char(c: char) -> bool {
    c.is_ascii_uppercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
}

/// Checks a PlaceOrder request and builds the OrderPlaced payload from it.
pub fn place_order(req: &v1::PlaceOrderRequest, caller: &str) -> Result<OrderPlaced, Status> {
    let mut v = Violations::default();
    v.idempotency_key(&req.idempotency_key);
    v.ident(
        "customer_id",
        &req.customer_id,
        MAX_ID_LEN,
        customer_char,
        "letters, digits, '-', '_', '.' and ':'",
    );
    let channel = channel(&mut v, req.channel);
    let currency = if req.currency.is_empty() {
        "NPR".to_owned()
    } else {
        if !(req.currency.len() == 3 && req.currency.chars().all(|c| c.is_ascii_uppercase())) {
            v.add(
                "currency",
                format!(
                    "{:?} is not an ISO 4217 code such as NPR or INR",
                    req.currency
                ),
            );
        }
        req.currency.clone()
    };
    if req.lines.is_empty() {
        v.add("lines", "an order needs at least one line");
    } else if req.lines.len() > MAX_LINES {
        v.add(
            "lines",
            format!(
                "has {} lines; at most {MAX_LINES} are allowed",
                req.lines.len()
            ),
        );
    }
    let lines = req
        .lines
        .iter()
        .take(MAX_LINES)
        .enumerate()
        .filter_map(|(i, line)| order_line(&mut v, i, line))
        .collect();
    let address = address(&mut v, req.delivery_address.as_ref());
    let notes = v.text("notes", &req.notes, false, MAX_NOTES);
    let placed = OrderPlaced {
        customer_id: req.customer_id.clone(),
        caller: caller.to_owned(),
        channel: channel.unwrap_or(Channel::Api),
        currency,
        lines,
        delivery_address: address.unwrap_or_else(empty_address),
        notes,
    };
    v.finish(placed)
}

fn channel(v: &mut Violations, raw: i32) -> Option<Channel> {
    match v1::Channel::try_from(raw) {
        Ok(v1::Channel::Unspecified) => {
            v.add(
                "channel",
                "is required: one of APP, WEB, PHONE, WHATSAPP, SALES_REP, API",
            );
            None
        }
        Ok(c) => Some(crate::convert::channel_from_proto(c)),
        Err(_) => {
            v.add(
                "channel",
                format!(
                    "unknown value {raw}; use one of APP, WEB, PHONE, WHATSAPP, SALES_REP, API"
                ),
            );
            None
        }
    }
}

fn order_line(v: &mut Violations, i: usize, line: &v1::OrderLine) -> Option<PlacedLine> {
    let field = format!("lines[{i}]");
    let item = match &line.item {
        None => {
            v.add(
                &field,
                "set either text (e.g. \"5 kg basmati rice\") or sku",
            );
            return None;
        }
        Some(v1::order_line::Item::Text(text)) => {
            let text = v.text(&format!("{field}.text"), text, true, MAX_LINE_TEXT)?;
            LineItem::Text { text }
        }
        Some(v1::order_line::Item::Sku(sku)) => {
            v.ident(
                &format!("{field}.sku.sku"),
                &sku.sku,
                MAX_ID_LEN,
                sku_char,
                "A-Z, 0-9, '-', '_' and '.'",
            );
            if !(1..=MAX_QUANTITY).contains(&sku.quantity) {
                v.add(
                    format!("{field}.sku.quantity"),
                    format!(
                        "is {}; it must be between 1 and {MAX_QUANTITY}",
                        sku.quantity
                    ),
                );
            }
            let unit = v.text(&format!("{field}.sku.unit"), &sku.unit, false, 16);
            if unit
                .as_deref()
                .is_some_and(|u| !u.chars().all(|c| c.is_alphabetic()))
            {
                v.add(
                    format!("{field}.sku.unit"),
                    "may contain only letters, e.g. kg, packet, dozen",
                );
            }
            LineItem::Sku {
                sku: sku.sku.clone(),
                quantity: sku.quantity.max(0) as u32,
                unit,
            }
        }
    };
    Some(PlacedLine {
        line_no: i as u32 + 1,
        item,
    })
}

fn address(v: &mut Violations, addr: Option<&v1::DeliveryAddress>) -> Option<Address> {
    let Some(a) = addr else {
        v.add("delivery_address", "is required");
        return None;
    };
    let f = |name: &str| format!("delivery_address.{name}");
    let contact_name = v.text(&f("contact_name"), &a.contact_name, false, 100);
    let contact_phone = v.text(&f("contact_phone"), &a.contact_phone, false, 32);
    if contact_phone.as_deref().is_some_and(|p| {
        !p.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | ' ' | '-'))
    }) {
        v.add(
            f("contact_phone"),
            "may contain only digits, spaces, '+' and '-'",
        );
    }
    let line1 = v.text(&f("line1"), &a.line1, true, 200);
    let line2 = v.text(&f("line2"), &a.line2, false, 200);
    let city = v.text(&f("city"), &a.city, true, 100);
    let district = v.text(&f("district"), &a.district, false, 100);
    let postal_code = v.text(&f("postal_code"), &a.postal_code, false, 20);
    if !(a.country_code.len() == 2 && a.country_code.chars().all(|c| c.is_ascii_uppercase())) {
        v.add(
            f("country_code"),
            format!(
                "{:?} is not an ISO 3166-1 alpha-2 code such as NP",
                a.country_code
            ),
        );
    }
    let location = match &a.location {
        None => {
            v.add(
                f("location"),
                "is required: routing needs the delivery coordinates",
            );
            None
        }
        Some(p) => {
            let mut ok = true;
            if !(p.latitude.is_finite() && (-90.0..=90.0).contains(&p.latitude)) {
                v.add(
                    f("location.latitude"),
                    format!("is {}; it must be between -90 and 90", p.latitude),
                );
                ok = false;
            }
            if !(p.longitude.is_finite() && (-180.0..=180.0).contains(&p.longitude)) {
                v.add(
                    f("location.longitude"),
                    format!("is {}; it must be between -180 and 180", p.longitude),
                );
                ok = false;
            }
            ok.then_some(GeoPoint {
                latitude: p.latitude,
                longitude: p.longitude,
            })
        }
    };
    Some(Address {
        contact_name,
        contact_phone,
        line1: line1.unwrap_or_default(),
        line2,
        city: city.unwrap_or_default(),
        district,
        postal_code,
        country_code: a.country_code.clone(),
        location: location.unwrap_or(GeoPoint {
            latitude: 0.0,
            longitude: 0.0,
        }),
    })
}

fn empty_address() -> Address {
    Address {
        contact_name: None,
        contact_phone: None,
        line1: String::new(),
        line2: None,
        city: String::new(),
        district: None,
        postal_code: None,
        country_code: String::new(),
        location: GeoPoint {
            latitude: 0.0,
            longitude: 0.0,
        },
    }
}

//! What the server checks, written into the document, so a client can validate before it
//! calls and a generator can type what it builds: the formats of `http::formats` on every
//! field and parameter that has one, the ranges and list sizes the forms enforce, and the
//! rules between fields that JSON Schema can state (this field needs that one; one of these
//! two). The limits are the constants the validators use, so the two cannot drift apart.
//!
//! utoipa takes only literals in its attributes; the formats are long regular expressions
//! kept in one place, so they are applied here, by schema and field, after generation.

use serde_json::{json, Map, Value};

use crate::http::formats as f;
use crate::reservations::model::{MAX_LINES, MAX_LINE_QUANTITY};
use crate::stock::model::{MAX_ADJUSTMENTS, MAX_CHANNEL_LOCATIONS, MAX_CHECK_LINES, MAX_QUANTITY, MAX_SNAPSHOT_ITEMS};

fn pattern(regex: &str) -> Value {
    json!({"pattern": regex})
}

fn text(max: usize) -> Value {
    json!({"pattern": f::TEXT, "maxLength": max})
}

fn range(min: i64, max: i64) -> Value {
    json!({"minimum": min, "maximum": max})
}

fn list(min: usize, max: usize) -> Value {
    json!({"minItems": min, "maxItems": max})
}

fn code() -> Value {
    pattern(f::CODE)
}

/// (schema, field, keywords to add to the field's schema).
fn field_rules() -> Vec<(&'static str, &'static str, Value)> {
    let quantity = range(0, MAX_QUANTITY);
    vec![
        ("LocationForm", "name", text(200)),
        ("LocationForm", "address", text(500)),
        ("LocationForm", "latitude", json!({"minimum": -90, "maximum": 90})),
        ("LocationForm", "longitude", json!({"minimum": -180, "maximum": 180})),
        ("LocationForm", "pickup_hold_days", range(0, 30)),
        ("LocationForm", "locale", pattern(f::LANGUAGE_TAG)),
        ("ProductForm", "name", text(300)),
        ("Money", "amount_minor", range(0, crate::catalog::model::MAX_PRICE_MINOR)),
        ("Money", "currency", pattern(f::CURRENCY)),
        ("CountForm", "on_hand", quantity.clone()),
        ("CountForm", "safety_stock", quantity.clone()),
        ("CountForm", "expected_on_hand", quantity.clone()),
        ("CountForm", "reference", pattern(f::REFERENCE)),
        ("Adjustment", "location", code()),
        ("Adjustment", "sku", code()),
        ("Adjustment", "delta", json!({"minimum": -MAX_QUANTITY, "maximum": MAX_QUANTITY, "not": {"const": 0}})),
        ("Adjustment", "reference", pattern(f::REFERENCE)),
        ("AdjustmentBatch", "adjustments", list(1, MAX_ADJUSTMENTS)),
        ("SnapshotItem", "sku", code()),
        ("SnapshotItem", "on_hand", quantity.clone()),
        ("SnapshotItem", "safety_stock", quantity.clone()),
        ("SnapshotForm", "items", list(0, MAX_SNAPSHOT_ITEMS)),
        ("SnapshotForm", "reference", pattern(f::REFERENCE)),
        ("CheckForm", "location", code()),
        ("CheckForm", "lines", list(1, MAX_CHECK_LINES)),
        ("CheckLine", "sku", code()),
        ("CheckLine", "quantity", range(1, MAX_QUANTITY)),
        ("ChannelForm", "name", text(200)),
        ("ChannelForm", "buffer", quantity.clone()),
        ("ChannelForm", "default_location", code()),
        ("ChannelForm", "webhook_url", json!({"pattern": f::CUSTOMER_URL, "maxLength": f::CUSTOMER_URL_MAX_LENGTH})),
        ("ChannelForm", "webhook_secret", pattern(f::WEBHOOK_SECRET)),
        (
            "ChannelForm",
            "locations",
            json!({"maxItems": MAX_CHANNEL_LOCATIONS, "uniqueItems": true, "items": {"type": "string", "pattern": f::CODE}}),
        ),
        ("NewHold", "location", code()),
        ("NewHold", "lines", list(1, MAX_LINES)),
        ("NewHold", "ttl_seconds", range(30, 86_400)),
        ("HoldLine", "sku", code()),
        ("HoldLine", "quantity", range(1, MAX_LINE_QUANTITY)),
        ("NewOrder", "reservation_id", text(64)),
        ("NewOrder", "location", code()),
        ("NewOrder", "lines", list(1, MAX_LINES)),
        ("NewOrder", "customer_id", pattern(f::CUSTOMER_ID)),
        ("NewOrder", "channel", code()),
        ("NewOrder", "external_ref", text(128)),
        ("Shipment", "carrier", text(100)),
        ("Shipment", "tracking_number", text(100)),
        ("ArrivalForm", "bay", text(32)),
        ("ArrivalForm", "vehicle", text(100)),
        ("ArrivalForm", "note", text(500)),
        ("ShortPick", "sku", code()),
        ("ShortPick", "missing", range(1, MAX_LINE_QUANTITY)),
        ("PickupScan", "code", text(64)),
        ("CancelForm", "reason", text(200)),
        ("ReturnForm", "location", code()),
        ("ReturnForm", "lines", list(1, MAX_LINES)),
        ("ReturnLine", "sku", code()),
        ("ReturnLine", "quantity", range(1, MAX_LINE_QUANTITY)),
        ("ExtendHold", "seconds", range(30, 86_400)),
        ("NewHold", "slot_id", text(200)),
        ("NewOrder", "slot_id", text(200)),
        ("HereForm", "bay", text(32)),
        ("HereForm", "vehicle", text(100)),
        ("PromiseForm", "location", code()),
        ("PromiseForm", "lines", list(1, MAX_LINES)),
        ("LocationForm", "picking_per_hour", range(1, 1_000)),
        (
            "SlotRule",
            "days",
            json!({"minItems": 1, "maxItems": 7, "uniqueItems": true, "items": {"type": "string", "enum": crate::catalog::model::WEEKDAYS}}),
        ),
        ("SlotRule", "to", pattern(f::CLOCK_TIME)),
        ("SlotRule", "minutes", range(10, 240)),
        ("SlotRule", "capacity", range(1, crate::slots::model::MAX_CAPACITY)),
        ("SlotRules", "rules", list(0, crate::slots::model::MAX_RULES)),
        ("Lanes", "lanes", list(0, crate::transfers::model::MAX_LANES)),
        ("AlertForm", "sku", code()),
        (
            "AlertForm",
            "locations",
            json!({"maxItems": crate::alerts::model::MAX_LOCATIONS, "uniqueItems": true, "items": {"type": "string", "pattern": f::CODE}}),
        ),
        ("AlertForm", "quantity", range(1, MAX_LINE_QUANTITY)),
        ("Lane", "from", code()),
        ("Lane", "working_days", range(1, i64::from(crate::transfers::model::MAX_WORKING_DAYS))),
        ("ReceiveForm", "lines", list(0, MAX_LINES)),
        ("ReceivedLine", "sku", code()),
        ("ReceivedLine", "quantity", range(0, MAX_LINE_QUANTITY)),
        ("LinkForm", "label", text(100)),
        ("PairingForm", "code", text(200)),
        ("CustomerForm", "name", text(200)),
        ("CustomerForm", "email", json!({"pattern": f::EMAIL, "maxLength": f::EMAIL_MAX_LENGTH})),
        ("CustomerForm", "phone", pattern(f::PHONE)),
        ("CustomerForm", "locale", pattern(f::LANGUAGE_TAG)),
        ("CustomerForm", "webhook_url", json!({"pattern": f::CUSTOMER_URL, "maxLength": f::CUSTOMER_URL_MAX_LENGTH})),
        (
            "PushSubscriptionForm",
            "endpoint",
            json!({"pattern": f::CUSTOMER_URL, "maxLength": f::CUSTOMER_URL_MAX_LENGTH}),
        ),
        ("PushKeys", "p256dh", pattern(f::PUSH_P256DH)),
        ("PushKeys", "auth", pattern(f::PUSH_AUTH)),
    ]
}

/// Rules between fields, as JSON Schema composition on the schema itself.
fn schema_rules() -> Vec<(&'static str, Value)> {
    let present = |field: &str, kind: &str| json!({"required": [field], "properties": {field: {"type": kind}}});
    let needs = |when: Value, then: Value| json!({"if": when, "then": then});
    vec![
        (
            "LocationForm",
            json!({"allOf": [
                needs(present("latitude", "number"), present("longitude", "number")),
                needs(present("longitude", "number"), present("latitude", "number")),
                needs(
                    json!({"properties": {"kind": {"const": "warehouse"}}}),
                    json!({"properties": {"pickup": {"properties": {"in_store": {"const": false}, "curbside": {"const": false}}}}}),
                ),
            ]}),
        ),
        (
            "NewOrder",
            // Lines or a hold, not both: `if`/`else` rather than `oneOf`, which generators read
            // as "one of two types".
            json!({"allOf": [
                {
                    "if": present("lines", "array"),
                    "then": {"properties": {"reservation_id": {"type": "null"}}},
                    "else": present("reservation_id", "string"),
                },
                needs(present("external_ref", "string"), present("channel", "string")),
                // Only an import through a channel may leave the location to the channel.
                needs(json!({"not": present("channel", "string")}), present("location", "string")),
            ]}),
        ),
        (
            "ChannelForm",
            // A webhook and its secret come together.
            json!({"allOf": [
                needs(present("webhook_url", "string"), present("webhook_secret", "string")),
                needs(present("webhook_secret", "string"), present("webhook_url", "string")),
            ]}),
        ),
        (
            "CustomerForm",
            json!({"allOf": [
                needs(json!({"properties": {"channels": {"properties": {"email": {"const": true}}}}}), present("email", "string")),
                needs(json!({"properties": {"channels": {"properties": {"sms": {"const": true}}}}}), present("phone", "string")),
                needs(
                    json!({"properties": {"channels": {"properties": {"whatsapp": {"const": true}}}}}),
                    present("phone", "string"),
                ),
                needs(
                    json!({"properties": {"channels": {"properties": {"viber": {"const": true}}}}}),
                    present("phone", "string"),
                ),
                needs(
                    json!({"properties": {"channels": {"properties": {"webhook": {"const": true}}}}}),
                    present("webhook_url", "string"),
                ),
            ]}),
        ),
    ]
}

/// Query, path and header parameters by name (and, for an ambiguous name, by path).
fn parameter_rule(path: &str, place: &str, name: &str) -> Option<Value> {
    Some(match (place, name) {
        ("path", "sku") if path == "/v1/products/{sku}" => {
            let mut sku = code();
            sku["not"] = json!({"enum": f::RESERVED_SKUS});
            sku
        }
        ("path", "code" | "location" | "sku") => code(),
        ("path", "id") if path.starts_with("/v1/customers/") => pattern(f::CUSTOMER_ID),
        ("query", "limit") if path == "/v1/channels/{code}/changes" => range(1, crate::sync::routes::MAX_FEED_LIMIT),
        ("query", "limit") => range(1, crate::http::pagination::MAX_LIMIT),
        ("query", "after") => pattern(f::FEED_CURSOR),
        ("query", "wait") => range(0, crate::sync::routes::MAX_WAIT_SECONDS as i64),
        ("query", "near") => pattern(f::NEAR),
        ("query", "number") => pattern(f::ORDER_NUMBER),
        ("query", "channel") => code(),
        ("query", "external_ref") => text(128),
        ("header", "Idempotency-Key") => json!({"type": "string", "pattern": f::IDEMPOTENCY_KEY}),
        // A header is absent or a string, never null.
        ("header", "If-None-Match" | "Last-Event-ID") => json!({"type": "string"}),
        _ => return None,
    })
}

fn merge(target: &mut Value, keywords: &Value) {
    if let (Some(target), Some(keywords)) = (target.as_object_mut(), keywords.as_object()) {
        for (k, v) in keywords {
            target.insert(k.clone(), v.clone());
        }
    }
}

/// Every IANA time zone name the server knows: the one list it accepts. Generators name enum
/// values by folding them to identifiers, and `Etc/GMT+1` and `Etc/GMT-1` would fold alike:
/// `x-enum-varnames` gives each its own.
fn time_zone_schema() -> Value {
    let names: Vec<&str> = chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect();
    let identifiers: Vec<String> = names
        .iter()
        .map(|name| {
            name.replace('+', "_PLUS_")
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' })
                .collect()
        })
        .collect();
    let distinct: std::collections::HashSet<&String> = identifiers.iter().collect();
    assert_eq!(distinct.len(), identifiers.len(), "time zone identifiers must be distinct");
    json!({
        "type": "string",
        "description": "An IANA time zone, e.g. `Europe/Warsaw`.",
        "enum": names,
        "x-enum-varnames": identifiers,
    })
}

fn opening_hours_schema(description: &Value) -> Value {
    json!({
        "type": "object",
        "description": description,
        "propertyNames": {"enum": crate::catalog::model::WEEKDAYS},
        "additionalProperties": {
            "type": "array",
            "description": "The day's `[open, close]` intervals, in order and not overlapping; empty when closed.",
            // `[open, close]`: exactly two times. `items` repeats what `prefixItems` says for
            // generators that only know `items`.
            "items": {
                "type": "array",
                "prefixItems": [{"$ref": "#/components/schemas/ClockTime"}, {"$ref": "#/components/schemas/ClockTime"}],
                "items": {"$ref": "#/components/schemas/ClockTime"},
                "minItems": 2,
                "maxItems": 2,
            },
        },
        "example": {"mon": [["09:00", "21:00"]], "sun": []},
    })
}

/// Every operation can refuse its parameters, or a query parameter it does not take (422);
/// every write that takes an `Idempotency-Key` can also find it in use (409); every API
/// operation (`/v1/...`, but the providers' receipts) counts against its caller's rate limit
/// (429): the answers are declared where the handler's own list does not already have them.
fn document_refusals(path: &str, operation: &mut Value) {
    let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
    let problem = |description: &str| {
        json!({
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        })
    };
    let responses = &mut operation["responses"];
    if responses.get("422").is_none() {
        responses["422"] = problem("A parameter that is not valid, or a query parameter this operation does not take: each is named in `errors`");
    }
    let limited = path.starts_with("/v1/") && !path.starts_with("/v1/notifications/callbacks/");
    if limited && responses.get("429").is_none() {
        responses["429"] = problem(
            "The caller has made too many requests (`rate-limited`, per token, or per address without one): \
             `Retry-After` says when to try again; `RateLimit-Policy` and `RateLimit` state the limit",
        );
    }
    let idempotent = parameters.iter().any(|p| p["name"] == "Idempotency-Key");
    if idempotent && responses.get("409").is_none() {
        responses["409"] = problem("A request with the same Idempotency-Key is still being processed");
    }
}

/// Writes the rules into a generated document.
pub fn apply(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    for (schema, field, keywords) in field_rules() {
        let property = &mut schemas[schema]["properties"][field];
        assert!(property.is_object(), "rules name a field the document lacks: {schema}.{field}");
        merge(property, &keywords);
    }
    for (schema, keywords) in schema_rules() {
        merge(&mut schemas[schema], &keywords);
    }
    schemas["TimeZone"] = time_zone_schema();
    schemas["ClockTime"] =
        json!({"type": "string", "description": "`HH:MM`, from `00:00` to `24:00`.", "pattern": f::CLOCK_TIME});
    for (schema, field) in [("LocationForm", "timezone"), ("CustomerForm", "timezone")] {
        let property = &mut schemas[schema]["properties"][field];
        let nullable = property["type"].as_array().is_some_and(|t| t.contains(&json!("null")));
        *property = if nullable {
            json!({"oneOf": [{"$ref": "#/components/schemas/TimeZone"}, {"type": "null"}]})
        } else {
            json!({"$ref": "#/components/schemas/TimeZone"})
        };
    }
    let description = schemas["OpeningHours"]["description"].clone();
    schemas["OpeningHours"] = opening_hours_schema(&description);
    // Adjustments are every reason but `count`: counts go to the count endpoint.
    let reasons: Vec<Value> = schemas["Reason"]["enum"].as_array().cloned().unwrap_or_default();
    let adjustment_reasons: Vec<Value> = reasons.into_iter().filter(|r| r != "count").collect();
    schemas["Adjustment"]["properties"]["reason"] = json!({
        "type": "string",
        "description": "Why stock moved; `count` is not an adjustment (counts go to `PUT /v1/stock/{location}/{sku}`).",
        "enum": adjustment_reasons,
    });
    // Paginated lists name their item schema instead of repeating it.
    let names: Vec<String> = schemas.as_object().map(|s| s.keys().cloned().collect()).unwrap_or_default();
    for name in names {
        if let Some(item) = name.strip_prefix("Paginated_") {
            if schemas.get(item).is_some() {
                schemas[&name]["properties"]["items"]["items"] =
                    json!({"$ref": format!("#/components/schemas/{item}")});
            }
        }
    }
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for operation in item.values_mut() {
            document_refusals(path, operation);
            let Some(parameters) = operation.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for parameter in parameters {
                let (place, name) = (parameter["in"].as_str().unwrap_or(""), parameter["name"].as_str().unwrap_or(""));
                if let Some(keywords) = parameter_rule(path, place, name) {
                    let schema = parameter["schema"].as_object_mut().cloned().unwrap_or_else(Map::new);
                    let mut schema = Value::Object(schema);
                    merge(&mut schema, &keywords);
                    parameter["schema"] = schema;
                }
            }
        }
    }
}

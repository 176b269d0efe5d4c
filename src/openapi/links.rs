//! OpenAPI links: from the operations that create a resource to the ones that use its id, so
//! a client (and a stateful test) can follow the flow: an order to its steps, a hold to its
//! read and release, a channel, location, product or customer to its read.

use serde_json::{json, Value};

/// One flow: the operation that answers with a resource, its success statuses, the body field
/// holding the id, the parameter it fills, and the operations that take it.
struct Flow {
    from: &'static str,
    statuses: &'static [&'static str],
    field: &'static str,
    parameter: &'static str,
    targets: &'static [&'static str],
}

fn flows() -> Vec<Flow> {
    const ORDER_STEPS: &[&str] = &[
        "get_order",
        "start_picking",
        "mark_ready",
        "cancel_order",
        "ship_order",
        "deliver_order",
        "short_pick",
        "list_order_notifications",
    ];
    let flow = |from, statuses, field, parameter, targets| Flow { from, statuses, field, parameter, targets };
    vec![
        flow("create_order", &["201", "200"], "id", "id", ORDER_STEPS),
        flow("get_order", &["200"], "id", "id", ORDER_STEPS),
        flow("start_picking", &["200"], "id", "id", &["mark_ready", "ship_order", "short_pick", "cancel_order"]),
        flow("mark_ready", &["200"], "id", "id", &["get_order", "cancel_order"]),
        flow("ship_order", &["200"], "id", "id", &["deliver_order", "get_order"]),
        flow("create_hold", &["201"], "id", "id", &["get_hold", "release_hold"]),
        flow("put_channel", &["200", "201"], "code", "code", &["get_channel"]),
        flow("put_location", &["200", "201"], "code", "code", &["get_location", "list_store_orders"]),
        flow("put_product", &["200", "201"], "sku", "sku", &["get_product", "get_availability"]),
        flow("put_customer", &["200", "201"], "id", "id", &["get_customer"]),
    ]
}

/// Writes the links into the responses of a generated document.
pub fn apply(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    let mut operations: Vec<&mut Value> = paths
        .values_mut()
        .filter_map(Value::as_object_mut)
        .flat_map(|item| item.values_mut())
        .filter(|op| op.get("operationId").is_some())
        .collect();
    for Flow { from, statuses, field, parameter, targets } in flows() {
        let operation = operations
            .iter_mut()
            .find(|op| op["operationId"] == from)
            .unwrap_or_else(|| panic!("a link starts at an unknown operation: {from}"));
        for status in statuses {
            let response = &mut operation["responses"][*status];
            assert!(response.is_object(), "{from} has no {status} response to link from");
            for target in targets {
                let name: String = target
                    .split('_')
                    .map(|word| {
                        let mut chars = word.chars();
                        chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
                    })
                    .collect();
                response["links"][name] = json!({
                    "operationId": target,
                    "parameters": {*parameter: format!("$response.body#/{field}")},
                });
            }
        }
    }
}

//! A transfer reaches an order's store: the stock moves (`transfers::receive_stock`), the
//! order's timeline says what arrived, and once nothing is travelling any more the order
//! joins the store's queue as `confirmed`.

use chrono::Utc;
use serde_json::json;

use super::events::record_event;
use super::status::{Action, Status};
use super::{apply, lock_row, Details, OrderSettings};
use crate::auth::Principal;
use crate::db::DbConn;
use crate::error::ApiError;
use crate::transfers::{self, model::ReceiveForm, model::Transfer, model::TransferStatus};

/// Receives a transfer at its store, for the store's staff or an admin; 409 when it is no
/// longer on its way. Locks the order, then the transfer, then the levels (the order every
/// writer takes).
pub fn receive_transfer(
    conn: &mut DbConn,
    who: &Principal,
    id: &str,
    form: &ReceiveForm,
    settings: &OrderSettings,
) -> Result<Transfer, ApiError> {
    let seen = transfers::find(conn, id)?;
    who.require_store_staff(&seen.to)?;
    let order = lock_row(conn, &seen.order_id)?;
    let transfer = transfers::lock_row(conn, id)?;
    match TransferStatus::from_stored(&transfer.status)? {
        TransferStatus::InTransit => {}
        TransferStatus::Cancelled => {
            return Err(ApiError::Conflict(format!("transfer {id} was cancelled with order {}", order.number)))
        }
        done => return Err(ApiError::Conflict(format!("transfer {id} was already received ({})", done.as_str()))),
    }
    let now = Utc::now().naive_utc();
    let actor = who.actor();
    let (status, missing) = transfers::receive_stock(conn, &transfer, form, &actor, now)?;
    let missing: Vec<_> = missing.iter().map(|(sku, units)| json!({"sku": sku, "units": units})).collect();
    let detail = json!({
        "transfer": id,
        "from": transfer.from_location,
        "status": status.as_str(),
        "missing": missing,
    });
    record_event(conn, &order.id, &order.location, &actor, "transfer_received", Some(detail), now)?;
    if order.status()? == Status::AwaitingTransfer && !transfers::any_open(conn, &order.id)? {
        apply(conn, order, &actor, Action::TransferArrived, &Details::default(), settings)?;
    }
    transfers::find(conn, id)
}

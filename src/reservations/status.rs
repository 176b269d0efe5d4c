//! Where a hold stands: the words stored and shown. Apart from the model, so the stock code
//! that counts open holds needs nothing else of holds.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Serialize,
    Deserialize,
    ToSchema,
    strum::IntoStaticStr,
    strum::EnumString,
    strum::VariantArray,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum HoldStatus {
    Held,
    Released,
    Expired,
    /// The hold became an order's.
    Converted,
}
crate::db::stored::stored_enum!(HoldStatus, "hold status");

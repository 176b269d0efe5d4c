//! The console's rows, forms and answers.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::db::schema::console_devices;
use crate::error::ApiError;
use crate::http::json::Validate;
use crate::http::validate::Validator;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = console_devices)]
pub struct DeviceRow {
    pub id: String,
    pub store: String,
    pub label: Option<String>,
    pub pairing_expires_at: NaiveDateTime,
    pub paired_at: Option<NaiveDateTime>,
    pub token_expires_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
    pub created_by: String,
    pub revoked_at: Option<NaiveDateTime>,
}

#[derive(Debug, Insertable)]
#[diesel(table_name = console_devices)]
pub struct NewDevice<'a> {
    pub id: &'a str,
    pub store: &'a str,
    pub label: Option<&'a str>,
    pub pairing_code_hash: &'a str,
    pub pairing_expires_at: NaiveDateTime,
    pub created_at: NaiveDateTime,
    pub created_by: &'a str,
}

/// `POST /v1/stores/{code}/console-links`: every field may be left out, and so may the body.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkForm {
    /// A name for the device, shown in the device list ("Counter tablet").
    #[schema(max_length = 100)]
    pub label: Option<String>,
}

impl Validate for LinkForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut checks = Validator::new();
        if let Some(label) = &self.label {
            checks.text("label", label, 100);
        }
        checks.finish()
    }
}

/// A one-time pairing link: open it on the store's device.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsoleLink {
    /// The console with the pairing code after `#`: browsers never send what follows `#` to
    /// a server, so the code stays out of access logs.
    pub url: String,
    /// After this the link pairs nothing.
    pub expires_at: DateTime<Utc>,
    /// The device the link will pair, to list or revoke it.
    pub device_id: String,
    pub store: String,
}

/// `POST /v1/console/pairings`: the code from a pairing link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PairingForm {
    /// What follows `#pair=` in the link.
    #[schema(min_length = 1, max_length = 200)]
    pub code: String,
}

impl Validate for PairingForm {
    fn validate(&self) -> Result<(), ApiError> {
        let mut checks = Validator::new();
        checks.text("code", &self.code, 200);
        checks.finish()
    }
}

/// A paired device's credentials: a staff token for the link's store, naming the device.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeviceToken {
    /// Send as `Authorization: Bearer <token>`. Keep it on the device; it is shown once.
    pub token: String,
    pub device_id: String,
    pub store: String,
    pub store_name: String,
    pub expires_at: DateTime<Utc>,
}

/// Where a device stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceStatus {
    /// The link was made and not opened yet.
    Pending,
    /// Paired; its token is accepted.
    Active,
    /// Signed out by an admin or by itself.
    Revoked,
    /// Its link or its token ran out.
    Expired,
}

/// A console device of a store.
#[derive(Debug, Serialize, ToSchema)]
pub struct Device {
    pub id: String,
    pub store: String,
    pub label: Option<String>,
    pub status: DeviceStatus,
    pub created_at: DateTime<Utc>,
    /// Who made the pairing link.
    pub created_by: String,
    pub paired_at: Option<DateTime<Utc>>,
    /// The link's end while pending, the token's once paired.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl DeviceRow {
    pub fn status(&self, now: NaiveDateTime) -> DeviceStatus {
        match (self.revoked_at, self.paired_at, self.token_expires_at) {
            (Some(_), _, _) => DeviceStatus::Revoked,
            (None, Some(_), Some(until)) if until > now => DeviceStatus::Active,
            (None, Some(_), _) => DeviceStatus::Expired,
            (None, None, _) if self.pairing_expires_at > now => DeviceStatus::Pending,
            (None, None, _) => DeviceStatus::Expired,
        }
    }

    pub fn view(self, now: NaiveDateTime) -> Device {
        let status = self.status(now);
        let utc = |t: NaiveDateTime| t.and_utc();
        Device {
            status,
            expires_at: utc(self.token_expires_at.unwrap_or(self.pairing_expires_at)),
            id: self.id,
            store: self.store,
            label: self.label,
            created_at: utc(self.created_at),
            created_by: self.created_by,
            paired_at: self.paired_at.map(utc),
            revoked_at: self.revoked_at.map(utc),
        }
    }
}

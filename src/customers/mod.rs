//! Customers: contacts, language, time zone, and which channels they want, with a record of
//! every consent given or withdrawn. Orders refer to customers by id; notifications read
//! this to decide where to send.

pub mod model;
pub mod routes;

use chrono::Utc;
use diesel::prelude::*;

use crate::auth::{Principal, Role};
use crate::db::schema::{customer_consents, customers, marketing_consents, push_subscriptions};
use crate::db::DbConn;
use crate::error::ApiError;
use model::*;

/// The customer themself, admins, and integrations with `customers:write` (or `customers:read`
/// for reading).
pub fn require_access(who: &Principal, id: &str, write: bool) -> Result<(), ApiError> {
    match who.role {
        Role::Admin => Ok(()),
        Role::Customer if who.sub == id => Ok(()),
        Role::Customer => Err(ApiError::NotFound(format!("no customer {id}"))),
        Role::Integration if write => who.require_admin_or_scope("customers:write"),
        Role::Integration => {
            who.require_admin_or_scope("customers:read").or_else(|_| who.require_admin_or_scope("customers:write"))
        }
        Role::Staff => Err(ApiError::Forbidden("customer profiles are not for store staff".into())),
    }
}

pub fn find_row(conn: &mut DbConn, id: &str) -> Result<Option<CustomerRow>, ApiError> {
    Ok(customers::table.find(id).select(CustomerRow::as_select()).first(conn).optional()?)
}

/// Creates or replaces a customer; `true` when created. Each channel choice that changes is
/// recorded as a consent given or withdrawn, with when and by whom.
pub fn put(conn: &mut DbConn, who: &Principal, id: &str, form: &CustomerForm) -> Result<(bool, Customer), ApiError> {
    let now = Utc::now().naive_utc();
    let previous = find_row(conn, id)?;
    let before = previous.as_ref().map(CustomerRow::channels).unwrap_or_default();
    let values = (
        customers::name.eq(&form.name),
        customers::email.eq(&form.email),
        customers::phone.eq(&form.phone),
        customers::locale.eq(&form.locale),
        customers::timezone.eq(&form.timezone),
        customers::channel_email.eq(form.channels.email),
        customers::channel_sms.eq(form.channels.sms),
        customers::channel_push.eq(form.channels.push),
        customers::channel_webhook.eq(form.channels.webhook),
        customers::channel_whatsapp.eq(form.channels.whatsapp),
        customers::channel_viber.eq(form.channels.viber),
        customers::webhook_url.eq(&form.webhook_url),
        customers::email_tracking
            .eq(form.email_tracking.or(previous.as_ref().map(|p| p.email_tracking)).unwrap_or(true)),
        customers::updated_at.eq(now),
    );
    if previous.is_some() {
        diesel::update(customers::table.find(id)).set(values).execute(conn)?;
    } else {
        diesel::insert_into(customers::table)
            .values((customers::id.eq(id), values, customers::created_at.eq(now)))
            .execute(conn)?;
    }
    let source = format!("api:{}", who.actor());
    for ((channel, was), (_, now_on)) in before.named().into_iter().zip(form.channels.named()) {
        if was != now_on {
            diesel::insert_into(customer_consents::table)
                .values((
                    customer_consents::customer_id.eq(id),
                    customer_consents::channel.eq(channel.as_str()),
                    customer_consents::granted.eq(now_on),
                    customer_consents::at.eq(now),
                    customer_consents::source.eq(&source),
                ))
                .execute(conn)?;
        }
    }
    Ok((previous.is_none(), get(conn, id)?))
}

pub fn get(conn: &mut DbConn, id: &str) -> Result<Customer, ApiError> {
    let row = find_row(conn, id)?.ok_or_else(|| ApiError::NotFound(format!("no customer {id}")))?;
    let consents = customer_consents::table
        .filter(customer_consents::customer_id.eq(id))
        .order(customer_consents::id.asc())
        .select((
            customer_consents::channel,
            customer_consents::granted,
            customer_consents::at,
            customer_consents::source,
        ))
        .load::<(String, bool, chrono::NaiveDateTime, String)>(conn)?
        .into_iter()
        .map(|(channel, granted, at, source)| Consent { channel, granted, at: at.and_utc(), source })
        .collect();
    let subscriptions: i64 =
        push_subscriptions::table.filter(push_subscriptions::customer_id.eq(id)).count().get_result(conn)?;
    Ok(Customer {
        channels: row.channels(),
        id: row.id,
        name: row.name,
        email: row.email,
        phone: row.phone,
        locale: row.locale,
        timezone: row.timezone,
        webhook_url: row.webhook_url,
        email_tracking: row.email_tracking,
        marketing_consent: has_marketing_consent(conn, id)?,
        consents,
        push_subscriptions: subscriptions,
        created_at: row.created_at.and_utc(),
        updated_at: row.updated_at.and_utc(),
    })
}

/// Whether the customer's latest word on marketing (back-in-stock alerts) is yes. Marketing
/// consent is kept apart from the channel choices, which are for orders.
pub fn has_marketing_consent(conn: &mut DbConn, customer_id: &str) -> Result<bool, ApiError> {
    let latest: Option<bool> = marketing_consents::table
        .filter(marketing_consents::customer_id.eq(customer_id))
        .order(marketing_consents::id.desc())
        .select(marketing_consents::granted)
        .first(conn)
        .optional()?;
    Ok(latest == Some(true))
}

/// Records a grant or withdrawal of marketing consent, with when and by whom.
pub fn record_marketing_consent(
    conn: &mut DbConn,
    customer_id: &str,
    granted: bool,
    source: &str,
    now: chrono::NaiveDateTime,
) -> Result<(), ApiError> {
    diesel::insert_into(marketing_consents::table)
        .values((
            marketing_consents::customer_id.eq(customer_id),
            marketing_consents::granted.eq(granted),
            marketing_consents::at.eq(now),
            marketing_consents::source.eq(source),
        ))
        .execute(conn)?;
    Ok(())
}

/// The browsers a customer keeps for push. Each one costs a request per message (in the
/// sender's lease), and the oldest are mostly browsers long gone: subscribing one more drops
/// the oldest.
pub const MAX_PUSH_SUBSCRIPTIONS: i64 = 10;

/// Adds a browser's push subscription; `true` when it was new. The same endpoint again from
/// the same customer replaces its keys (the browser renewed them). An endpoint registered by
/// another customer moves to this one only with the same keys, which only the browser that
/// holds the subscription has: the same browser, signed in to another account. Different
/// keys are 409, or anyone who learned an endpoint could take another customer's messages.
pub fn subscribe(
    conn: &mut DbConn,
    id: &str,
    form: &PushSubscriptionForm,
) -> Result<(bool, PushSubscription), ApiError> {
    find_row(conn, id)?.ok_or_else(|| ApiError::NotFound(format!("no customer {id}; create the profile first")))?;
    let now = Utc::now().naive_utc();
    // Keys are kept unpadded, as browsers give them; padded ones are accepted all the same.
    let (p256dh, auth) = (form.keys.p256dh.trim_end_matches('='), form.keys.auth.trim_end_matches('='));
    let existing: Option<(String, String, String, String)> = push_subscriptions::table
        .filter(push_subscriptions::endpoint.eq(&form.endpoint))
        .select((
            push_subscriptions::id,
            push_subscriptions::customer_id,
            push_subscriptions::p256dh,
            push_subscriptions::auth,
        ))
        .first(conn)
        .optional()?;
    let created = existing.is_none();
    let sub_id = match existing {
        Some((sub_id, owner, known_p256dh, known_auth)) => {
            let same_keys = known_p256dh.trim_end_matches('=') == p256dh && known_auth.trim_end_matches('=') == auth;
            if owner != id && !same_keys {
                return Err(ApiError::Conflict(
                    "this push endpoint is registered with other keys; subscribe again from the browser".into(),
                ));
            }
            diesel::update(push_subscriptions::table.find(&sub_id))
                .set((
                    push_subscriptions::customer_id.eq(id),
                    push_subscriptions::p256dh.eq(p256dh),
                    push_subscriptions::auth.eq(auth),
                    // A browser that subscribes again is in use: it is not the oldest to drop.
                    push_subscriptions::created_at.eq(now),
                ))
                .execute(conn)?;
            sub_id
        }
        None => {
            let sub_id = uuid::Uuid::now_v7().to_string();
            diesel::insert_into(push_subscriptions::table)
                .values((
                    push_subscriptions::id.eq(&sub_id),
                    push_subscriptions::customer_id.eq(id),
                    push_subscriptions::endpoint.eq(&form.endpoint),
                    push_subscriptions::p256dh.eq(p256dh),
                    push_subscriptions::auth.eq(auth),
                    push_subscriptions::created_at.eq(now),
                ))
                .execute(conn)?;
            sub_id
        }
    };
    let beyond_limit: Vec<String> = push_subscriptions::table
        .filter(push_subscriptions::customer_id.eq(id))
        .filter(push_subscriptions::id.ne(&sub_id))
        .order((push_subscriptions::created_at.desc(), push_subscriptions::id.desc()))
        .limit(1000)
        .offset(MAX_PUSH_SUBSCRIPTIONS - 1)
        .select(push_subscriptions::id)
        .load(conn)?;
    diesel::delete(push_subscriptions::table.filter(push_subscriptions::id.eq_any(&beyond_limit))).execute(conn)?;
    let (endpoint, created_at) = push_subscriptions::table
        .find(&sub_id)
        .select((push_subscriptions::endpoint, push_subscriptions::created_at))
        .first::<(String, chrono::NaiveDateTime)>(conn)?;
    Ok((created, PushSubscription { id: sub_id, endpoint, created_at: created_at.and_utc() }))
}

//! The catalog: locations (stores and warehouses) and products. It owns their rows and never
//! touches stock; stock refers to them by code.

pub mod geo;
pub mod model;
pub mod routes;

use chrono::Utc;
use diesel::prelude::*;

use crate::db::schema::{location_capacity, locations, products};
use crate::db::DbConn;
use crate::error::{ApiError, FieldError};
use crate::http::pagination::{encode_cursor, Page, Paginated};
use geo::Coordinates;
use model::*;

/// Creates or replaces a location; `true` when it was created.
pub fn put_location(conn: &mut DbConn, code: &str, form: &LocationForm) -> Result<(bool, Location), ApiError> {
    let now = Utc::now().naive_utc();
    let changes = LocationChanges {
        code,
        name: form.name.trim(),
        kind: form.kind.as_str(),
        timezone: &form.timezone,
        address: form.address.as_deref(),
        latitude: form.latitude,
        longitude: form.longitude,
        pickup_in_store: form.pickup.in_store,
        pickup_curbside: form.pickup.curbside,
        pickup_hold_days: form.pickup_hold_days,
        fulfils_online: form.fulfils_online,
        active: form.active,
        locale: form.locale.as_deref(),
        opening_hours: form.opening_hours.as_ref().map(|h| serde_json::to_string(h).unwrap_or_default()),
        updated_at: now,
    };
    let updated = diesel::update(locations::table.find(code)).set(&changes).execute(conn)?;
    let created = updated == 0;
    if created {
        diesel::insert_into(locations::table).values((&changes, locations::created_at.eq(now))).execute(conn)?;
    }
    diesel::delete(location_capacity::table.find(code)).execute(conn)?;
    if let Some(per_hour) = form.picking_per_hour {
        diesel::insert_into(location_capacity::table)
            .values((location_capacity::location.eq(code), location_capacity::picking_per_hour.eq(per_hour)))
            .execute(conn)?;
    }
    let row = find_location(conn, code)?;
    Ok((created, view_location(conn, row)?))
}

/// A link to the location on a map: its coordinates, else its address searched.
pub fn map_url(location: &LocationRow) -> Option<String> {
    match (location.latitude, location.longitude, &location.address) {
        (Some(lat), Some(lng), _) => {
            Some(format!("https://www.openstreetmap.org/?mlat={lat}&mlon={lng}#map=17/{lat}/{lng}"))
        }
        (_, _, Some(address)) => Some(format!(
            "https://www.openstreetmap.org/search?query={}",
            form_urlencoded::byte_serialize(address.as_bytes()).collect::<String>()
        )),
        _ => None,
    }
}

/// A location as callers see it, with its picking pace.
pub fn view_location(conn: &mut DbConn, row: LocationRow) -> Result<Location, ApiError> {
    let mut location = Location::try_from(row)?;
    location.picking_per_hour = picking_per_hour(conn, &location.code)?;
    Ok(location)
}

/// The orders per hour a location set for itself, if it did.
pub fn picking_per_hour(conn: &mut DbConn, code: &str) -> Result<Option<i32>, ApiError> {
    Ok(location_capacity::table.find(code).select(location_capacity::picking_per_hour).first(conn).optional()?)
}

/// Fills in the picking pace of listed locations, in one query.
fn with_paces(conn: &mut DbConn, mut items: Vec<Location>) -> Result<Vec<Location>, ApiError> {
    let codes: Vec<&str> = items.iter().map(|l| l.code.as_str()).collect();
    let paces: std::collections::HashMap<String, i32> = location_capacity::table
        .filter(location_capacity::location.eq_any(&codes))
        .select((location_capacity::location, location_capacity::picking_per_hour))
        .load::<(String, i32)>(conn)?
        .into_iter()
        .collect();
    for item in &mut items {
        item.picking_per_hour = paces.get(&item.code).copied();
    }
    Ok(items)
}

pub fn find_location(conn: &mut DbConn, code: &str) -> Result<LocationRow, ApiError> {
    crate::db::find_or_404!(conn, locations, code, LocationRow, "location")
}

/// Active locations; nearest first when `near` is given (each with `distance_km`), else by code.
pub fn list_locations(
    conn: &mut DbConn,
    near: Option<Coordinates>,
    page: &Page,
) -> Result<Paginated<Location>, ApiError> {
    match near {
        None => {
            let mut query = locations::table
                .filter(locations::active.eq(true))
                .order(locations::code.asc())
                .limit(page.limit + 1)
                .select(LocationRow::as_select())
                .into_boxed();
            if let Some(after) = code_cursor(page)? {
                query = query.filter(locations::code.gt(after));
            }
            let rows = query.load(conn)?.into_iter().map(Location::try_from).collect::<Result<Vec<_>, _>>()?;
            let rows = with_paces(conn, rows)?;
            Ok(Paginated::from_rows(rows, page.limit, |l| l.code.clone()))
        }
        Some(origin) => {
            // Distances are computed here rather than in SQL so the same code serves both
            // backends; a chain's active locations fit in memory many times over.
            let rows: Vec<LocationRow> =
                locations::table.filter(locations::active.eq(true)).select(LocationRow::as_select()).load(conn)?;
            let mut located: Vec<Location> = rows
                .into_iter()
                .map(|row| {
                    let distance = geo::coordinates(row.latitude, row.longitude).map(|c| origin.distance_km(&c));
                    Ok(Location { distance_km: distance, ..row.try_into()? })
                })
                .collect::<Result<_, ApiError>>()?;
            located.sort_by(|a, b| {
                let (da, db) = (a.distance_km.unwrap_or(f64::INFINITY), b.distance_km.unwrap_or(f64::INFINITY));
                da.total_cmp(&db).then_with(|| a.code.cmp(&b.code))
            });
            let offset = page.offset()? as usize;
            let limit = page.limit as usize;
            let more = located.len() > offset + limit;
            let items: Vec<Location> = located.into_iter().skip(offset).take(limit).collect();
            let items = with_paces(conn, items)?;
            let next_cursor = more.then(|| encode_cursor(&(offset + limit).to_string()));
            Ok(Paginated { items, next_cursor })
        }
    }
}

/// A cursor of a list ordered by code: the last code of the previous page.
fn code_cursor(page: &Page) -> Result<Option<String>, ApiError> {
    match &page.cursor {
        Some(code) if crate::http::validate::code_problem(code).is_some() => {
            Err(ApiError::validation("cursor", "is not a cursor for this list"))
        }
        other => Ok(other.clone()),
    }
}

/// Creates or replaces a product; `true` when it was created.
pub fn put_product(conn: &mut DbConn, sku: &str, form: &ProductForm) -> Result<(bool, Product), ApiError> {
    let now = Utc::now().naive_utc();
    let changes = ProductChanges {
        sku,
        name: form.name.trim(),
        price_amount_minor: form.price.amount_minor,
        price_currency: &form.price.currency,
        updated_at: now,
    };
    let updated = diesel::update(products::table.find(sku)).set(&changes).execute(conn)?;
    let created = updated == 0;
    if created {
        diesel::insert_into(products::table).values((&changes, products::created_at.eq(now))).execute(conn)?;
    }
    Ok((created, find_product(conn, sku)?))
}

pub fn find_product(conn: &mut DbConn, sku: &str) -> Result<Product, ApiError> {
    crate::db::find_or_404!(conn, products, sku, ProductRow, "product").map(Product::from)
}

pub fn list_products(conn: &mut DbConn, page: &Page) -> Result<Paginated<Product>, ApiError> {
    let mut query =
        products::table.order(products::sku.asc()).limit(page.limit + 1).select(ProductRow::as_select()).into_boxed();
    if let Some(after) = code_cursor(page)? {
        query = query.filter(products::sku.gt(after));
    }
    let rows: Vec<Product> = query.load(conn)?.into_iter().map(Product::from).collect();
    Ok(Paginated::from_rows(rows, page.limit, |p| p.sku.clone()))
}

/// Which catalog a code names an entry of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Catalog {
    Locations,
    Products,
}

/// Codes are looked up this many at a time, below SQLite's limit on query parameters.
const LOOKUP_CHUNK: usize = 1_000;

/// A field error for every `(field, code)` whose code names no location (or product), in the
/// order given, so a request that mentions unknown codes is refused field by field.
pub fn unknown_codes<'a>(
    conn: &mut DbConn,
    catalog: Catalog,
    named: impl IntoIterator<Item = (String, &'a str)>,
) -> Result<Vec<FieldError>, ApiError> {
    let named: Vec<(String, &str)> = named.into_iter().collect();
    let codes: Vec<&str> =
        named.iter().map(|(_, code)| *code).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
    let mut found = std::collections::HashSet::new();
    for chunk in codes.chunks(LOOKUP_CHUNK) {
        let existing: Vec<String> = match catalog {
            Catalog::Locations => {
                locations::table.filter(locations::code.eq_any(chunk)).select(locations::code).load(conn)?
            }
            Catalog::Products => {
                products::table.filter(products::sku.eq_any(chunk)).select(products::sku).load(conn)?
            }
        };
        found.extend(existing);
    }
    let what = match catalog {
        Catalog::Locations => "location",
        Catalog::Products => "product",
    };
    Ok(named
        .into_iter()
        .filter(|(_, code)| !found.contains(*code))
        .map(|(field, code)| FieldError::new(field, format!("unknown {what} {code}")))
        .collect())
}

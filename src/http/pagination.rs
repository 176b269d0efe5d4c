//! Lists: `?limit=` (default 50, at most 500) and an opaque `?cursor=`; answers are
//! `{items, next_cursor}`. Cursors are base64url text that only this server interprets.

use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, FieldError};

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 500;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// How many items to return (1 to 500, default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request.
#[derive(Debug, Clone)]
pub struct Page {
    pub limit: i64,
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn page(&self) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::Validation(vec![FieldError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            )]));
        }
        let cursor = match &self.cursor {
            None => None,
            Some(raw) => Some(
                decode_cursor(raw)
                    .ok_or_else(|| ApiError::validation("cursor", "is not a cursor this server gave out"))?,
            ),
        };
        Ok(Page { limit, cursor })
    }
}

impl Page {
    /// The cursor as a position in an offset list: a whole number, zero or more. Anything
    /// else (a negative number, another list's cursor) is refused, not guessed at.
    pub fn offset(&self) -> Result<i64, ApiError> {
        match &self.cursor {
            None => Ok(0),
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| ApiError::validation("cursor", "is not a cursor for this list")),
        }
    }

    /// The cursor as an id to continue after (or before): a whole number above zero.
    pub fn id_position(&self) -> Result<Option<i64>, ApiError> {
        match &self.cursor {
            None => Ok(None),
            Some(c) => c
                .parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Some)
                .ok_or_else(|| ApiError::validation("cursor", "is not a cursor for this list")),
        }
    }
}

pub fn encode_cursor(position: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(position)
}

fn decode_cursor(raw: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw).ok()?;
    String::from_utf8(bytes).ok()
}

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Paginated<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Paginated<T> {
    /// Builds a page from up to `limit + 1` fetched rows: the extra row only says there is more.
    pub fn from_rows(mut rows: Vec<T>, limit: i64, position_of: impl Fn(&T) -> String) -> Self {
        let has_more = rows.len() as i64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if has_more { rows.last().map(|last| encode_cursor(&position_of(last))) } else { None };
        Paginated { items: rows, next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked() {
        assert!(PageQuery { limit: Some(0), cursor: None }.page().is_err());
        assert!(PageQuery { limit: Some(501), cursor: None }.page().is_err());
        assert_eq!(PageQuery { limit: None, cursor: None }.page().unwrap().limit, 50);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let page = PageQuery { limit: None, cursor: Some(encode_cursor("SKU-9")) }.page().unwrap();
        assert_eq!(page.cursor.as_deref(), Some("SKU-9"));
        assert!(PageQuery { limit: None, cursor: Some("***".into()) }.page().is_err());
    }

    #[test]
    fn numeric_cursors_must_be_positions() {
        let page = |raw: &str| PageQuery { limit: None, cursor: Some(encode_cursor(raw)) }.page().unwrap();
        assert_eq!(page("40").offset().unwrap(), 40);
        assert!(page("-1").offset().is_err());
        assert!(page("SKU-9").offset().is_err());
        assert!(page("0").id_position().is_err());
        assert!(page("-5").id_position().is_err());
        assert_eq!(page("7").id_position().unwrap(), Some(7));
    }

    #[test]
    fn an_extra_row_means_a_next_page() {
        let page = Paginated::from_rows(vec![1i64, 2, 3], 2, |n| n.to_string());
        assert_eq!(page.items, vec![1, 2]);
        assert_eq!(page.next_cursor, Some(encode_cursor("2")));
        let last = Paginated::from_rows(vec![1i64, 2], 2, |n| n.to_string());
        assert_eq!(last.next_cursor, None);
    }
}

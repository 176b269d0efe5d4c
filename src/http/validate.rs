//! Validation helpers for request bodies and paths: every invalid field is collected, so a
//! request is answered with all of them at once (422 `validation`).

use crate::error::{ApiError, FieldError};

/// Collects field errors so a request is answered with all of them at once.
#[derive(Default)]
pub struct Validator {
    errors: Vec<FieldError>,
}

/// Codes (location codes, SKUs): 1 to 64 characters from `[A-Za-z0-9._-]`.
pub fn code_problem(value: &str) -> Option<&'static str> {
    if crate::http::formats::is_code(value) {
        None
    } else if value.is_empty() || value.len() > 64 {
        Some("must be 1 to 64 characters long")
    } else {
        Some("may only contain A-Z, a-z, 0-9, '.', '_' and '-'")
    }
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    pub fn check(&mut self, ok: bool, field: impl Into<String>, message: impl Into<String>) {
        if !ok {
            self.add(field, message);
        }
    }

    pub fn code(&mut self, field: impl Into<String>, value: &str) {
        if let Some(message) = code_problem(value) {
            self.add(field, message);
        }
    }

    pub fn range(&mut self, field: impl Into<String>, value: i64, min: i64, max: i64) {
        if value < min || value > max {
            self.add(field, format!("must be between {min} and {max}"));
        }
    }

    pub fn text(&mut self, field: impl Into<String>, value: &str, max_chars: usize) {
        if let Some(message) = crate::http::formats::text_problem(value, max_chars) {
            self.add(field, message);
        }
    }

    pub fn customer_id(&mut self, field: impl Into<String>, value: &str) {
        self.check(
            crate::http::formats::is_customer_id(value),
            field,
            "must be 1 to 128 characters, none of them a space or a control character",
        );
    }

    pub fn finish(self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.errors))
        }
    }
}

/// Validates a code taken from a URL path.
/// A customer id in a path: the identity provider's `sub`, 1 to 128 characters, none a space
/// or a control character.
pub fn path_customer_id(field: &str, value: &str) -> Result<(), ApiError> {
    let mut v = Validator::new();
    v.customer_id(field, value);
    v.finish()
}

pub fn path_code(field: &str, value: &str) -> Result<(), ApiError> {
    match code_problem(value) {
        Some(message) => Err(ApiError::validation(field, message)),
        None => Ok(()),
    }
}

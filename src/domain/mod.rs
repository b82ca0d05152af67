//! The rules of the product, free of HTTP and SQL: points, the ledger's arithmetic and hash chain,
//! people and levels. Everything here is deterministic; the clock is passed in.

pub mod ledger;
pub mod membership;
pub mod people;
pub mod points;
pub mod spending;
pub mod volunteering;

use std::fmt;

/// One invalid input field and why, in words the caller can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    /// A stable code for the kind of error where callers may act on it (e.g. `overlapping-hours`).
    pub code: Option<&'static str>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), code: None }
    }

    pub fn coded(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into(), code: Some(code) }
    }
}

/// Input that cannot be accepted: every offending field, not just the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

impl fmt::Display for Invalid {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|error| format!("{}: {}", error.field, error.message)).collect();
        formatter.write_str(&parts.join("; "))
    }
}

impl std::error::Error for Invalid {}

/// Collects field errors while validating a whole request, so the answer names all of them.
#[derive(Default, Debug)]
pub struct Validator {
    errors: Vec<FieldError>,
}

impl Validator {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn check(&mut self, condition: bool, field: &str, message: &str) {
        if !condition {
            self.errors.push(FieldError::new(field, message));
        }
    }

    /// Keeps the value of a parse, or records its error under `field` and returns `None`.
    pub fn take<T>(&mut self, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(Invalid(errors)) => {
                self.errors.extend(errors);
                None
            }
        }
    }

    pub fn push(&mut self, error: FieldError) {
        self.errors.push(error);
    }

    pub fn finish(self) -> Result<(), Invalid> {
        if self.errors.is_empty() { Ok(()) } else { Err(Invalid(self.errors)) }
    }
}

/// A required human text: trimmed, non-empty and at most `max_chars` characters.
pub fn required_text(field: &str, value: &str, max_chars: usize) -> Result<String, Invalid> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Invalid::one(field, "must not be empty"));
    }
    if trimmed.chars().count() > max_chars {
        return Err(Invalid::one(field, format!("must be at most {max_chars} characters")));
    }
    if trimmed.chars().any(|character| character.is_control() && character != '\n') {
        return Err(Invalid::one(field, "must not contain control characters"));
    }
    Ok(trimmed.to_owned())
}

//! CSV answers for spreadsheets: `Accept: text/csv` on the lists organizers export. UTF-8 with a
//! byte-order mark, so spreadsheet programs show Chinese correctly; CRLF line ends; fields quoted
//! when they hold a separator, a quote or a line break, and a leading `=`, `+`, `-` or `@` is
//! escaped so that no cell is run as a formula.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Whether the client asked for CSV.
pub fn wanted(headers: &HeaderMap) -> bool {
    headers.get(header::ACCEPT).and_then(|value| value.to_str().ok()).is_some_and(|accept| accept.contains("text/csv"))
}

/// A serialisable value (an enum, a number, points) as its JSON text without quotes.
pub fn text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(text)) => text,
        Ok(serde_json::Value::Null) | Err(_) => String::new(),
        Ok(other) => other.to_string(),
    }
}

pub struct Csv {
    body: String,
}

impl Csv {
    pub fn new(columns: &[&str]) -> Csv {
        let mut csv = Csv { body: String::from("\u{feff}") };
        csv.row(columns.iter().map(|column| (*column).to_owned()));
        csv
    }

    pub fn row(&mut self, fields: impl IntoIterator<Item = String>) {
        let fields: Vec<String> = fields.into_iter().map(|value| field(&value)).collect();
        self.body.push_str(&fields.join(","));
        self.body.push_str("\r\n");
    }

    /// The answer, offered for download as `filename`.
    pub fn into_response(self, filename: &'static str) -> Response {
        let mut response = self.body.into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8"));
        if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{filename}\"")) {
            response.headers_mut().insert(header::CONTENT_DISPOSITION, disposition);
        }
        response
    }
}

fn field(value: &str) -> String {
    // A cell starting like a formula is shown as text (OWASP CSV injection).
    let negative_number = value.len() > 1
        && value.starts_with('-')
        && value[1..].chars().all(|character| character.is_ascii_digit() || character == '.');
    let value = if value.starts_with(['=', '+', '@']) || (value.starts_with('-') && !negative_number) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    if value.contains([',', '"', '\n', '\r']) { format!("\"{}\"", value.replace('"', "\"\"")) } else { value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_and_formulas_defused_but_negative_amounts_stay_numbers() {
        assert_eq!(field("奶茶"), "奶茶");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("=SUM(A1)"), "'=SUM(A1)");
        assert_eq!(field("-15.00"), "-15.00");
        assert_eq!(field("-cmd"), "'-cmd");
    }
}

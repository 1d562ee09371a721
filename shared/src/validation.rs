//! Reading a JSON object field by field, so that every bad field is reported at once
//! (`VALIDATION_FAILED` with `errors: [{field, message}]`) instead of the first one serde meets.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Marks a field that was present but invalid; its error is already recorded.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid;

/// A request body being parsed into a domain type.
pub struct Fields {
    map: Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields {
    /// Starts reading `map`; any field outside `known` is reported as unknown.
    pub fn new(map: Map<String, Value>, known: &[&str]) -> Self {
        let errors = map
            .keys()
            .filter(|k| !known.contains(&k.as_str()))
            .map(|k| FieldError::new(k.as_str(), "is not a known field"))
            .collect();
        Self { map, errors }
    }

    /// A field that must be present (and not null).
    pub fn required<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.get(name).filter(|v| !v.is_null()) {
            Some(value) => self.record(name, parse(value)),
            None => {
                self.errors.push(FieldError::new(name, "is required"));
                None
            }
        }
    }

    /// A field that may be absent or null; `Err(Invalid)` when present but invalid.
    pub fn optional<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Result<Option<T>, Invalid> {
        match self.map.get(name).filter(|v| !v.is_null()) {
            Some(value) => self.record(name, parse(value)).map(Some).ok_or(Invalid),
            None => Ok(None),
        }
    }

    /// As `optional`, for a structured field whose parse names its own bad members (e.g.
    /// `priceTiers[1].unitPriceMinor`).
    pub fn optional_with<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&Value) -> Result<T, Vec<FieldError>>,
    ) -> Result<Option<T>, Invalid> {
        match self.map.get(name).filter(|v| !v.is_null()) {
            Some(value) => match parse(value) {
                Ok(parsed) => Ok(Some(parsed)),
                Err(errors) => {
                    self.errors.extend(errors);
                    Err(Invalid)
                }
            },
            None => Ok(None),
        }
    }

    pub fn reject(&mut self, name: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(name, message));
    }

    /// `Ok` when no field was bad.
    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(self.errors)
        }
    }

    fn record<T>(&mut self, name: &str, parsed: Result<T, String>) -> Option<T> {
        parsed
            .map_err(|message| self.errors.push(FieldError::new(name, message)))
            .ok()
    }
}

pub fn string(value: &Value) -> Result<&str, String> {
    value.as_str().ok_or_else(|| "must be a string".into())
}

/// A string of `min..=max` characters that is not only white space.
pub fn text(value: &Value, min: usize, max: usize) -> Result<String, String> {
    let s = string(value)?;
    let len = s.chars().count();
    if len < min || len > max || (min > 0 && s.trim().is_empty()) {
        return Err(format!("must be {min} to {max} characters"));
    }
    Ok(s.to_owned())
}

/// A whole number in `min..=max`. As in JSON Schema (`type: integer`, which openapi.yaml
/// promises), a number with a zero fractional part such as `5.0` is a whole number.
pub fn integer(value: &Value, min: i64, max: i64) -> Result<i64, String> {
    whole_number(value)
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("must be a whole number from {min} to {max}"))
}

/// A JSON number that is whole: `5`, and also `5.0`, which JSON Schema's `integer` (and so
/// `openapi.yaml`) accepts too. Beyond 2^53 a float no longer says which whole number it is.
pub fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
            .map(|f| f as i64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_every_bad_field_at_once() {
        let Value::Object(map) = json!({"a": 1, "b": "x", "extra": true}) else {
            unreachable!()
        };
        let mut fields = Fields::new(map, &["a", "b", "c"]);
        assert_eq!(fields.required("a", |v| integer(v, 2, 3)), None);
        assert_eq!(fields.required("b", |v| text(v, 1, 5)), Some("x".into()));
        assert_eq!(fields.required("c", |v| text(v, 1, 5)), None);
        let errors = fields.finish().expect_err("three bad fields");
        let named: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(named, ["extra", "a", "c"]);
    }

    #[test]
    fn integers_must_be_whole_and_in_range() {
        assert!(integer(&json!(2.5), 0, 10).is_err());
        assert!(integer(&json!("3"), 0, 10).is_err());
        assert!(integer(&json!(11), 0, 10).is_err());
        assert_eq!(integer(&json!(10), 0, 10), Ok(10));
        assert_eq!(integer(&json!(5.0), 0, 10), Ok(5));
        assert!(integer(&json!(11.0), 0, 10).is_err());
        assert!(integer(&json!(1e300), 0, i64::MAX).is_err());
    }

    #[test]
    fn text_must_not_be_blank() {
        assert!(text(&json!("   "), 1, 10).is_err());
        assert!(text(&json!(""), 0, 10).is_ok());
        assert!(text(&json!("ééé"), 1, 3).is_ok());
    }
}

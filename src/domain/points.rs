//! Points: exact decimal amounts with two places.
//!
//! A `Points` value is kept as an `i64` count of hundredths (minor units). That is exact, cheap to
//! add, and is what the database stores; `rust_decimal::Decimal` is the form at every boundary
//! (parsing, JSON strings, display). More than two decimal places is refused, never rounded.

use std::fmt;
use std::str::FromStr;

use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Decimal places of a point amount.
pub const SCALE: u32 = 2;

/// The largest amount one request may carry: one hundred billion points. Sums of many such
/// amounts still fit in `i64` minor units, and checked arithmetic catches the rest.
pub const AMOUNT_MAX_MINOR: i64 = 100_000_000_000 * 100;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Points {
    minor: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PointsError {
    #[error("must be a decimal number such as \"10.00\"")]
    NotADecimal,
    #[error("must have at most 2 decimal places")]
    TooPrecise,
    #[error("must be at most 100000000000.00")]
    TooLarge,
    #[error("must be greater than zero")]
    NotPositive,
}

impl Points {
    pub const ZERO: Points = Points { minor: 0 };

    pub const fn from_minor(minor: i64) -> Self {
        Self { minor }
    }

    pub const fn minor(self) -> i64 {
        self.minor
    }

    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.minor, SCALE)
    }

    /// An exact conversion: refuses more than two decimal places instead of rounding.
    pub fn from_decimal(value: Decimal) -> Result<Self, PointsError> {
        let normalized = value.normalize();
        if normalized.scale() > SCALE {
            return Err(PointsError::TooPrecise);
        }
        let minor = (normalized * Decimal::ONE_HUNDRED).trunc();
        let minor = i64::try_from(minor).map_err(|_| PointsError::TooLarge)?;
        if minor.abs() > AMOUNT_MAX_MINOR {
            return Err(PointsError::TooLarge);
        }
        Ok(Self { minor })
    }

    /// An amount that moves points: strictly positive.
    pub fn positive(value: Decimal) -> Result<Self, PointsError> {
        let points = Self::from_decimal(value)?;
        if points.minor <= 0 {
            return Err(PointsError::NotPositive);
        }
        Ok(points)
    }

    pub fn is_positive(self) -> bool {
        self.minor > 0
    }

    pub fn is_negative(self) -> bool {
        self.minor < 0
    }

    pub fn checked_add(self, other: Points) -> Option<Points> {
        self.minor.checked_add(other.minor).map(Points::from_minor)
    }

    pub fn checked_sub(self, other: Points) -> Option<Points> {
        self.minor.checked_sub(other.minor).map(Points::from_minor)
    }

    pub fn checked_mul(self, factor: i64) -> Option<Points> {
        self.minor.checked_mul(factor).map(Points::from_minor)
    }

    pub fn abs(self) -> Points {
        Points { minor: self.minor.abs() }
    }
}

impl std::ops::Neg for Points {
    type Output = Points;

    fn neg(self) -> Points {
        Points { minor: -self.minor }
    }
}

impl fmt::Display for Points {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}", self.to_decimal())
    }
}

impl FromStr for Points {
    type Err = PointsError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        // Only plain decimal notation: no exponent, no thousands separators, no sign other than '-'.
        let plain = !text.is_empty()
            && text.chars().enumerate().all(|(index, character)| {
                character.is_ascii_digit() || character == '.' || (index == 0 && character == '-')
            });
        if !plain || text.matches('.').count() > 1 || text == "-" || text.ends_with('.') || text.starts_with('.') {
            return Err(PointsError::NotADecimal);
        }
        // Whole digits beyond the largest amount: too large, whatever the parser would say.
        let whole_digits = text.trim_start_matches('-').split('.').next().unwrap_or("").trim_start_matches('0').len();
        if whole_digits > 12 {
            return Err(PointsError::TooLarge);
        }
        let decimal = Decimal::from_str_exact(text).map_err(|error| match error {
            rust_decimal::Error::Underflow => PointsError::TooPrecise,
            rust_decimal::Error::ExceedsMaximumPossibleValue | rust_decimal::Error::LessThanMinimumPossibleValue => {
                PointsError::TooLarge
            }
            _ => PointsError::NotADecimal,
        })?;
        Self::from_decimal(decimal)
    }
}

impl Serialize for Points {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Points {
    /// Accepts only a JSON string: a JSON number may already have passed through a float.
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct PointsVisitor;
        impl serde::de::Visitor<'_> for PointsVisitor {
            type Value = Points;
            fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
                formatter.write_str("a decimal string with at most 2 places, such as \"10.00\"")
            }
            fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Points, E> {
                text.parse().map_err(|error: PointsError| E::custom(format!("amount {error}")))
            }
        }
        deserializer.deserialize_str(PointsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_exact_amounts_and_displays_two_places() {
        assert_eq!("10".parse::<Points>().unwrap().minor(), 1000);
        assert_eq!("0.01".parse::<Points>().unwrap().minor(), 1);
        assert_eq!("1.500".parse::<Points>().unwrap().minor(), 150);
        assert_eq!("-2.5".parse::<Points>().unwrap().minor(), -250);
        assert_eq!(Points::from_minor(1000).to_string(), "10.00");
        assert_eq!(Points::from_minor(-5).to_string(), "-0.05");
    }

    #[test]
    fn refuses_instead_of_rounding() {
        assert_eq!("0.001".parse::<Points>(), Err(PointsError::TooPrecise));
        assert_eq!("1.005".parse::<Points>(), Err(PointsError::TooPrecise));
        assert_eq!("1e3".parse::<Points>(), Err(PointsError::NotADecimal));
        assert_eq!("1,000".parse::<Points>(), Err(PointsError::NotADecimal));
        assert_eq!("".parse::<Points>(), Err(PointsError::NotADecimal));
        assert_eq!("NaN".parse::<Points>(), Err(PointsError::NotADecimal));
        assert_eq!("100000000000.01".parse::<Points>(), Err(PointsError::TooLarge));
        assert_eq!("99999999999999999999999999999".parse::<Points>(), Err(PointsError::TooLarge));
        assert_eq!(Points::positive(Decimal::ZERO), Err(PointsError::NotPositive));
    }

    #[test]
    fn json_numbers_are_refused() {
        assert!(serde_json::from_str::<Points>("1.5").is_err());
        assert_eq!(serde_json::from_str::<Points>("\"1.5\"").unwrap().minor(), 150);
        assert_eq!(serde_json::to_string(&Points::from_minor(150)).unwrap(), "\"1.50\"");
    }

    proptest! {
        #[test]
        fn text_round_trips(minor in -AMOUNT_MAX_MINOR..=AMOUNT_MAX_MINOR) {
            let points = Points::from_minor(minor);
            prop_assert_eq!(points.to_string().parse::<Points>().unwrap(), points);
        }

        #[test]
        fn three_places_never_parse_unless_exact(whole in 0i64..1_000_000, thousandths in 0u32..1000) {
            let text = format!("{whole}.{thousandths:03}");
            let parsed = text.parse::<Points>();
            if thousandths % 10 == 0 {
                prop_assert_eq!(parsed.unwrap().minor(), whole * 100 + i64::from(thousandths / 10));
            } else {
                prop_assert_eq!(parsed, Err(PointsError::TooPrecise));
            }
        }

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
            let _ = text.parse::<Points>();
        }
    }
}

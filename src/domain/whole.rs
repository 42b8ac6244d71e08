//! Small whole numbers as JSON clients write them: `5`, and also `5.0`, which JSON
//! Schema counts as the integer 5 and Python's `json.dumps(5.0)` sends. A fraction, a
//! string or a number out of range is still refused.

use serde::{Deserialize, Deserializer};

/// A `u8` read from any JSON number with no fractional part.
pub fn whole_u8<'de, D: Deserializer<'de>>(d: D) -> Result<u8, D::Error> {
    let n = f64::deserialize(d)?;
    if n.fract() == 0.0 && (0.0..=f64::from(u8::MAX)).contains(&n) {
        Ok(n as u8)
    } else {
        Err(serde::de::Error::custom(format!(
            "expected a whole number 0-255, got {n}"
        )))
    }
}

/// `whole_u8` for an optional field (`null` or absent: `None`).
pub fn whole_u8_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u8>, D::Error> {
    Ok(Option::<WholeU8>::deserialize(d)?.map(|w| w.0))
}

/// A `u8` that reads as `whole_u8` (for maps of levels).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
pub struct WholeU8(#[serde(deserialize_with = "whole_u8")] pub u8);

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Rating {
        #[serde(deserialize_with = "whole_u8")]
        n: u8,
        #[serde(default, deserialize_with = "whole_u8_opt")]
        m: Option<u8>,
    }

    fn read(json: &str) -> Option<(u8, Option<u8>)> {
        serde_json::from_str::<Rating>(json)
            .ok()
            .map(|r| (r.n, r.m))
    }

    #[test]
    fn whole_numbers_in_either_spelling_and_nothing_else() {
        assert_eq!(read(r#"{"n":5}"#), Some((5, None)));
        assert_eq!(read(r#"{"n":5.0,"m":3.0}"#), Some((5, Some(3))));
        assert_eq!(read(r#"{"n":1,"m":null}"#), Some((1, None)));
        for bad in [
            r#"{"n":4.5}"#,
            r#"{"n":"5"}"#,
            r#"{"n":300}"#,
            r#"{"n":-1}"#,
            r#"{"n":1,"m":2.5}"#,
        ] {
            assert_eq!(read(bad), None, "{bad}");
        }
    }
}

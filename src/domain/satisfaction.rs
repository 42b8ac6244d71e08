//! The satisfaction index (the practice: customers rate each conversation, and an index
//! below 4.5 out of 5 is an alarm): ratings 1–5, and the index over the most recent ones.

use serde::Serialize;
use utoipa::ToSchema;

use super::DomainError;

/// How many recent ratings an agent's or a customer's index is taken over.
pub const RECENT_RATINGS: usize = 50;

/// A customer's rating of a conversation, 1 (bad) to 5 (excellent).
pub fn rating(value: u8) -> Result<u8, DomainError> {
    if (1..=5).contains(&value) {
        Ok(value)
    } else {
        Err(DomainError::invalid("rating", "between 1 and 5"))
    }
}

/// Where a rating came from (`resolve`, `survey`, `sms`, ...): 1-32 of `a-z 0-9 _ -`.
/// One rating per conversation and source: a survey's retry is not a second vote.
pub fn rating_source(s: &str) -> Result<String, DomainError> {
    let ok = (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(DomainError::invalid("source", "1-32 of a-z, 0-9, `_`, `-`"))
    }
}

/// The index over the most recent ratings (newest first, at most `RECENT_RATINGS`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, ToSchema)]
pub struct Satisfaction {
    /// Ratings it is taken over.
    pub ratings: u32,
    /// Their mean, 1–5: the index (alarm below 4.5).
    pub index: f64,
    /// The share rated 4 or 5.
    pub satisfied: f64,
}

/// Never NaN (built only by `of`), so equality is total.
impl Eq for Satisfaction {}

impl Satisfaction {
    pub fn of(recent: &[u8]) -> Option<Self> {
        let recent = &recent[..recent.len().min(RECENT_RATINGS)];
        if recent.is_empty() {
            return None;
        }
        let n = recent.len() as f64;
        let sum: f64 = recent.iter().map(|r| f64::from(*r)).sum();
        let satisfied = recent.iter().filter(|r| **r >= 4).count() as f64;
        Some(Self {
            ratings: recent.len() as u32,
            index: (sum / n * 100.0).round() / 100.0,
            satisfied: (satisfied / n * 100.0).round() / 100.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_the_mean_of_recent_ratings_and_the_share_of_fours_and_fives() {
        assert_eq!(Satisfaction::of(&[]), None);
        let s = Satisfaction::of(&[5, 4, 2, 5]).expect("rated");
        assert_eq!((s.ratings, s.index, s.satisfied), (4, 4.0, 0.75));
        let many = vec![5u8; RECENT_RATINGS + 10];
        assert_eq!(Satisfaction::of(&many).map(|s| s.ratings), Some(50));
        assert!(rating(0).is_err() && rating(6).is_err() && rating(3).is_ok());
        assert!(rating_source("survey").is_ok() && rating_source("Survey!").is_err());
    }
}

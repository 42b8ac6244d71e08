//! Routing groups: the team or department an agent works in, and the shard key of
//! routing. Each group's routing state is one atomic unit (one Redis hash slot), so
//! different groups route on different cluster masters.

use std::fmt;
use std::str::FromStr;

use super::DomainError;

/// A routing group's name: 1-32 of `a-z`, `0-9`, `-`, `_`, starting with a letter or
/// digit. Lower case only, so `Sales` and `sales` cannot become two groups.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct RoutingGroup(String);

/// The group of agents and customers nobody put anywhere else.
pub const DEFAULT_GROUP: &str = "default";

impl RoutingGroup {
    pub fn default_group() -> Self {
        Self(DEFAULT_GROUP.to_owned())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_default(&self) -> bool {
        self.0 == DEFAULT_GROUP
    }
}

impl Default for RoutingGroup {
    fn default() -> Self {
        Self::default_group()
    }
}

impl FromStr for RoutingGroup {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = (1..=32).contains(&s.len())
            && s.bytes().enumerate().all(|(i, b)| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || (i > 0 && (b == b'-' || b == b'_'))
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "group",
                "1-32 characters of a-z, 0-9, '-' and '_', starting with a letter or digit",
            ))
        }
    }
}

impl fmt::Display for RoutingGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_lower_case_labels() {
        for ok in ["default", "sales", "es", "tier-2", "b2b_eu", "7x24"] {
            assert_eq!(
                ok.parse::<RoutingGroup>().map(|g| g.to_string()),
                Ok(ok.into())
            );
        }
        for bad in [
            "",
            "Sales",
            "-x",
            "_x",
            "a b",
            "a{b}",
            "a:b",
            &"x".repeat(33),
        ] {
            assert!(bad.parse::<RoutingGroup>().is_err(), "{bad:?}");
        }
    }
}

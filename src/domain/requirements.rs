//! Languages and skills: what agents can do and what a conversation needs (CONTRACT
//! "Routing groups, languages and skills"). Both sides become *tags* (`l:es`,
//! `s:billing:3`), and an agent fits a conversation when it has every tag the
//! conversation needs — one rule, the same set test in the Rust engine and in Lua, and
//! one index per tag in Redis so choosing stays a sorted-set lookup.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::DomainError;

/// Most languages an agent lists, and most skills on either side.
pub const MAX_LABELS: usize = 16;

/// The primary subtag of a BCP 47 language tag, lower case: `es` of `es-MX` or `ES_mx`.
/// Customers and agents match on it (a Mexican customer is served by a Spanish speaker).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Language(String);

impl Language {
    /// A tag `from_str` accepts, untrimmed, as the OpenAPI document's pattern (with a
    /// `maxLength` of 35).
    pub const PATTERN: &'static str = "^[A-Za-z]{2,3}([-_][A-Za-z0-9]{1,8})*$";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Language {
    type Err = DomainError;

    /// `primary(-subtag)*`, primary 2-3 letters, subtags 1-8 letters or digits (`_` is
    /// read as `-`, as Java and POSIX locales write it), 35 characters at most.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let mut parts = s.split(['-', '_']);
        let primary = parts.next().unwrap_or("");
        let ok = s.len() <= 35
            && (2..=3).contains(&primary.len())
            && primary.bytes().all(|b| b.is_ascii_alphabetic())
            && parts.all(|p| {
                (1..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric())
            });
        if ok {
            Ok(Language(primary.to_ascii_lowercase()))
        } else {
            Err(DomainError::invalid(
                "language",
                format!("`{s}` is not a BCP 47 language tag such as `es` or `pt-BR`"),
            ))
        }
    }
}

impl TryFrom<String> for Language {
    type Error = DomainError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Language> for String {
    fn from(l: Language) -> String {
        l.0
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A skill name `skill_name` accepts, untrimmed, as the OpenAPI document's pattern.
pub const SKILL_PATTERN: &str = "^[A-Za-z0-9_-]{1,32}$";

/// A skill's name: 1-32 of `a-z 0-9 _ -`, lower-cased (`Billing` is `billing`).
fn skill_name(s: &str) -> Result<String, DomainError> {
    let s = s.trim().to_ascii_lowercase();
    let ok = (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(s)
    } else {
        Err(DomainError::invalid(
            "skills",
            format!("`{s}`: a skill is 1-32 of a-z, 0-9, `_`, `-`"),
        ))
    }
}

/// Skills by name, each with a level 1–5 (an agent's proficiency, or the least a
/// conversation needs). Also read from a plain list of names, each at level 1, as
/// agents were stored before levels existed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
#[schema(value_type = BTreeMap<String, u8>, example = json!({"billing": 3}))]
pub struct Skills(BTreeMap<String, u8>);

#[derive(Deserialize)]
#[serde(untagged)]
enum SkillsWire {
    Levels(BTreeMap<String, super::whole::WholeU8>),
    Names(Vec<String>),
}

impl<'de> Deserialize<'de> for Skills {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let levels = match SkillsWire::deserialize(d)? {
            SkillsWire::Levels(levels) => levels.into_iter().map(|(n, l)| (n, l.0)).collect(),
            SkillsWire::Names(names) => names.into_iter().map(|n| (n, 1)).collect(),
        };
        Skills::new(levels).map_err(serde::de::Error::custom)
    }
}

impl Skills {
    pub fn new(levels: BTreeMap<String, u8>) -> Result<Self, DomainError> {
        if levels.len() > MAX_LABELS {
            return Err(DomainError::invalid(
                "skills",
                format!("at most {MAX_LABELS} skills"),
            ));
        }
        let mut checked = BTreeMap::new();
        for (name, level) in levels {
            if !(1..=5).contains(&level) {
                return Err(DomainError::invalid(
                    "skills",
                    format!("`{name}`: a level is 1-5"),
                ));
            }
            checked.insert(skill_name(&name)?, level);
        }
        Ok(Skills(checked))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, u8)> {
        self.0.iter().map(|(k, v)| (k.as_str(), *v))
    }
}

/// Checks an agent's languages: at most `MAX_LABELS`, each a language tag; repeats
/// dropped, the admin's order kept.
pub fn languages(raw: &[String]) -> Result<Vec<Language>, DomainError> {
    if raw.len() > MAX_LABELS {
        return Err(DomainError::invalid(
            "languages",
            format!("at most {MAX_LABELS} languages"),
        ));
    }
    let mut langs: Vec<Language> = Vec::new();
    for l in raw {
        let l: Language = l.parse()?;
        if !langs.contains(&l) {
            langs.push(l);
        }
    }
    Ok(langs)
}

/// What an agent can do, as tags: `l:<language>` per language, and `s:<skill>:<k>` for
/// every level `k` up to theirs (so "billing ≥ 3" is the single tag `s:billing:3`).
pub fn agent_tags(languages: &[Language], skills: &Skills) -> Vec<String> {
    let mut tags: Vec<String> = languages.iter().map(|l| format!("l:{l}")).collect();
    for (name, level) in skills.iter() {
        tags.extend((1..=level).map(|k| format!("s:{name}:{k}")));
    }
    tags
}

/// How the Redis store indexes an agent: `l:<language>` per language and
/// `s:<skill>=<level>` per skill at its exact level — one index entry per skill, however
/// high the level; a need `s:<skill>:<k>` reads the exact-level indexes `k`..=5 together.
pub fn index_tags(languages: &[Language], skills: &Skills) -> Vec<String> {
    let mut tags: Vec<String> = languages.iter().map(|l| format!("l:{l}")).collect();
    tags.extend(
        skills
            .iter()
            .map(|(name, level)| format!("s:{name}={level}")),
    );
    tags
}

/// What a conversation needs: a language and skills with least levels. Routing relaxes
/// it in steps over time (see `routing::Needs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Requirements {
    pub language: Option<Language>,
    pub skills: Skills,
}

impl Requirements {
    pub fn is_empty(&self) -> bool {
        self.language.is_none() && self.skills.is_empty()
    }

    /// The tags an agent must have; `any_level` keeps each skill but at level 1 (the
    /// first relaxing step: "any Spanish speaker who knows billing").
    pub fn tags(&self, any_level: bool) -> Vec<String> {
        let mut tags: Vec<String> = self.language.iter().map(|l| format!("l:{l}")).collect();
        for (name, level) in self.skills.iter() {
            let level = if any_level { 1 } else { level };
            tags.push(format!("s:{name}:{level}"));
        }
        tags
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_match_on_their_primary_subtag() {
        for (raw, primary) in [
            ("es", "es"),
            ("es-MX", "es"),
            ("PT_br", "pt"),
            ("yue-Hant-HK", "yue"),
        ] {
            assert_eq!(raw.parse::<Language>().expect(raw).as_str(), primary);
        }
        for bad in ["", "e", "español", "es-", "1e", "es-toolongsubtag", "es mx"] {
            assert!(bad.parse::<Language>().is_err(), "{bad}");
        }
    }

    #[test]
    fn skills_are_read_as_levels_or_as_a_plain_list() {
        let levels: Skills = serde_json::from_str(r#"{"Billing": 3}"#).expect("map");
        assert_eq!(levels.iter().collect::<Vec<_>>(), vec![("billing", 3)]);
        let names: Skills = serde_json::from_str(r#"["refunds"]"#).expect("list");
        assert_eq!(names.iter().collect::<Vec<_>>(), vec![("refunds", 1)]);
        assert!(serde_json::from_str::<Skills>(r#"{"billing": 6}"#).is_err());
        assert!(serde_json::from_str::<Skills>(r#"{"bill ing": 2}"#).is_err());
    }

    #[test]
    fn an_agent_fits_when_it_has_every_tag_the_conversation_needs() {
        let agent = agent_tags(
            &languages(&["es".into(), "en".into()]).expect("langs"),
            &Skills::new([("billing".to_owned(), 2)].into()).expect("skills"),
        );
        let needs = Requirements {
            language: Some("es-MX".parse().expect("lang")),
            skills: Skills::new([("billing".to_owned(), 3)].into()).expect("skills"),
        };
        let fits = |tags: Vec<String>| tags.iter().all(|t| agent.contains(t));
        assert!(!fits(needs.tags(false)), "billing 2 is not billing 3");
        assert!(fits(needs.tags(true)), "any level of billing, in Spanish");
    }
}

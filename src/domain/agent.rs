//! Agents, their capacity per channel and their presence (CONTRACT "Agent API", rule 4).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::requirements::{self, agent_tags, index_tags, Language, Skills};
use super::{Channel, DomainError, RoutingGroup, Satisfaction};

/// An agent id: 1–64 characters of `[A-Za-z0-9._-]` (it appears in URLs and JWT `sub`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct AgentId(String);

/// An id reads as the text it is (comparisons with literals, logs, URLs).
impl std::ops::Deref for AgentId {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AgentId {
    /// What `from_str` accepts, as the OpenAPI document's pattern.
    pub const PATTERN: &'static str = "^[A-Za-z0-9._-]{1,64}$";

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AgentId {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(AgentId(s.to_owned()))
        } else {
            Err(DomainError::invalid(
                "agent_id",
                "1-64 characters of A-Z, a-z, 0-9, `.`, `_`, `-`",
            ))
        }
    }
}

impl TryFrom<String> for AgentId {
    type Error = DomainError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<AgentId> for String {
    fn from(id: AgentId) -> String {
        id.0
    }
}

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Presence {
    Online,
    Away,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Offline => "offline",
        }
    }
}

impl FromStr for Presence {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "online" => Ok(Presence::Online),
            "away" => Ok(Presence::Away),
            "offline" => Ok(Presence::Offline),
            other => Err(DomainError::invalid(
                "presence",
                format!("unknown presence `{other}`"),
            )),
        }
    }
}

/// Concurrent conversations an agent takes per channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Capacity {
    pub phone: u32,
    pub email: u32,
    pub chat: u32,
    pub social: u32,
}

impl Default for Capacity {
    /// The contract's defaults: phone 1, chat 3, social 3, email 5.
    fn default() -> Self {
        Self {
            phone: 1,
            email: 5,
            chat: 3,
            social: 3,
        }
    }
}

impl Capacity {
    pub fn of(&self, channel: Channel) -> u32 {
        match channel {
            Channel::Phone => self.phone,
            Channel::Email => self.email,
            Channel::Chat => self.chat,
            Channel::Social => self.social,
        }
    }
}

/// What a customer may see of their personal agent (the manager's card on the site):
/// all optional, set by an admin.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicCard {
    /// e.g. "Your personal manager".
    #[serde(default)]
    #[schema(max_length = 100)]
    pub title: Option<String>,
    /// An `https://` URL of their photo.
    #[serde(default)]
    #[schema(max_length = 2000, example = "https://cdn.example.com/ann.jpg")]
    pub photo_url: Option<String>,
    /// How to reach them directly, by channel: `{"phone": "+1 415 555 0100", "email": "ann@example.com"}`.
    #[serde(default)]
    pub direct: BTreeMap<Channel, String>,
}

impl PublicCard {
    fn check(&self) -> Result<(), DomainError> {
        if self.title.as_ref().is_some_and(|t| t.chars().count() > 100) {
            return Err(DomainError::invalid("title", "at most 100 characters"));
        }
        let url_ok = |u: &String| {
            u.starts_with("https://") && u.len() <= 2000 && !u.contains(char::is_whitespace)
        };
        if self.photo_url.as_ref().is_some_and(|u| !url_ok(u)) {
            return Err(DomainError::invalid(
                "photo_url",
                "an https:// URL of at most 2000 characters",
            ));
        }
        if self
            .direct
            .values()
            .any(|v| v.trim().is_empty() || v.chars().count() > 200)
        {
            return Err(DomainError::invalid(
                "direct",
                "each address 1-200 characters",
            ));
        }
        Ok(())
    }
}

/// Most conversations of one channel an agent may be given at once.
pub const MAX_CAPACITY: u32 = 100;

/// What an admin says about an agent (`PUT /v1/agents/{id}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentProfile {
    pub id: AgentId,
    pub name: String,
    pub teams: Vec<String>,
    pub capacity: Capacity,
    /// Skills with levels 1-5 and languages: a conversation that needs some goes to an
    /// agent who has them (relaxed over time).
    pub skills: Skills,
    pub languages: Vec<Language>,
    /// Where calls reach this agent: a `sip:` URI or an E.164 number; by default the
    /// phone adapter's own client named by the agent id.
    pub dial: Option<String>,
    /// The routing group the agent works in; they serve only its conversations.
    pub group: RoutingGroup,
    /// What their customers see of them.
    pub card: PublicCard,
}

impl AgentProfile {
    pub fn new(
        id: AgentId,
        name: String,
        teams: Vec<String>,
        capacity: Capacity,
    ) -> Result<Self, DomainError> {
        let name = name.trim().to_owned();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(DomainError::invalid("name", "1-200 characters"));
        }
        if teams.len() > 32 || teams.iter().any(|t| t.is_empty() || t.len() > 64) {
            return Err(DomainError::invalid(
                "teams",
                "at most 32 teams of 1-64 characters",
            ));
        }
        if Channel::ALL.iter().any(|c| capacity.of(*c) > MAX_CAPACITY) {
            return Err(DomainError::invalid(
                "capacity",
                format!("at most {MAX_CAPACITY} per channel"),
            ));
        }
        Ok(Self {
            id,
            name,
            teams,
            capacity,
            skills: Skills::default(),
            languages: Vec::new(),
            dial: None,
            group: RoutingGroup::default(),
            card: PublicCard::default(),
        })
    }

    /// Sets what customers see of the agent (checked: title, photo URL, addresses).
    pub fn with_card(mut self, card: PublicCard) -> Result<Self, DomainError> {
        card.check()?;
        self.card = card;
        Ok(self)
    }

    pub fn in_group(mut self, group: RoutingGroup) -> Self {
        self.group = group;
        self
    }

    /// Sets where calls reach this agent: `sip:user@host` or `+<8-15 digits>`.
    pub fn with_dial(mut self, dial: Option<String>) -> Result<Self, DomainError> {
        let dial = dial.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty());
        if let Some(d) = &dial {
            let sip = d.starts_with("sip:")
                && d.len() <= 256
                && d.contains('@')
                && !d.contains(char::is_whitespace);
            let digits = d.strip_prefix('+').unwrap_or("");
            let number =
                (8..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit());
            if !sip && !number {
                return Err(DomainError::invalid(
                    "dial",
                    "a `sip:user@host` URI or an E.164 number",
                ));
            }
        }
        self.dial = dial;
        Ok(self)
    }

    /// Adds skills (checked when parsed) and languages (BCP 47 tags, matched on their
    /// primary subtag).
    pub fn with_skills(
        mut self,
        skills: Skills,
        languages: &[String],
    ) -> Result<Self, DomainError> {
        self.skills = skills;
        self.languages = requirements::languages(languages)?;
        Ok(self)
    }

    /// What the agent can do, as routing matches it (`requirements::agent_tags`).
    pub fn tags(&self) -> Vec<String> {
        agent_tags(&self.languages, &self.skills)
    }

    /// The agent's entries in the Redis choice indexes (`requirements::index_tags`).
    pub fn index_tags(&self) -> Vec<String> {
        index_tags(&self.languages, &self.skills)
    }
}

/// An agent as routing sees them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AgentView {
    #[schema(value_type = String)]
    pub id: AgentId,
    pub name: String,
    pub teams: Vec<String>,
    /// Skill name → level 1-5.
    pub skills: Skills,
    /// Primary language subtags (`es`, `en`).
    #[schema(value_type = Vec<String>, example = json!(["es", "en"]))]
    pub languages: Vec<Language>,
    pub dial: Option<String>,
    /// What their customers see of them.
    pub card: PublicCard,
    /// The routing group the agent serves.
    #[schema(value_type = String, example = "default")]
    pub group: RoutingGroup,
    pub capacity: Capacity,
    pub presence: Presence,
    /// Conversations assigned now, per channel.
    pub load: BTreeMap<String, u32>,
    /// Customers whose personal agent this is.
    pub portfolio: u64,
    /// Conversations held whose call has ended (after-call work): on the agent's desk,
    /// taking no unit.
    pub after_call: u32,
    /// The index over the ratings of the conversations this agent served.
    pub satisfaction: Option<Satisfaction>,
}

/// A personal agent's public card, for the site header or the chat widget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct ManagerCard {
    #[schema(value_type = String)]
    pub agent_id: AgentId,
    pub name: String,
    #[serde(flatten)]
    pub card: PublicCard,
    /// Online now (a chat reaches them at once if they have room).
    pub available: bool,
}

impl From<AgentView> for ManagerCard {
    fn from(a: AgentView) -> Self {
        Self {
            available: a.presence == Presence::Online,
            agent_id: a.id,
            name: a.name,
            card: a.card,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_ids_are_url_safe() {
        assert!("a-7".parse::<AgentId>().is_ok());
        assert!("jane.doe_2".parse::<AgentId>().is_ok());
        for bad in ["", "a/b", "a b", "é", &"x".repeat(65)] {
            assert!(bad.parse::<AgentId>().is_err(), "{bad}");
        }
    }

    #[test]
    fn profiles_bound_their_fields() {
        let id: AgentId = "a-1".parse().expect("id");
        assert!(AgentProfile::new(id.clone(), "Ann".into(), vec![], Capacity::default()).is_ok());
        assert!(AgentProfile::new(id.clone(), " ".into(), vec![], Capacity::default()).is_err());
        let huge = Capacity {
            chat: MAX_CAPACITY + 1,
            ..Capacity::default()
        };
        assert!(AgentProfile::new(id, "Ann".into(), vec![], huge).is_err());
    }
}

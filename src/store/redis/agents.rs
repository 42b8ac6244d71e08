//! Agents on Redis: profiles, presence and removal, each one routing script on their
//! group's slot (a change may hand waiting work to someone); and the agents' views.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use redis::Value;
use serde::{Deserialize, Serialize};

use super::placement::strings;
use super::{corrupt, from_redis, RedisStore};
use crate::domain::{
    AgentId, AgentProfile, AgentView, Capacity, Channel, ConversationId, Incarnation, Presence,
    PublicCard, RoutingGroup, Skills,
};
use crate::routing::BUSY_AGENT;
use crate::store::{AgentStore, Assignment, SavedAgent, StoreError};

/// The profile as stored in the agent's hash.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredProfile {
    name: String,
    teams: Vec<String>,
    /// Name → level; agents stored before levels existed have a list of names, and
    /// labels stored before names were checked are dropped when read (`stored_skills`).
    #[serde(default)]
    skills: serde_json::Value,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    dial: Option<String>,
    #[serde(default)]
    card: PublicCard,
}

/// Skills as stored, keeping those that are valid today.
fn stored_skills(value: serde_json::Value) -> Skills {
    let levels: BTreeMap<String, u8> = match value {
        serde_json::Value::Object(map) => map
            .into_iter()
            .filter_map(|(k, v)| Some((k, u8::try_from(v.as_u64()?).ok()?)))
            .collect(),
        serde_json::Value::Array(names) => names
            .into_iter()
            .filter_map(|n| Some((n.as_str()?.to_owned(), 1)))
            .collect(),
        _ => BTreeMap::new(),
    };
    let valid = levels
        .into_iter()
        .filter(|(k, v)| Skills::new([(k.clone(), *v)].into()).is_ok())
        .collect();
    Skills::new(valid).unwrap_or_default()
}

impl RedisStore {
    /// Creates or updates an agent in their profile's group. A move from another group
    /// takes an idle agent out of the old one first (refused for a busy one); then the
    /// pointer moves, then the agent is put: a crash between leaves an agent that the
    /// admin's retry of the same `PUT` puts right.
    pub(super) async fn put_agent_profile(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<(bool, Vec<Assignment>), StoreError> {
        let current = self.agent_group(&profile.id).await?;
        let mut moved = false;
        if current != profile.group {
            let left: String = self
                .scripts
                .leave_group
                .key(self.keys.routing(&current))
                .arg(profile.id.as_str())
                .invoke_async(&mut self.conn.clone())
                .await
                .map_err(from_redis)?;
            if left == "busy" {
                return Err(StoreError::Conflict(BUSY_AGENT.to_owned()));
            }
            moved = left == "left";
        }
        self.set_agent_group(&profile.id, &profile.group).await?;
        let stored = StoredProfile {
            name: profile.name.clone(),
            teams: profile.teams.clone(),
            skills: serde_json::to_value(&profile.skills).map_err(corrupt)?,
            languages: profile.languages.iter().map(|l| l.to_string()).collect(),
            dial: profile.dial.clone(),
            card: profile.card.clone(),
        };
        let cap = &profile.capacity;
        let answer: Vec<Value> = self
            .scripts
            .put_agent
            .key(self.keys.routing(&profile.group))
            .arg(profile.id.as_str())
            .arg(serde_json::to_string(&stored).map_err(corrupt)?)
            .arg(cap.phone)
            .arg(cap.email)
            .arg(cap.chat)
            .arg(cap.social)
            .arg(profile.tags().join(" "))
            .arg(profile.index_tags().join(" "))
            .arg(Incarnation::generate().as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut parts = answer.into_iter();
        let created = matches!(parts.next(), Some(Value::Int(1))) && !moved;
        let made = parts.map(strings).collect::<Result<Vec<_>, _>>()?;
        Ok((created, self.recorded(made, &profile.group, now).await?))
    }

    pub(super) async fn presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let group = self.agent_group(id).await?;
        let made: Option<Vec<Vec<String>>> = self
            .scripts
            .presence
            .key(self.keys.routing(&group))
            .arg(id.as_str())
            .arg(presence.as_str())
            .arg(now.timestamp_millis())
            .arg(self.policy.offline_grace.num_milliseconds())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match made {
            Some(made) => Ok(Some(self.recorded(made, &group, now).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn remove_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let group = self.agent_group(id).await?;
        let made: Option<Vec<Vec<String>>> = self
            .scripts
            .delete_agent
            .key(self.keys.routing(&group))
            .arg(id.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match made {
            // The group pointer stays: the removed agent's events stay readable.
            Some(made) => Ok(Some(self.recorded(made, &group, now).await?)),
            None => Ok(None),
        }
    }

    /// Whether `id` is (still) an agent.
    pub(super) async fn load_agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        let group = self.agent_group(id).await?;
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.agent(&group, id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        agent_view(id, &group, fields)
    }

    /// The conversations the agent holds, longest held first.
    pub(super) async fn held_by(&self, id: &AgentId) -> Result<Vec<ConversationId>, StoreError> {
        let group = self.agent_group(id).await?;
        let ids: Vec<String> = redis::cmd("ZRANGE")
            .arg(self.keys.held(&group, id))
            .arg(0)
            .arg(-1)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        ids.iter()
            .map(|i| i.parse())
            .collect::<Result<_, _>>()
            .map_err(corrupt)
    }

    /// Every group's agents, by id.
    pub(super) async fn load_agents(&self) -> Result<Vec<AgentView>, StoreError> {
        let mut all = Vec::new();
        for group in self.all_groups().await? {
            all.extend(self.group_agents(&group).await?);
        }
        all.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(all)
    }

    async fn group_agents(&self, group: &RoutingGroup) -> Result<Vec<AgentView>, StoreError> {
        let ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.agents(group))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let ids: Vec<AgentId> = ids
            .iter()
            .map(|i| i.parse())
            .collect::<Result<_, _>>()
            .map_err(corrupt)?;
        // An empty pipeline is not a round trip redis-rs can answer: nothing to read.
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.keys.agent(group, id));
        }
        let all: Vec<Vec<(String, String)>> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let views = ids
            .iter()
            .zip(all)
            .map(|(id, fields)| agent_view(id, group, fields));
        Ok(views
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }
}

pub(super) fn agent_view(
    id: &AgentId,
    group: &RoutingGroup,
    fields: Vec<(String, String)>,
) -> Result<Option<AgentView>, StoreError> {
    if fields.is_empty() {
        return Ok(None);
    }
    let map: BTreeMap<String, String> = fields.into_iter().collect();
    let num = |k: &str| map.get(k).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
    let profile: StoredProfile =
        serde_json::from_str(map.get("profile").map_or("{}", String::as_str)).map_err(corrupt)?;
    Ok(Some(AgentView {
        id: id.clone(),
        name: profile.name,
        teams: profile.teams,
        skills: stored_skills(profile.skills),
        languages: profile
            .languages
            .iter()
            .filter_map(|l| l.parse().ok())
            .collect(),
        dial: profile.dial,
        card: profile.card,
        group: group.clone(),
        capacity: Capacity {
            phone: num("cap:phone"),
            email: num("cap:email"),
            chat: num("cap:chat"),
            social: num("cap:social"),
        },
        presence: map
            .get("presence")
            .map_or(Ok(Presence::Offline), |p| p.parse())
            .map_err(corrupt)?,
        load: Channel::ALL
            .iter()
            .map(|c| (c.as_str().to_owned(), num(&format!("load:{}", c.as_str()))))
            .collect(),
        portfolio: map
            .get("portfolio")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        after_call: map
            .get("after_call")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0),
        satisfaction: None,
    }))
}

#[async_trait]
impl AgentStore for RedisStore {
    async fn put_agent(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<SavedAgent, StoreError> {
        let (created, assignments) = self.put_agent_profile(profile, now).await?;
        let view = self
            .load_agent(&profile.id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("agent {} vanished", profile.id)))?;
        Ok(SavedAgent {
            view,
            created,
            assignments,
        })
    }

    async fn agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        self.load_agent(id).await
    }

    async fn agents(&self) -> Result<Vec<AgentView>, StoreError> {
        self.load_agents().await
    }

    async fn held(&self, agent: &AgentId) -> Result<Vec<ConversationId>, StoreError> {
        self.held_by(agent).await
    }

    async fn set_presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.presence(id, presence, now).await
    }

    async fn delete_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        self.remove_agent(id, now).await
    }
}

//! Agents on Redis: profiles, presence and removal, each one routing script on the
//! routing slot (a change may hand waiting work to someone); and the agents' views.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use redis::Value;
use serde::{Deserialize, Serialize};

use super::{corrupt, from_redis, RedisStore};
use crate::domain::{AgentId, AgentProfile, AgentView, Capacity, Channel, Presence};
use crate::store::{Assignment, StoreError};

use super::routing::strings;

/// The profile as stored in the agent's hash.
#[derive(Serialize, Deserialize)]
pub(super) struct StoredProfile {
    name: String,
    teams: Vec<String>,
    #[serde(default)]
    skills: Vec<String>,
    #[serde(default)]
    languages: Vec<String>,
    #[serde(default)]
    dial: Option<String>,
}

impl RedisStore {
    pub(super) async fn put_agent_profile(
        &self,
        profile: &AgentProfile,
        now: DateTime<Utc>,
    ) -> Result<(bool, Vec<Assignment>), StoreError> {
        let stored = StoredProfile {
            name: profile.name.clone(),
            teams: profile.teams.clone(),
            skills: profile.skills.clone(),
            languages: profile.languages.clone(),
            dial: profile.dial.clone(),
        };
        let cap = &profile.capacity;
        let answer: Vec<Value> = self
            .routing_scripts
            .put_agent
            .key(self.keys.routing())
            .arg(profile.id.as_str())
            .arg(serde_json::to_string(&stored).map_err(corrupt)?)
            .arg(cap.phone)
            .arg(cap.email)
            .arg(cap.chat)
            .arg(cap.social)
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let mut parts = answer.into_iter();
        let created = matches!(parts.next(), Some(Value::Int(1)));
        let made = parts.map(strings).collect::<Result<Vec<_>, _>>()?;
        Ok((created, self.recorded(made, now).await?))
    }

    pub(super) async fn presence(
        &self,
        id: &AgentId,
        presence: Presence,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let made: Option<Vec<Vec<String>>> = self
            .routing_scripts
            .presence
            .key(self.keys.routing())
            .arg(id.as_str())
            .arg(presence.as_str())
            .arg(now.timestamp_millis())
            .arg(self.policy.offline_grace.num_milliseconds())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match made {
            Some(made) => Ok(Some(self.recorded(made, now).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn remove_agent(
        &self,
        id: &AgentId,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Assignment>>, StoreError> {
        let made: Option<Vec<Vec<String>>> = self
            .routing_scripts
            .delete_agent
            .key(self.keys.routing())
            .arg(id.as_str())
            .invoke_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        match made {
            Some(made) => Ok(Some(self.recorded(made, now).await?)),
            None => Ok(None),
        }
    }

    /// Whether `id` is (still) an agent.
    pub(super) async fn is_agent(&self, id: &str) -> Result<bool, StoreError> {
        redis::cmd("SISMEMBER")
            .arg(self.keys.agents())
            .arg(id)
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)
    }

    pub(super) async fn load_agent(&self, id: &AgentId) -> Result<Option<AgentView>, StoreError> {
        let fields: Vec<(String, String)> = redis::cmd("HGETALL")
            .arg(self.keys.agent(id))
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        agent_view(id, fields)
    }

    pub(super) async fn load_agents(&self) -> Result<Vec<AgentView>, StoreError> {
        let mut ids: Vec<String> = redis::cmd("SMEMBERS")
            .arg(self.keys.agents())
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        ids.sort();
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
            pipe.hgetall(self.keys.agent(id));
        }
        let all: Vec<Vec<(String, String)>> = pipe
            .query_async(&mut self.conn.clone())
            .await
            .map_err(from_redis)?;
        let views = ids
            .iter()
            .zip(all)
            .map(|(id, fields)| agent_view(id, fields));
        Ok(views
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .flatten()
            .collect())
    }
}

pub(super) fn agent_view(
    id: &AgentId,
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
        skills: profile.skills,
        languages: profile.languages,
        dial: profile.dial,
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
    }))
}

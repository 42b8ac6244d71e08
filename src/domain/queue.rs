//! The queues conversations wait in: each channel's, and the supervisor's.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Channel, DomainError};

/// The queue of conversations that were passed around too often.
pub const SUPERVISOR_QUEUE: &str = "supervisor";

/// A queue: each channel's, and the supervisor's (conversations passed around too often).
/// On the wire and in Redis it is its name (`chat`, `supervisor`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Queue {
    Channel(Channel),
    Supervisor,
}

/// The queues, in the order snapshots list them.
pub const QUEUES: [Queue; 5] = [
    Queue::Channel(Channel::Phone),
    Queue::Channel(Channel::Email),
    Queue::Channel(Channel::Chat),
    Queue::Channel(Channel::Social),
    Queue::Supervisor,
];

impl Queue {
    pub fn as_str(self) -> &'static str {
        match self {
            Queue::Channel(channel) => channel.as_str(),
            Queue::Supervisor => SUPERVISOR_QUEUE,
        }
    }
}

impl std::fmt::Display for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Queue {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            SUPERVISOR_QUEUE => Ok(Queue::Supervisor),
            channel => channel
                .parse()
                .map(Queue::Channel)
                .map_err(|_| DomainError::invalid("queue", format!("unknown queue `{s}`"))),
        }
    }
}

impl From<Channel> for Queue {
    fn from(channel: Channel) -> Self {
        Queue::Channel(channel)
    }
}

impl Serialize for Queue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Queue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_queue_reads_back_from_its_name_and_json() {
        for queue in QUEUES {
            assert_eq!(queue.as_str().parse::<Queue>(), Ok(queue));
            let json = serde_json::to_string(&queue).expect("writes");
            assert_eq!(json, format!("\"{queue}\""));
            assert_eq!(serde_json::from_str::<Queue>(&json).expect("reads"), queue);
        }
        assert!("default".parse::<Queue>().is_err());
    }
}

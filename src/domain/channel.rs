//! Channels and the networks that refine them (CONTRACT "Channels and identities").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::DomainError;

/// The medium a customer used to reach us.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    Phone,
    Email,
    Chat,
    Social,
}

/// The provider network inside a channel: `voice`/`sms` for phone, a social network for social.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Network {
    Voice,
    Sms,
    Whatsapp,
    Telegram,
    Messenger,
    Instagram,
    X,
}

impl Channel {
    pub const ALL: [Channel; 4] = [
        Channel::Phone,
        Channel::Email,
        Channel::Chat,
        Channel::Social,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Phone => "phone",
            Channel::Email => "email",
            Channel::Chat => "chat",
            Channel::Social => "social",
        }
    }
}

impl std::str::FromStr for Channel {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, DomainError> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| DomainError::invalid("channel", format!("unknown channel `{s}`")))
    }
}

impl Network {
    pub const ALL: [Network; 7] = [
        Network::Voice,
        Network::Sms,
        Network::Whatsapp,
        Network::Telegram,
        Network::Messenger,
        Network::Instagram,
        Network::X,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Network::Voice => "voice",
            Network::Sms => "sms",
            Network::Whatsapp => "whatsapp",
            Network::Telegram => "telegram",
            Network::Messenger => "messenger",
            Network::Instagram => "instagram",
            Network::X => "x",
        }
    }

    fn belongs_to(self, channel: Channel) -> bool {
        match channel {
            Channel::Phone => matches!(self, Network::Voice | Network::Sms),
            Channel::Social => !matches!(self, Network::Voice | Network::Sms),
            Channel::Email | Channel::Chat => false,
        }
    }
}

/// A channel together with a network that is valid for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Medium {
    channel: Channel,
    network: Option<Network>,
}

impl Medium {
    /// Social messages must name their network (it decides the sender's identity kind);
    /// e-mail and chat must not; phone may.
    pub fn new(channel: Channel, network: Option<Network>) -> Result<Self, DomainError> {
        match (channel, network) {
            (Channel::Social, None) => Err(DomainError::invalid(
                "network",
                "a social message must name its network",
            )),
            (_, Some(n)) if !n.belongs_to(channel) => Err(DomainError::invalid(
                "network",
                format!(
                    "network `{}` does not belong to channel `{}`",
                    n.as_str(),
                    channel.as_str()
                ),
            )),
            _ => Ok(Self { channel, network }),
        }
    }

    pub fn channel(&self) -> Channel {
        self.channel
    }

    pub fn network(&self) -> Option<Network> {
        self.network
    }

    /// `channel:network` (network `-` when absent): the first half of an idempotency key.
    pub fn key(&self) -> String {
        format!(
            "{}:{}",
            self.channel.as_str(),
            self.network.map_or("-", Network::as_str)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn social_requires_a_network_and_phone_rejects_social_networks() {
        assert!(Medium::new(Channel::Social, None).is_err());
        assert!(Medium::new(Channel::Phone, Some(Network::Whatsapp)).is_err());
        assert!(Medium::new(Channel::Email, Some(Network::Sms)).is_err());
        assert!(Medium::new(Channel::Social, Some(Network::Voice)).is_err());
        assert!(Medium::new(Channel::Phone, None).is_ok());
        assert!(Medium::new(Channel::Social, Some(Network::Telegram)).is_ok());
    }

    #[test]
    fn medium_key_marks_a_missing_network() {
        let m = Medium::new(Channel::Email, None).expect("valid");
        assert_eq!(m.key(), "email:-");
        let m = Medium::new(Channel::Phone, Some(Network::Sms)).expect("valid");
        assert_eq!(m.key(), "phone:sms");
    }
}

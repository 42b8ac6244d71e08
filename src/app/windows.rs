//! Messaging windows (CONTRACT "Messaging windows"): WhatsApp, Messenger and Instagram
//! refuse a free-form reply more than 24 hours after the customer's last message on that
//! network. The agent learns it when replying, with the customer's other channels,
//! instead of from a failed delivery later (Meta's error 131047).

use chrono::{DateTime, Duration, Utc};

use super::AppError;
use crate::domain::{ConversationView, Direction, IdentityKind, Medium, Network};

/// How long after the customer's last message a windowed network takes a reply.
pub fn window() -> Duration {
    Duration::hours(24)
}

/// Whether replies on `network` are bound to a window.
pub fn windowed(network: Network) -> bool {
    matches!(
        network,
        Network::Whatsapp | Network::Messenger | Network::Instagram
    )
}

/// Refuses a reply on a windowed network past its window (or never opened by the
/// customer in this conversation), naming the customer's other channels.
pub fn check(conv: &ConversationView, medium: Medium, now: DateTime<Utc>) -> Result<(), AppError> {
    let Some(network) = medium.network().filter(|n| windowed(*n)) else {
        return Ok(());
    };
    if open(conv, network, now) {
        return Ok(());
    }
    let channels = other_channels(conv, network, now);
    let detail = format!(
        "the customer last wrote on {} more than 24 h ago: its window for free-form replies is \
         closed; reach them on: {}",
        network.as_str(),
        if channels.is_empty() {
            "no other channel".to_owned()
        } else {
            channels.join(", ")
        }
    );
    Err(AppError::WindowClosed { detail, channels })
}

/// Whether the customer wrote on `network` in this conversation within the window.
fn open(conv: &ConversationView, network: Network, now: DateTime<Utc>) -> bool {
    conv.messages
        .iter()
        .filter(|m| m.direction == Direction::In && m.network == Some(network))
        .map(|m| m.at)
        .max()
        .is_some_and(|last| now - last <= window())
}

/// Where else a reply reaches the customer: their identities' channels, as the reply's
/// `channel` (and `network`) name them; a windowed network only while its window is open.
fn other_channels(conv: &ConversationView, closed: Network, now: DateTime<Utc>) -> Vec<String> {
    let mut channels: Vec<String> = conv
        .customer
        .identities
        .iter()
        .filter_map(|identity| match identity.kind() {
            IdentityKind::Email => Some("email".to_owned()),
            IdentityKind::Phone => Some("phone:sms".to_owned()),
            IdentityKind::Chat => Some("chat".to_owned()),
            IdentityKind::Telegram => Some("social:telegram".to_owned()),
            IdentityKind::X => Some("social:x".to_owned()),
            IdentityKind::Whatsapp => reachable(conv, Network::Whatsapp, closed, now),
            IdentityKind::Messenger => reachable(conv, Network::Messenger, closed, now),
            IdentityKind::Instagram => reachable(conv, Network::Instagram, closed, now),
            _ => None,
        })
        .collect();
    channels.sort();
    channels.dedup();
    channels
}

fn reachable(
    conv: &ConversationView,
    network: Network,
    closed: Network,
    now: DateTime<Utc>,
) -> Option<String> {
    (network != closed && open(conv, network, now)).then(|| format!("social:{}", network.as_str()))
}

//! A waiting conversation's place in its queue: priority first, then time waited.

use crate::domain::{Channel, DEFAULT_TIER};

/// Queue priority: a classified tier outranks the standard one; a repeat contact adds
/// one; a caller, who is on the line now, adds two (CONTRACT rule 5: "priority raised").
pub fn priority(tier: &str, repeat_contact: bool, channel: Channel) -> u8 {
    let tier = if tier == DEFAULT_TIER { 0 } else { 2 };
    let caller = if channel == Channel::Phone { 2 } else { 0 };
    tier + u8::from(repeat_contact) + caller
}

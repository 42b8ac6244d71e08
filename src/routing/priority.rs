//! A waiting conversation's place in its queue: priority first, then time waited.

use crate::domain::{Channel, DEFAULT_TIER};

/// A customer with an open complaint: above any routine work (routine is at most 5).
pub const COMPLAINT_PRIORITY: u8 = 9;

/// A conversation past a working-day deadline: above routine work, below complaints.
pub const ESCALATED_PRIORITY: u8 = 8;

/// Queue priority: an open complaint outranks everything; a classified tier outranks the
/// standard one; a repeat contact adds one; a caller, who is on the line now, adds two
/// (CONTRACT rules 3 and 5: "tier, open complaint, repeat contact", "priority raised").
pub fn priority(tier: &str, repeat_contact: bool, channel: Channel, complaint: bool) -> u8 {
    if complaint {
        return COMPLAINT_PRIORITY;
    }
    let tier = if tier == DEFAULT_TIER { 0 } else { 2 };
    let caller = if channel == Channel::Phone { 2 } else { 0 };
    tier + u8::from(repeat_contact) + caller
}

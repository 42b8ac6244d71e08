//! Entries Switchboard adds to a customer's timeline on their behalf (a complaint from
//! the site's button, a follow-up task that came due): an inbound entry from one of the
//! customer's own identities, so it joins (or opens) their one conversation and is routed
//! like anything else they send.

use super::AppError;
use crate::domain::{Channel, CustomerView, RawInbound};

/// The entry, from an identity on `preferred` when the customer has one, else their
/// first reachable identity. `external_id` is its idempotency key.
pub fn from_customer(
    customer: &CustomerView,
    preferred: Option<Channel>,
    external_id: &str,
    subject: &str,
    text: &str,
) -> Result<RawInbound, AppError> {
    let usable = customer
        .identities
        .iter()
        .filter_map(|i| i.kind().reachable_on().map(|(c, n)| (i, c, n)));
    let (identity, channel, network) = usable
        .clone()
        .find(|(_, c, _)| Some(*c) == preferred)
        .or_else(|| usable.clone().next())
        .ok_or_else(|| AppError::Conflict("the customer has no identity to write from".into()))?;
    Ok(RawInbound {
        inboxes: Vec::new(),
        channel,
        network,
        external_id: external_id.to_owned(),
        from: identity.value().to_owned(),
        identities: vec![],
        display_name: None,
        subject: Some(subject.to_owned()),
        text: Some(text.to_owned()),
        sent_at: None,
        group: None,
        language: None,
        skills: None,
    })
}

//! How both stores read what moved to the archive: a stub's conversation whole, and the
//! archived parts of a timeline still in Redis (a merged conversation archived on its own).

use std::collections::BTreeSet;

use super::{Archive, ArchivedConversation};
use crate::domain::{Channel, ConversationId, Message};
use crate::store::records::sort_timeline;
use crate::store::StoreError;

/// The archived copy of a conversation the store holds as a stub.
pub(crate) async fn archived(
    archive: Option<&Archive>,
    id: &ConversationId,
) -> Result<ArchivedConversation, StoreError> {
    let Some(archive) = archive else {
        // A stub without an archive: this replica lacks `archive.url` its peers have.
        return Err(StoreError::Unavailable(
            format!("conversation {id} is archived, and no archive is configured").into(),
        ));
    };
    archive.get(id).await?.ok_or_else(|| {
        StoreError::Corrupt(format!("archived conversation {id} not in the archive"))
    })
}

/// The entries of a conversation the store holds as a stub, none once the archive's row
/// is gone (an erasure that deleted the rows before the stubs).
pub(crate) async fn archived_entries(
    archive: Option<&Archive>,
    id: &ConversationId,
) -> Result<Vec<Message>, StoreError> {
    let Some(archive) = archive else {
        return Err(StoreError::Unavailable(
            format!("conversation {id} is archived, and no archive is configured").into(),
        ));
    };
    Ok(archive
        .get(id)
        .await?
        .map(|c| c.messages)
        .unwrap_or_default())
}

/// Redacts an entry of a conversation the store holds as a stub (or a stubbed part of a
/// timeline); answers whether the entry is in the archived copy.
pub(crate) async fn redact(
    archive: Option<&Archive>,
    id: &ConversationId,
    message: &crate::domain::MessageId,
) -> Result<bool, StoreError> {
    let Some(archive) = archive else {
        return Err(StoreError::Unavailable(
            format!("conversation {id} is archived, and no archive is configured").into(),
        ));
    };
    archive.redact(id, message).await
}

/// Adds the archived `parts` of a timeline to it, then orders it, each entry once.
pub(crate) async fn add_parts(
    archive: Option<&Archive>,
    parts: &[ConversationId],
    messages: &mut Vec<Message>,
    channels: &mut BTreeSet<Channel>,
) -> Result<(), StoreError> {
    for part in parts {
        let part = archived(archive, part).await?;
        messages.extend(part.messages);
        channels.extend(part.record.channels);
    }
    sort_timeline(messages);
    if !parts.is_empty() {
        messages.dedup_by(|a, b| a.id == b.id);
    }
    Ok(())
}

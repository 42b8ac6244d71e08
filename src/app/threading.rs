//! E-mail replies that stay in the customer's thread (CONTRACT "E-mail replies thread"):
//! the outbound payload names the subject (`Re: ` + the customer's last one), the mail it
//! answers (`In-Reply-To`: the customer's last `Message-ID`) and the thread so far
//! (`References`), so the customer's mail client files the reply under their mail
//! (RFC 5322 section 3.6.4).

use crate::domain::{Channel, ConversationView, Direction};

/// Most `Message-ID`s a reply's `References` carries: the oldest (the thread's root) and
/// the newest, as RFC 5322 suggests trimming long chains.
const MAX_REFERENCES: usize = 20;

/// How a reply threads: its subject and its place in the thread.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Thread {
    pub subject: Option<String>,
    /// `<id>` of the mail it answers.
    pub in_reply_to: Option<String>,
    /// `<id> <id> …`, oldest first, ending with `in_reply_to`.
    pub references: Option<String>,
}

/// Where a reply `own_id` (its `Message-ID`, without brackets) goes in the e-mail thread of
/// `conv`.
pub fn thread(conv: &ConversationView, own_id: &str) -> Thread {
    let mails = conv.messages.iter().filter(|m| m.channel == Channel::Email);
    let mut chain: Vec<String> = Vec::new();
    let mut last_inbound = None;
    for m in mails {
        let id = match m.direction {
            Direction::In => m.external_id.as_deref().and_then(message_id),
            Direction::Out => Some(format!("<{}@switchboard>", m.id.as_str())),
        };
        let Some(id) = id else { continue };
        if id.trim_matches(['<', '>']) == own_id {
            continue;
        }
        if m.direction == Direction::In {
            last_inbound = Some((id.clone(), m.subject.clone()));
        }
        if !chain.contains(&id) {
            chain.push(id);
        }
    }
    let Some((in_reply_to, subject)) = last_inbound else {
        return Thread::default();
    };
    // The chain up to the mail answered (later replies of ours are not what it answers).
    if let Some(at) = chain.iter().position(|id| *id == in_reply_to) {
        chain.truncate(at + 1);
    }
    if chain.len() > MAX_REFERENCES {
        let newest = chain.split_off(chain.len() - (MAX_REFERENCES - 1));
        chain.truncate(1);
        chain.extend(newest);
    }
    Thread {
        subject: subject.map(|s| reply_subject(&s)),
        in_reply_to: Some(in_reply_to),
        references: Some(chain.join(" ")),
    }
}

/// `Re: ` once, however often the thread went back and forth.
fn reply_subject(subject: &str) -> String {
    let trimmed = subject.trim();
    let has_re = trimmed
        .get(..3)
        .is_some_and(|p| p.eq_ignore_ascii_case("re:"));
    match has_re {
        true => trimmed.to_owned(),
        false => format!("Re: {trimmed}"),
    }
}

/// A mail's `Message-ID` as a header writes it (`<left@right>`), when the provider's id
/// is one (a content hash the adapter made for a mail without one is not).
fn message_id(external: &str) -> Option<String> {
    let bare = external
        .trim()
        .trim_start_matches('<')
        .trim_end_matches('>');
    let valid = bare.contains('@') && !bare.contains(char::is_whitespace) && bare.len() <= 998;
    valid.then(|| format!("<{bare}>"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_subject_gets_one_re() {
        assert_eq!(reply_subject("Refund"), "Re: Refund");
        assert_eq!(reply_subject("RE: Refund"), "RE: Refund");
        assert_eq!(reply_subject("  re: Refund "), "re: Refund");
    }

    #[test]
    fn only_real_message_ids_are_referenced() {
        assert_eq!(
            message_id("abc@mail.example.com").as_deref(),
            Some("<abc@mail.example.com>")
        );
        assert_eq!(message_id("<abc@x>").as_deref(), Some("<abc@x>"));
        assert_eq!(message_id("sha256:0f1e"), None);
        assert_eq!(message_id("a b@x"), None);
    }
}

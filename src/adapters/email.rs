//! E-mail: a raw RFC 5322 message (`Content-Type: message/rfc822`, adapter token), as any
//! MTA pipe or inbound relay delivers it, parsed with `mail-parser`: the sender and display
//! name, RFC 2047 subjects, the text part (or text from HTML), attachments as metadata,
//! `Message-ID` as the idempotency key, and `In-Reply-To`/`References` to find the thread.

use chrono::{DateTime, TimeZone, Utc};
use mail_parser::{MessageParser, MimeHeaders};
use sha2::{Digest, Sha256};

use crate::app::{ingest, App, AppError};
use crate::domain::{Channel, IdentityKind, RawInbound, Receipt};

/// What the service takes from an e-mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedEmail {
    /// Without angle brackets; a hash of the raw bytes when the mail has none.
    pub message_id: String,
    pub from: String,
    pub display_name: Option<String>,
    pub subject: Option<String>,
    /// The text, followed by one line per attachment (name, type, size).
    pub text: String,
    /// `In-Reply-To` then `References`, without angle brackets.
    pub replies_to: Vec<String>,
    /// Its `To` and `Cc` addresses, lower-cased: the inboxes it arrived at.
    pub recipients: Vec<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// Parses a raw RFC 5322 message; `Err` says why it is not one we can take.
pub fn parse(raw: &[u8]) -> Result<ParsedEmail, String> {
    let msg = MessageParser::default()
        .parse(raw)
        .ok_or("not an RFC 5322 message")?;
    let sender = msg
        .from()
        .and_then(|a| a.first())
        .ok_or("no From address")?;
    let from = sender.address().ok_or("no From address")?.to_owned();
    // Mail arrives with CRLF line ends; the timeline (and every other channel) uses LF.
    let mut text = msg
        .body_text(0)
        .map(|t| t.replace("\r\n", "\n").trim().to_owned())
        .unwrap_or_default();
    for part in msg.attachments() {
        let name = part.attachment_name().unwrap_or("unnamed");
        let kind = part.content_type().map_or_else(
            || "application/octet-stream".to_owned(),
            |c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("*")),
        );
        text.push_str(&format!(
            "\n[attachment: {name} ({kind}, {} bytes)]",
            part.len()
        ));
    }
    let ids = |v: &mail_parser::HeaderValue<'_>| -> Vec<String> {
        v.as_text_list()
            .map(|l| l.iter().map(|s| s.to_string()).collect())
            .unwrap_or_default()
    };
    // The mail it answers first, then the rest of the thread, newest first.
    let mut replies_to = ids(msg.in_reply_to());
    for id in ids(msg.references()).into_iter().rev() {
        if !replies_to.contains(&id) {
            replies_to.push(id);
        }
    }
    let message_id = match msg.message_id() {
        Some(id) if !id.trim().is_empty() => id.trim().to_owned(),
        _ => format!("sha256:{:x}", Sha256::digest(raw)),
    };
    let recipients = [msg.to(), msg.cc()]
        .into_iter()
        .flatten()
        .flat_map(|a| a.iter())
        .filter_map(|a| a.address())
        .map(str::to_lowercase)
        .collect();
    Ok(ParsedEmail {
        recipients,
        message_id,
        from,
        display_name: sender.name().map(str::to_owned),
        subject: msg.subject().map(str::to_owned),
        text: text.trim().to_owned(),
        replies_to,
        sent_at: msg
            .date()
            .and_then(|d| Utc.timestamp_opt(d.to_timestamp(), 0).single()),
    })
}

/// Stores a parsed mail as a message of its sender. A reply naming an earlier mail
/// (`In-Reply-To`, `References`) never lends the sender that thread's customer: anyone
/// may write any `Message-ID` into a header, so joining on it would hand a stranger the
/// customer's identities and the agents' replies. A sender who already is that customer
/// joins through their own address; anyone else stays their own customer, and the agent
/// sees which thread they answered. The mail's own Message-ID is remembered for the
/// replies to it.
pub async fn ingest(app: &App, mail: ParsedEmail) -> Result<Receipt, AppError> {
    let mut text = mail.text.clone();
    if let Some(thread) = foreign_thread(app, &mail).await? {
        text = format!("[in reply to <{thread}>, a thread of another customer]\n{text}");
    }
    let raw = RawInbound {
        inboxes: mail
            .recipients
            .iter()
            .map(|to| format!("email:{to}"))
            .collect(),
        group: None,
        language: None,
        skills: None,
        channel: Channel::Email,
        network: None,
        external_id: mail.message_id.clone(),
        from: mail.from.clone(),
        identities: Vec::new(),
        display_name: mail.display_name.clone(),
        subject: mail.subject.clone(),
        text: Some(text),
        sent_at: mail.sent_at,
    };
    let receipt = ingest::ingest_provider(app, raw).await?;
    app.store
        .record_thread(&mail.message_id, &receipt.conversation_id)
        .await?;
    Ok(receipt)
}

/// The first thread the mail answers, when that thread belongs to a customer who does
/// not hold the sender's address: shown to the agent, never joined.
async fn foreign_thread(app: &App, mail: &ParsedEmail) -> Result<Option<String>, AppError> {
    let Ok(sender) = app.normaliser.normalise(IdentityKind::Email, &mail.from) else {
        return Ok(None);
    };
    for id in &mail.replies_to {
        let Some(conv) = app.store.thread(id).await? else {
            continue;
        };
        let Some(customer) = app.store.customer(conv.customer()).await? else {
            return Ok(None);
        };
        let own = customer.identities.iter().any(|i| sender.contains(i));
        return Ok((!own).then(|| id.clone()));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &str = "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <Juergen@Example.com>\r\n\
To: support@shop.example\r\n\
Subject: =?UTF-8?Q?Bestellung_=C3=BCberf=C3=A4llig?=\r\n\
Message-ID: <abc123@mail.example.com>\r\n\
In-Reply-To: <out-1@switchboard>\r\n\
References: <first@mail.example.com> <out-1@switchboard>\r\n\
Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
\r\n\
Where is my order?\r\n\
--b1\r\n\
Content-Type: application/pdf; name=\"invoice.pdf\"\r\n\
Content-Disposition: attachment; filename=\"invoice.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQK\r\n\
--b1--\r\n";

    #[test]
    fn a_mime_mail_gives_sender_subject_text_attachments_and_thread() {
        let mail = parse(MAIL.as_bytes()).expect("parses");
        assert_eq!(mail.message_id, "abc123@mail.example.com");
        assert_eq!(mail.from, "Juergen@Example.com");
        assert_eq!(mail.display_name.as_deref(), Some("Jürgen Müller"));
        assert_eq!(mail.subject.as_deref(), Some("Bestellung überfällig"));
        assert!(mail.text.starts_with("Where is my order?"), "{}", mail.text);
        assert!(
            mail.text
                .contains("[attachment: invoice.pdf (application/pdf, 9 bytes)]"),
            "{}",
            mail.text
        );
        assert_eq!(
            mail.replies_to,
            ["out-1@switchboard", "first@mail.example.com"]
        );
        assert_eq!(
            mail.sent_at.map(|d| d.to_rfc3339()),
            Some("2026-11-22T10:00:00+00:00".into())
        );
    }

    #[test]
    fn html_only_mail_gives_text_and_a_missing_message_id_gives_a_content_hash() {
        let html = "From: a@b.c\r\nSubject: hi\r\nContent-Type: text/html\r\n\r\n<p>Hello <b>there</b></p>\r\n";
        let mail = parse(html.as_bytes()).expect("parses");
        assert!(
            mail.text.contains("Hello")
                && mail.text.contains("there")
                && !mail.text.contains("<b>"),
            "{}",
            mail.text
        );
        assert!(mail.message_id.starts_with("sha256:"));
        assert_eq!(
            parse(html.as_bytes()).expect("parses").message_id,
            mail.message_id,
            "stable"
        );
    }

    #[test]
    fn crlf_line_ends_become_lf() {
        let mail = "From: a@b.c\r\nSubject: hi\r\n\r\nline one\r\nline two\r\n";
        let text = parse(mail.as_bytes()).expect("parses").text;
        assert_eq!(text, "line one\nline two");
    }

    #[test]
    fn garbage_is_refused_with_a_reason() {
        assert!(parse(b"").is_err());
        assert!(parse(b"Subject: no sender\r\n\r\nbody").is_err());
    }
}

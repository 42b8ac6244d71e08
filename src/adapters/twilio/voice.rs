//! Twilio Programmable Voice: the TwiML of each answer (menu, dial, queue) and how to
//! read the caller's choices and the dial's end.

use super::{xml, Params};

/// The menu: 0 (or "agent") reaches a person, 1 is self-service; silence repeats it.
pub fn menu(base: &str) -> String {
    let action = xml(&format!("{base}/menu"));
    format!(
        r#"<Gather input="dtmf speech" numDigits="1" action="{action}" method="POST" timeout="5"><Say>Welcome. To talk to a person, press 0 or say agent. For the status of an order, press 1.</Say></Gather><Redirect method="POST">{action}</Redirect>"#
    )
}

/// Dial the agent: `<Sip>` or `<Number>` when their profile says so, else the phone
/// adapter's `<Client>` named by their id; the dial's end reports to `/dial`.
pub fn dial(base: &str, agent: &str, dial: Option<&str>) -> String {
    let target = match dial {
        Some(sip) if sip.starts_with("sip:") => format!("<Sip>{}</Sip>", xml(sip)),
        Some(number) => format!("<Number>{}</Number>", xml(number)),
        None => format!("<Client>{}</Client>", xml(agent)),
    };
    // The action names the agent dialled: Twilio signs the whole URL, so a replayed
    // callback of an earlier dial is told apart from the one for the dial under way.
    let agent_query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("agent", agent)
        .finish();
    format!(
        r#"<Dial action="{}" method="POST">{target}</Dial>"#,
        xml(&format!("{base}/dial?{agent_query}"))
    )
}

/// Wait in the phone queue; how it ends reports to `/status`.
pub fn enqueue(base: &str) -> String {
    format!(
        r#"<Enqueue action="{}" method="POST">phone</Enqueue>"#,
        xml(&format!("{base}/status"))
    )
}

/// The caller asked for a person: 0, or words like "agent" or "human".
pub fn wants_a_person(params: &Params) -> bool {
    let digit = params.get("Digits").is_some_and(|d| d.trim() == "0");
    let words = [
        "agent",
        "human",
        "person",
        "operator",
        "representative",
        "someone",
    ];
    let said = params
        .get("SpeechResult")
        .map(str::to_lowercase)
        .unwrap_or_default();
    digit || words.iter().any(|w| said.contains(w))
}

/// Whether the dial ended with the caller still on the line and nobody having talked to
/// them: the agent did not answer (`no-answer`, `busy`, `failed`). A talk that ended
/// (`completed`, `answered`), a caller who hung up while it rang (`canceled`) or a parent
/// call that is over is an ended call, never a reason to set the agent away or requeue.
pub fn caller_still_waiting(params: &Params) -> bool {
    let unanswered = matches!(
        params.get("DialCallStatus"),
        Some("no-answer" | "busy" | "failed")
    );
    let parent_over = matches!(
        params.get("CallStatus"),
        Some("completed" | "canceled" | "busy" | "failed" | "no-answer")
    );
    unanswered && !parent_over
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_asked_for_by_zero_or_by_name() {
        let p = |pairs: &[(&str, &str)]| {
            Params(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        assert!(wants_a_person(&p(&[("Digits", "0")])));
        assert!(wants_a_person(&p(&[(
            "SpeechResult",
            "I want an Agent please"
        )])));
        assert!(!wants_a_person(&p(&[("Digits", "1")])));
        assert!(!wants_a_person(&p(&[("SpeechResult", "order status")])));
    }

    #[test]
    fn only_an_unanswered_dial_with_the_caller_on_the_line_falls_back() {
        let p = |pairs: &[(&str, &str)]| {
            Params(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        let cases = [
            (
                &[
                    ("DialCallStatus", "no-answer"),
                    ("CallStatus", "in-progress"),
                ][..],
                true,
            ),
            (&[("DialCallStatus", "busy")][..], true),
            (
                &[("DialCallStatus", "canceled"), ("CallStatus", "completed")][..],
                false,
            ),
            (&[("DialCallStatus", "canceled")][..], false),
            (
                &[("DialCallStatus", "no-answer"), ("CallStatus", "completed")][..],
                false,
            ),
            (&[("DialCallStatus", "completed")][..], false),
            (&[("DialCallStatus", "answered")][..], false),
        ];
        for (params, waiting) in cases {
            assert_eq!(caller_still_waiting(&p(params)), waiting, "{params:?}");
        }
    }
}

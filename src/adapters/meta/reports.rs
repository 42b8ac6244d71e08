//! What Meta reports about the replies sent (README "Delivery status"): WhatsApp's
//! `statuses` (sent, delivered, read, failed with `errors`), and Messenger's and
//! Instagram's `delivery` (the message ids delivered) and `read` (a watermark: everything
//! sent up to then was read).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;

use crate::app::delivery_status::ProviderReport;
use crate::domain::{Network, ReplyDelivery, ReplyStatus};

/// One report of a webhook payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MetaReport {
    /// On one message, by Meta's id of it.
    Message(ProviderReport),
    /// Messenger's (or Instagram's) read watermark of a customer (their page-scoped id).
    ReadUpTo {
        network: Network,
        customer: String,
        watermark: DateTime<Utc>,
    },
}

/// Every report in a payload (one envelope, or a batch of them).
pub fn reports(payload: &Value) -> Vec<MetaReport> {
    let mut out = Vec::new();
    for (object, entry) in super::payload::entries(payload) {
        match object {
            "whatsapp_business_account" => out.extend(whatsapp(entry)),
            "page" => out.extend(messaging(entry, Network::Messenger)),
            "instagram" => out.extend(messaging(entry, Network::Instagram)),
            _ => {}
        }
    }
    out
}

fn whatsapp(entry: &Value) -> Vec<MetaReport> {
    let statuses = entry["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|c| c["value"]["statuses"].as_array().into_iter().flatten());
    statuses.filter_map(whatsapp_status).collect()
}

/// `{"id": "wamid…", "status": "failed", "timestamp": "1700000000", "errors": [{"code":
/// 131026, "title": "Message undeliverable", …}]}`.
fn whatsapp_status(s: &Value) -> Option<MetaReport> {
    let status = match s["status"].as_str()? {
        "sent" => ReplyStatus::Sent,
        "delivered" => ReplyStatus::Delivered,
        "read" => ReplyStatus::Read,
        "failed" => ReplyStatus::Failed,
        _ => return None,
    };
    let at = s["timestamp"]
        .as_str()
        .and_then(|t| t.parse::<i64>().ok())
        .and_then(|t| Utc.timestamp_opt(t, 0).single())
        .unwrap_or_else(Utc::now);
    let error = &s["errors"][0];
    let code = match &error["code"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(c) => Some(c.clone()),
        _ => None,
    };
    let reason = error["title"]
        .as_str()
        .or(error["message"].as_str())
        .map(str::to_owned);
    Some(MetaReport::Message(ProviderReport {
        provider_id: s["id"].as_str()?.to_owned(),
        delivery: ReplyDelivery::new(status, at, code, reason),
    }))
}

fn messaging(entry: &Value, network: Network) -> Vec<MetaReport> {
    let mut out = Vec::new();
    for event in entry["messaging"].as_array().into_iter().flatten() {
        let watermark = |v: &Value| {
            v["watermark"]
                .as_i64()
                .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        };
        if let Some(at) = watermark(&event["delivery"]) {
            for mid in event["delivery"]["mids"].as_array().into_iter().flatten() {
                if let Some(mid) = mid.as_str() {
                    out.push(MetaReport::Message(ProviderReport {
                        provider_id: mid.to_owned(),
                        delivery: ReplyDelivery::new(ReplyStatus::Delivered, at, None, None),
                    }));
                }
            }
        }
        if let (Some(at), Some(customer)) =
            (watermark(&event["read"]), event["sender"]["id"].as_str())
        {
            out.push(MetaReport::ReadUpTo {
                network,
                customer: customer.to_owned(),
                watermark: at,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_whatsapp_status_keeps_its_code_and_reason() {
        // Meta's documented shape of a failed status (Cloud API webhooks reference).
        let payload: Value = serde_json::from_str(
            r#"{"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},"statuses":[{"id":"wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBJDQjZCMzlEQUE4OTJBMTE4RTUA","status":"failed","timestamp":"1750263773","recipient_id":"16505551234","errors":[{"code":131026,"title":"Message undeliverable","message":"Message undeliverable","error_data":{"details":"Unable to deliver message."}}]}]}}]}]}"#,
        )
        .expect("json");
        let reports = reports(&payload);
        let [MetaReport::Message(r)] = reports.as_slice() else {
            panic!("{reports:?}");
        };
        assert_eq!(r.delivery.status, ReplyStatus::Failed);
        assert_eq!(r.delivery.error_code.as_deref(), Some("131026"));
        assert_eq!(r.delivery.error.as_deref(), Some("Message undeliverable"));
        assert!(r.provider_id.starts_with("wamid."));
    }

    #[test]
    fn messenger_deliveries_name_their_mids_and_reads_a_watermark() {
        let payload: Value = serde_json::from_str(
            r#"{"object":"page","entry":[{"id":"PAGE","time":1458668856463,"messaging":[
              {"sender":{"id":"USER"},"recipient":{"id":"PAGE"},"delivery":{"mids":["mid.1458668856218:ed81099e15d3f4f233"],"watermark":1458668856253}},
              {"sender":{"id":"USER"},"recipient":{"id":"PAGE"},"timestamp":1458668856463,"read":{"watermark":1458668856253}}]}]}"#,
        )
        .expect("json");
        let reports = reports(&payload);
        assert_eq!(reports.len(), 2, "{reports:?}");
        assert!(
            matches!(&reports[0], MetaReport::Message(r) if r.delivery.status == ReplyStatus::Delivered)
        );
        assert!(matches!(&reports[1], MetaReport::ReadUpTo { customer, .. } if customer == "USER"));
    }
}

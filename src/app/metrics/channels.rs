//! The channels' own metrics (CONTRACT "Channels both ways (v3)"): senders blocked, and
//! where replies got to.

use prometheus::{IntCounterVec, Opts, Registry};

use crate::domain::{Channel, ReplyStatus};

#[derive(Clone)]
pub struct ChannelMetrics {
    blocked: IntCounterVec,
    outbound_status: IntCounterVec,
}

impl ChannelMetrics {
    pub fn register(registry: &Registry) -> Result<Self, prometheus::Error> {
        let blocked = IntCounterVec::new(
            Opts::new(
                "switchboard_blocked_total",
                "Messages from blocked senders, answered and dropped before anything stored them.",
            ),
            &["channel"],
        )?;
        registry.register(Box::new(blocked.clone()))?;
        for channel in Channel::ALL {
            blocked.with_label_values(&[channel.as_str()]);
        }
        let outbound_status = IntCounterVec::new(
            Opts::new(
                "switchboard_outbound_status_total",
                "Replies that reached a delivery status (each reply counted once per status it reached).",
            ),
            &["channel", "status"],
        )?;
        registry.register(Box::new(outbound_status.clone()))?;
        for channel in Channel::ALL {
            for status in ReplyStatus::ALL {
                outbound_status.with_label_values(&[channel.as_str(), status.as_str()]);
            }
        }
        Ok(Self {
            blocked,
            outbound_status,
        })
    }

    pub fn outbound_status(&self, channel: Channel, status: ReplyStatus) {
        self.outbound_status
            .with_label_values(&[channel.as_str(), status.as_str()])
            .inc();
    }

    pub fn blocked(&self, channel: Channel) {
        self.blocked.with_label_values(&[channel.as_str()]).inc();
    }
}

//! The channels' own metrics (CONTRACT "Channels both ways (v3)"): senders blocked.

use prometheus::{IntCounterVec, Opts, Registry};

use crate::domain::Channel;

#[derive(Clone)]
pub struct ChannelMetrics {
    blocked: IntCounterVec,
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
        Ok(Self { blocked })
    }

    pub fn blocked(&self, channel: Channel) {
        self.blocked.with_label_values(&[channel.as_str()]).inc();
    }
}

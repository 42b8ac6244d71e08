//! One value per channel, indexed by `Channel`: settings, targets and limits that differ
//! by channel. Named fields keep the settings files' and the API's shape
//! (`{phone, email, chat, social}`); adding a channel is one field here.

use std::ops::{Index, IndexMut};

use serde::{Deserialize, Serialize};

use super::Channel;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PerChannel<T> {
    pub phone: T,
    pub email: T,
    pub chat: T,
    pub social: T,
}

impl<T> PerChannel<T> {
    /// Each channel's value from `f`, called in `Channel::ALL` order.
    pub fn from_fn(mut f: impl FnMut(Channel) -> T) -> Self {
        Self {
            phone: f(Channel::Phone),
            email: f(Channel::Email),
            chat: f(Channel::Chat),
            social: f(Channel::Social),
        }
    }

    pub fn map<U>(&self, mut f: impl FnMut(&T) -> U) -> PerChannel<U> {
        PerChannel::from_fn(|channel| f(&self[channel]))
    }

    /// Every channel with its value, in `Channel::ALL` order.
    pub fn iter(&self) -> impl Iterator<Item = (Channel, &T)> {
        Channel::ALL
            .into_iter()
            .map(move |channel| (channel, &self[channel]))
    }
}

impl<T> Index<Channel> for PerChannel<T> {
    type Output = T;

    fn index(&self, channel: Channel) -> &T {
        match channel {
            Channel::Phone => &self.phone,
            Channel::Email => &self.email,
            Channel::Chat => &self.chat,
            Channel::Social => &self.social,
        }
    }
}

impl<T> IndexMut<Channel> for PerChannel<T> {
    fn index_mut(&mut self, channel: Channel) -> &mut T {
        match channel {
            Channel::Phone => &mut self.phone,
            Channel::Email => &mut self.email,
            Channel::Chat => &mut self.chat,
            Channel::Social => &mut self.social,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_reads_its_own_value_and_the_shape_is_the_settings_files() {
        let names = PerChannel::from_fn(Channel::as_str);
        for (channel, name) in names.iter() {
            assert_eq!(*name, channel.as_str());
            assert_eq!(names[channel], channel.as_str());
        }
        let json = r#"{"phone":1,"email":2,"chat":3,"social":4}"#;
        let read: PerChannel<u32> = serde_json::from_str(json).expect("reads");
        assert_eq!(read.map(|n| n * 10)[Channel::Chat], 30);
        assert_eq!(serde_json::to_string(&read).expect("writes"), json);
    }
}

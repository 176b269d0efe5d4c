//! The wake-up call for readers of the change log. It carries no changes, only "the log has
//! grown": readers then read the log from their own cursor, so a missed or repeated call
//! loses nothing and delivers nothing twice. It rings after commit (see
//! `changes::take_recorded`); with Redis it also rings on every other replica.

use std::time::Duration;

use tokio::sync::watch;

use crate::db::redis::Redis;

/// A counter that every commit with changes moves on; readers wait for it to move.
#[derive(Clone)]
pub struct Bus {
    rung: watch::Sender<u64>,
    /// With Redis: where the other replicas hear this one, and the channel's name.
    shared: Option<(Redis, String)>,
}

impl Default for Bus {
    fn default() -> Self {
        Bus { rung: watch::channel(0).0, shared: None }
    }
}

/// How often a replica tries to subscribe again while Redis is down.
const RESUBSCRIBE_EVERY: Duration = Duration::from_secs(1);

impl Bus {
    /// A bus shared by every replica through Redis's channel `{prefix}changes`. A ring from
    /// another replica rings this one's readers; if Redis is down, readers still look at the
    /// log on their own four times a second, and nothing is lost.
    pub fn shared(redis: Redis, key_prefix: &str) -> Bus {
        let bus = Bus { shared: Some((redis.clone(), format!("{key_prefix}changes"))), ..Bus::default() };
        let local = bus.rung.clone();
        redis.subscribe(format!("{key_prefix}changes"), RESUBSCRIBE_EVERY, move || {
            local.send_modify(|count| *count = count.wrapping_add(1));
        });
        bus
    }

    /// Tells the readers of every replica that the log grew.
    pub fn ring(&self) {
        self.rung.send_modify(|count| *count = count.wrapping_add(1));
        if let Some((redis, channel)) = &self.shared {
            redis.publish_detached(channel.clone(), String::new());
        }
    }

    /// A handle to wait on: `changed().await` returns after the next ring.
    pub fn listen(&self) -> watch::Receiver<u64> {
        self.rung.subscribe()
    }
}

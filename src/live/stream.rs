//! A stream's body: what was missed first (replayed from the log), then live events, with a
//! heartbeat while idle, ending when the hub drops or closes it.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use actix_web::web::Bytes;
use futures_util::Stream;
use tokio::sync::watch;

use super::events::LiveEvent;
use super::hub::Subscription;

/// How long a browser waits before reconnecting after the stream ends (`retry:`).
const RECONNECT_AFTER_MS: u64 = 2_000;

struct Body {
    first: Option<String>,
    missed: VecDeque<LiveEvent>,
    subscription: Subscription,
    heartbeat: tokio::time::Interval,
    closing: watch::Receiver<bool>,
}

/// The `text/event-stream` body of one stream.
pub fn body(
    subscription: Subscription,
    missed: Vec<LiveEvent>,
    heartbeat: Duration,
    closing: watch::Receiver<bool>,
) -> impl Stream<Item = Result<Bytes, std::convert::Infallible>> {
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let state = Body {
        first: Some(format!("retry: {RECONNECT_AFTER_MS}\n: connected\n\n")),
        missed: missed.into(),
        subscription,
        heartbeat: ticker,
        closing,
    };
    futures_util::stream::unfold(state, |mut body| async move {
        if let Some(first) = body.first.take() {
            return Some((Ok(Bytes::from(first)), body));
        }
        if let Some(event) = body.missed.pop_front() {
            return Some((Ok(Bytes::from(event.frame())), body));
        }
        if *body.closing.borrow() {
            return None;
        }
        let frame: Option<String> = tokio::select! {
            event = body.subscription.events.recv() => event.map(|event: Arc<LiveEvent>| event.frame()),
            _ = body.heartbeat.tick() => Some(": heartbeat\n\n".to_string()),
            _ = body.closing.changed() => None,
        };
        frame.map(|frame| (Ok(Bytes::from(frame)), body))
    })
}

//! What changed, told after the change is committed.
//!
//! The unit of work collects these while it runs and publishes them only once its transaction
//! has committed, so a listener never sees a change that was rolled back. The node's availability
//! cache listens (a calendar change drops it); live pages subscribe through [`Events::subscribe`].
//!
//! On PostgreSQL several nodes share the database: [`relay`] tells the others every change this
//! node publishes (batched `NOTIFY`s) and publishes theirs here, so a page served by one node sees
//! a payment confirmed on another. On SQLite there is one node and nothing to relay.

use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc};

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Event {
    /// Nights of an accommodation were taken or freed (hold, confirmation, cancellation, expiry,
    /// block, channel sync).
    CalendarChanged {
        /// The accommodation.
        accommodation_id: i64,
    },
    /// A reservation was created or changed state, or its payment or messages changed.
    ReservationChanged {
        /// The reservation.
        reservation_id: i64,
    },
    /// A guest's WhatsApp conversation changed (a message in or out, a hand-off, a resolve).
    ConversationChanged {
        /// The guest's phone (digits).
        phone: String,
    },
    /// A channel feed was synced (or failed).
    FeedSynced {
        /// The feed.
        feed_id: i64,
    },
    /// Changes may have been missed (the link to the other nodes was lost): whoever shows
    /// state should read it again.
    Resync,
}

/// The node's publisher of committed changes.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
    /// Where changes made here go to be told to the other nodes (set by [`relay`]).
    outbound: Arc<OnceLock<mpsc::UnboundedSender<Event>>>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new()
    }
}

impl Events {
    /// A publisher with room for a burst of changes per slow subscriber.
    pub fn new() -> Events {
        let (sender, _) = broadcast::channel(1024);
        Events {
            sender,
            outbound: Arc::default(),
        }
    }

    /// Tell every subscriber here (none listening is fine) and, once [`relay`] runs, the other
    /// nodes.
    pub fn publish(&self, event: Event) {
        if let Some(outbound) = self.outbound.get() {
            let _ = outbound.send(event.clone());
        }
        let _ = self.sender.send(event);
    }

    /// Tell the subscribers here that changes may have been missed.
    pub fn resync(&self) {
        let _ = self.sender.send(Event::Resync);
    }

    /// Tell the subscribers here a change another node made (not relayed again).
    pub fn publish_remote(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// Listen to the changes committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

/// A batch of changes as one node tells the others.
#[derive(Debug, Serialize, Deserialize)]
struct Batch {
    /// The node that made them (a node ignores its own).
    node: String,
    events: Vec<Event>,
}

/// Start relaying committed changes between the nodes sharing a PostgreSQL database: one task
/// sends this node's changes (whatever piled up since the last send, in as few `NOTIFY`s as fit),
/// another `LISTEN`s and publishes the other nodes' changes here through `deliver` (the
/// application state's, so caches react as to a local change). A lost listening connection is
/// reopened, and then `deliver` gets a `None`: changes may have been missed, caches and pages
/// should catch up. `None` on SQLite (one node).
pub async fn relay(
    db: posada_db::Db,
    events: &Events,
    deliver: impl Fn(Option<Event>) + Send + Sync + 'static,
) -> anyhow::Result<Option<Vec<tokio::task::JoinHandle<()>>>> {
    let Some(mut listener) = posada_store::live::listen(&db).await? else {
        return Ok(None);
    };
    let node = format!("{:016x}", rand::random::<u64>());
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    if events.outbound.set(tx).is_err() {
        anyhow::bail!("the events of this node are already relayed");
    }
    let me = node.clone();
    let send_db = db.clone();
    let sender = tokio::spawn(async move {
        while let Some(first) = rx.recv().await {
            let mut pending = vec![first];
            while let Ok(more) = rx.try_recv() {
                pending.push(more);
            }
            for payload in payloads(&me, pending) {
                if let Err(e) = posada_store::live::notify(&send_db, &payload).await {
                    tracing::warn!(error = %e, "could not tell the other nodes a change");
                }
            }
        }
    });
    let listening = tokio::spawn(async move {
        loop {
            match listener.try_recv().await {
                Ok(Some(n)) => match serde_json::from_str::<Batch>(n.payload()) {
                    Ok(batch) if batch.node != node => {
                        batch.events.into_iter().for_each(|e| deliver(Some(e)));
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "unreadable change from another node"),
                },
                // The connection was lost and is reopened by the next call: anything told
                // meanwhile is gone.
                Ok(None) => deliver(None),
                // The node is closing its database: let go of the connection, or the pool's
                // close would wait for it forever.
                Err(sqlx::Error::PoolClosed) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "listening to the other nodes' changes failed; retrying");
                    deliver(None);
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                }
            }
        }
    });
    Ok(Some(vec![sender, listening]))
}

/// `events` as `NOTIFY` payloads of `node`, each under PostgreSQL's size limit.
fn payloads(node: &str, events: Vec<Event>) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch = Batch {
        node: node.to_string(),
        events: Vec::new(),
    };
    let mut size = 64;
    for event in events {
        let len = serde_json::to_string(&event).map(|s| s.len()).unwrap_or(0) + 1;
        if !batch.events.is_empty() && size + len > posada_store::live::MAX_PAYLOAD {
            out.extend(serde_json::to_string(&batch).ok());
            batch.events.clear();
            size = 64;
        }
        size += len;
        batch.events.push(event);
    }
    if !batch.events.is_empty() {
        out.extend(serde_json::to_string(&batch).ok());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn many_changes_fit_in_notify_payloads() {
        let events: Vec<Event> = (0..2_000)
            .map(|i| Event::ReservationChanged { reservation_id: i })
            .collect();
        let payloads = payloads("n1", events.clone());
        assert!(payloads.len() > 1);
        let mut back = Vec::new();
        for p in &payloads {
            assert!(p.len() <= posada_store::live::MAX_PAYLOAD, "{}", p.len());
            let b: Batch = serde_json::from_str(p).unwrap();
            assert_eq!(b.node, "n1");
            back.extend(b.events);
        }
        assert_eq!(back, events);
    }
}

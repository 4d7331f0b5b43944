//! What changed, told after the change is committed.
//!
//! The unit of work collects these while it runs and publishes them only once its transaction
//! has committed, so a listener never sees a change that was rolled back. The node's availability
//! cache listens (a calendar change drops it); live pages subscribe through [`Events::subscribe`].

use tokio::sync::broadcast;

/// One committed change.
#[derive(Debug, Clone, PartialEq, Eq)]
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
}

/// The node's publisher of committed changes.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
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
        Events { sender }
    }

    /// Tell every subscriber (none listening is fine).
    pub fn publish(&self, event: Event) {
        let _ = self.sender.send(event);
    }

    /// Listen to the changes committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}

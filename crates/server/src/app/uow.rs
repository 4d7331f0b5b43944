//! The one write path: a transaction, the change, and everything that must follow it.
//!
//! A use case opens a [`UnitOfWork`], makes its change through [`UnitOfWork::conn`], and asks for
//! the consequences on the unit itself: messages ([`UnitOfWork::message_guest`],
//! [`UnitOfWork::message_owner`], [`UnitOfWork::message`]), timed jobs
//! ([`UnitOfWork::schedule`]), cancelled jobs ([`UnitOfWork::cancel`]) and changes to announce
//! ([`UnitOfWork::changed`]). [`UnitOfWork::commit`] writes the collected jobs in one statement
//! inside the transaction, commits, wakes this node's workers and only then publishes the
//! events. An outbox row is written only here, and always with its delivery job: a message
//! without its delivery cannot be written.

use chrono::{DateTime, Utc};
use posada_db::{Conn, Tx};
use posada_jobs::{Job, JobOptions, NewJob};
use posada_store::accommodations::{self, StoredAccommodation};
use posada_store::notifications::{self, NewNotification};
use posada_store::reservations::Reservation;
use serde_json::Value;

use super::error::AppError;
use super::events::Event;
use super::outbox::{self, Audience};
use crate::jobs::deliver_notification::DeliverNotification;
use crate::state::AppState;

/// The guest-link key, read (or made) before the transaction begins: guest messages carry the
/// reservation link, and on SQLite nothing inside a write transaction may wait for a second
/// pooled connection. After the first call this is a memory read.
async fn links_ready(state: &AppState) -> Result<(), AppError> {
    super::guest_links::key(state).await.map(|_| ())
}

/// One write transaction and its consequences.
pub struct UnitOfWork<'s> {
    state: &'s AppState,
    tx: Tx,
    jobs: Vec<NewJob>,
    events: Vec<Event>,
    trace_id: Option<String>,
    now: DateTime<Utc>,
}

impl<'s> UnitOfWork<'s> {
    fn wrap(state: &'s AppState, tx: Tx) -> UnitOfWork<'s> {
        UnitOfWork {
            state,
            tx,
            jobs: Vec::new(),
            events: Vec::new(),
            trace_id: None,
            now: state.now(),
        }
    }

    /// Begin a write transaction (`BEGIN IMMEDIATE` on SQLite).
    pub async fn begin(state: &'s AppState) -> Result<UnitOfWork<'s>, AppError> {
        links_ready(state).await?;
        let tx = state.db().begin().await?;
        state.database().answered();
        Ok(Self::wrap(state, tx))
    }

    /// Begin and take the accommodation's calendar lock exclusively, in the same round trip as
    /// `BEGIN` (blocks, late confirmations, channel syncs: they read the taken nights and must
    /// not race a hold, which takes the calendar lock shared).
    pub async fn begin_calendar(
        state: &'s AppState,
        accommodation_id: i64,
    ) -> Result<UnitOfWork<'s>, AppError> {
        links_ready(state).await?;
        let tx = accommodations::begin_with_calendar(state.db(), accommodation_id).await?;
        state.database().answered();
        Ok(Self::wrap(state, tx))
    }

    /// Begin a hold: the calendar lock shared and the stay's nights exclusively, in date order, in
    /// the `BEGIN` round trip (see `posada_store::accommodations::begin_hold`).
    pub async fn begin_hold(
        state: &'s AppState,
        accommodation_id: i64,
        stay: &posada_domain::Stay,
    ) -> Result<UnitOfWork<'s>, AppError> {
        links_ready(state).await?;
        let tx = accommodations::begin_hold(state.db(), accommodation_id, stay).await?;
        Ok(Self::wrap(state, tx))
    }

    /// Carry `trace_id` into the jobs this unit enqueues.
    pub fn with_trace(mut self, trace_id: Option<&str>) -> UnitOfWork<'s> {
        self.trace_id = trace_id.map(str::to_string);
        self
    }

    /// The connection of the transaction, for the store's statements.
    pub fn conn(&mut self) -> Conn<'_> {
        self.tx.conn()
    }

    /// The application state the unit works on.
    pub fn state(&self) -> &'s AppState {
        self.state
    }

    /// The settings (owner's contacts, time zone, …).
    pub fn settings(&self) -> &'s crate::config::Settings {
        self.state.settings()
    }

    /// The instant this unit of work started (the application clock).
    pub fn now(&self) -> DateTime<Utc> {
        self.now
    }

    /// Run `job` as soon as the transaction commits.
    pub fn enqueue<J: Job>(&mut self, job: &J) -> Result<(), AppError> {
        self.push(job, None)
    }

    /// Run `job` at `at` (its unique key, declared on its type, keeps one live job per subject).
    pub fn schedule<J: Job>(&mut self, job: &J, at: DateTime<Utc>) -> Result<(), AppError> {
        self.push(job, Some(at))
    }

    fn push<J: Job>(&mut self, job: &J, at: Option<DateTime<Utc>>) -> Result<(), AppError> {
        let opts = JobOptions {
            run_at: at,
            trace_id: self.trace_id.clone(),
            ..JobOptions::default()
        };
        self.jobs.push(NewJob::new(job, opts)?);
        Ok(())
    }

    /// Cancel the live job that `job`'s unique key names (nothing when there is none).
    pub async fn cancel<J: Job>(&mut self, job: &J) -> Result<(), AppError> {
        let Some(key) = job.unique_key() else {
            return Err(AppError::internal(format!(
                "job kind {} has no unique key to cancel by",
                J::KIND
            )));
        };
        self.state
            .jobs()
            .cancel_by_key(self.tx.conn(), &key)
            .await?;
        Ok(())
    }

    /// Announce `event` once the transaction has committed.
    pub fn changed(&mut self, event: Event) {
        if !self.events.contains(&event) {
            self.events.push(event);
        }
    }

    /// Write one outbox row and its delivery job. `None` when its dedupe key was already used
    /// (the message exists, with its own delivery).
    pub async fn message(&mut self, n: &NewNotification<'_>) -> Result<Option<i64>, AppError> {
        let Some(id) = notifications::insert(self.tx.conn(), n, self.now).await? else {
            return Ok(None);
        };
        self.enqueue(&DeliverNotification {
            notification_id: id,
        })?;
        if let Some(reservation_id) = n.reservation_id {
            self.changed(Event::ReservationChanged { reservation_id });
        }
        Ok(Some(id))
    }

    /// Tell the guest of `r` (every channel they can be reached on) with `template`.
    pub async fn message_guest(
        &mut self,
        r: &Reservation,
        acc: &StoredAccommodation,
        template: &str,
        extra: &Value,
    ) -> Result<(), AppError> {
        self.message_about(r, acc, Audience::Guest, template, extra)
            .await
    }

    /// Tell the owner (on the channels configured for them) about `r` with `template`.
    pub async fn message_owner(
        &mut self,
        r: &Reservation,
        acc: &StoredAccommodation,
        template: &str,
        extra: &Value,
    ) -> Result<(), AppError> {
        self.message_about(r, acc, Audience::Owner, template, extra)
            .await
    }

    async fn message_about(
        &mut self,
        r: &Reservation,
        acc: &StoredAccommodation,
        audience: Audience,
        template: &str,
        extra: &Value,
    ) -> Result<(), AppError> {
        let settings = self.state.settings();
        let mut data = outbox::merged(settings, r, acc, extra);
        if audience == Audience::Guest
            && let Some(obj) = data.as_object_mut()
        {
            // Every guest message can link to the reservation page (`links_ready` loaded the key).
            let url = super::guest_links::reservation_url(self.state, &r.code).await?;
            obj.insert("reservation_url".into(), Value::String(url));
        }
        let trace = self.trace_id.clone();
        self.trace_id = r.trace_id.clone().or(trace.clone());
        for (channel, recipient) in outbox::recipients(settings, Some(r), audience) {
            let dedupe_key =
                outbox::reservation_dedupe_key(template, r.id, audience, channel, &data);
            let result = self
                .message(&NewNotification {
                    reservation_id: Some(r.id),
                    audience: audience.as_str(),
                    channel,
                    recipient: Some(recipient),
                    template,
                    data: &data,
                    dedupe_key: Some(dedupe_key),
                })
                .await;
            if let Err(e) = result {
                self.trace_id = trace;
                return Err(e);
            }
        }
        self.trace_id = trace;
        Ok(())
    }

    /// Tell the owner something that concerns no reservation (a payment nobody can match, a
    /// channel conflict, an alert, the daily report), deduplicated per channel by `dedupe`
    /// (`None`: every call is a new message).
    pub async fn message_owner_about(
        &mut self,
        template: &str,
        data: &Value,
        dedupe: Option<&str>,
    ) -> Result<Vec<i64>, AppError> {
        let settings = self.state.settings();
        let mut written = Vec::new();
        for (channel, recipient) in outbox::recipients(settings, None, Audience::Owner) {
            if let Some(id) = self
                .message(&NewNotification {
                    reservation_id: None,
                    audience: Audience::Owner.as_str(),
                    channel,
                    recipient: Some(recipient),
                    template,
                    data,
                    dedupe_key: dedupe.map(|d| format!("{template}:{d}:owner:{channel}")),
                })
                .await?
            {
                written.push(id);
            }
        }
        Ok(written)
    }

    /// Write one message to the owner's e-mail (`OWNER_EMAIL`) with exactly `dedupe_key`;
    /// `false` when there is no owner e-mail or the key was already used.
    pub async fn message_owner_email(
        &mut self,
        template: &str,
        data: &Value,
        dedupe_key: &str,
    ) -> Result<bool, AppError> {
        let Some(email) = self
            .state
            .settings()
            .owner_email
            .clone()
            .filter(|e| !e.is_empty())
        else {
            return Ok(false);
        };
        let written = self
            .message(&NewNotification {
                reservation_id: None,
                audience: Audience::Owner.as_str(),
                channel: "email",
                recipient: Some(&email),
                template,
                data,
                dedupe_key: Some(dedupe_key.to_string()),
            })
            .await?;
        Ok(written.is_some())
    }

    /// Write the collected jobs, commit, wake this node's workers, then announce the changes.
    pub async fn commit(mut self) -> Result<(), AppError> {
        let jobs = self.state.jobs();
        if !self.jobs.is_empty() {
            let collected = std::mem::take(&mut self.jobs);
            jobs.enqueue_many_in(self.tx.conn(), collected).await?;
        }
        jobs.commit(self.tx).await?;
        for event in self.events {
            self.state.publish(event);
        }
        Ok(())
    }

    /// Give up: nothing of this unit is kept and nothing is announced.
    pub async fn rollback(self) -> Result<(), AppError> {
        self.tx.rollback().await?;
        Ok(())
    }
}

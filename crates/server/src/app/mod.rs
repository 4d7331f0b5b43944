//! The application core: one function per use case, with no HTTP in it.
//!
//! REST handlers, dashboard forms, WhatsApp jobs and CLI commands all call these functions and
//! only translate their input and output. Every write goes through one [`UnitOfWork`]: the
//! transaction, the change, the outbox rows *with* their delivery jobs, the timed jobs by key,
//! and — after commit — the [`Event`]s live pages and caches listen to. Errors are [`AppError`],
//! turned into problem+json in exactly one place (`http::errors`). Time comes from the
//! [`Clock`] in the application state.
//!
//! - [`booking`]: quote, hold, confirm (also by a late payment), cancel, expire, complete,
//!   no-show, reminders.
//! - [`blocks`]: the owner's blocks.
//! - [`accommodations`]: the catalogue and prices.
//! - [`payments`]: payment links and payment notifications.
//! - [`conversations`]: guest WhatsApp messages and the owner's answers.
//! - [`assistant`]: the WhatsApp guest assistant's answers.
//! - [`channels`]: channel feeds (iCal import and export).
//! - [`guest_links`]: the guest's reservation link and the booking forms' CSRF tokens.
//! - [`alerts`]: the owner's alerts, daily report and housekeeping.

pub mod accommodations;
pub mod alerts;
pub mod assistant;
pub mod blocks;
pub mod booking;
pub mod catalog;
pub mod channels;
pub mod clock;
pub mod conversations;
pub mod error;
pub mod events;
pub mod guest_links;
pub mod health;
pub mod outbox;
pub mod owner;
pub mod payments;
pub mod report;
pub mod transcription;
pub mod uow;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{AppError, FieldError};
pub use events::{Event, Events};
pub use uow::UnitOfWork;

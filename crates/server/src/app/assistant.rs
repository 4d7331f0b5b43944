//! The WhatsApp guest assistant: answers a guest's messages in es-AR, from "hola" to a hold with
//! its payment link, on the same use cases as the REST API (`booking::quote`, `alternatives`,
//! `create_hold`, `cancel`), and steps aside to a person when asked or when it fails to
//! understand twice in a row.
//!
//! The WhatsApp delivery job stores each guest message as `queued` and, once that commits, asks
//! for it to be answered ([`answer_up_to`]; a transcribed voice note gets an
//! [`AssistantReply`](crate::jobs::assistant_reply::AssistantReply) job instead). Each call answers the
//! oldest queued message of its phone first, one per transaction, until its own is answered: the
//! message's outcome, the session's new state (a compare-and-set on its version) and the reply
//! (an outbox row with its delivery job) commit together, so two jobs of one phone never answer
//! the same message, answers follow the guest's order, and a repeated job finds nothing to do.
//! What a conversation knows lives in `assistant_sessions.state`: the facts merged by
//! [`posada_assistant::dialogue`] and what the last answer offered (a quote, units to pick, other
//! dates, a name to confirm).

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use posada_assistant::dialogue::{self, NextStep};
use posada_assistant::{Intent, understand};
use posada_domain::{Actor, Quote, ReservationCode, ReservationState, Stay};
use posada_store::accommodations::{self, StoredAccommodation};
use posada_store::assistant::{self as sessions, QueuedMessage, Session};
use posada_store::conversations::{self, Direction, NewMessage};
use posada_store::notifications::NewNotification;
use posada_store::reservations::{self, Reservation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::booking::{self, Alternatives, GuestIn, HoldRequest};
use super::error::AppError;
use super::events::Event;
use super::uow::UnitOfWork;
use crate::state::AppState;
use crate::telemetry::mask_phone;

/// Hand-off reason: the guest asked for a person.
pub const REASON_ASKED_FOR_PERSON: &str = "asked_for_person";
/// Hand-off reason: two messages in a row the assistant did not understand.
pub const REASON_NOT_UNDERSTOOD: &str = "not_understood";
/// Hand-off reason: a question only the owner can answer (amenities, a confirmed stay to cancel…).
pub const REASON_OWNER_QUESTION: &str = "owner_question";

/// Longest part of a guest's text the assistant reads, in characters.
const MAX_READ_CHARS: usize = 1000;

/// Whether the assistant answers guests at all: switched on and WhatsApp configured.
pub fn enabled(state: &AppState) -> bool {
    state.settings().assistant_enabled && state.services().whatsapp.is_some()
}

/// What a conversation knows, stored as JSON on its session.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct Memory {
    #[serde(default)]
    talk: dialogue::Conversation,
    /// The unit the guest picked or named, by slug.
    #[serde(default)]
    slug: Option<String>,
    #[serde(default)]
    offer: Offer,
    /// Messages in a row not understood.
    #[serde(default)]
    misunderstood: u32,
    /// Whether this conversation was greeted already.
    #[serde(default)]
    greeted: bool,
}

/// What the last answer offered the guest.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum Offer {
    #[default]
    Nothing,
    /// Several units fit: the guest picks one.
    Units { slugs: Vec<String> },
    /// A quote: the guest may take it.
    Quote {
        slug: String,
        check_in: NaiveDate,
        check_out: NaiveDate,
        guests: u32,
    },
    /// The booking name to confirm.
    Name {
        slug: String,
        check_in: NaiveDate,
        check_out: NaiveDate,
        guests: u32,
        name: Option<String>,
    },
    /// The dates were taken: other dates of the same unit, or other units.
    Alternatives {
        slug: String,
        stays: Vec<(NaiveDate, NaiveDate)>,
        units: Vec<String>,
    },
}

/// One answer: the text, the unit's photo, choices (reply buttons or a list).
#[derive(Debug, Clone, Default)]
struct Reply {
    body: String,
    photo_url: Option<String>,
    options: Vec<(String, String, String)>,
}

impl Reply {
    fn text(body: impl Into<String>) -> Reply {
        Reply {
            body: body.into(),
            ..Reply::default()
        }
    }

    fn data(&self) -> Value {
        json!({
            "body": self.body,
            "photo_url": self.photo_url,
            "options": self.options.iter().map(|(id, title, description)| json!({
                "id": id, "title": title, "description": description,
            })).collect::<Vec<_>>(),
        })
    }
}

/// What answering a message does besides replying.
#[derive(Debug)]
enum Effect {
    Nothing,
    HandOff(&'static str),
    Hold(HoldRequest),
    Cancel(Box<Reservation>),
}

/// The assistant's decision for one message.
struct Decision {
    outcome: &'static str,
    reply: Option<Reply>,
    memory: Memory,
    effect: Effect,
}

/// Answer the queued messages of the phone of message `message_id`, oldest first, up to and
/// including that one. Returns how many were answered by this call.
pub async fn answer_up_to(state: &AppState, message_id: i64) -> anyhow::Result<usize> {
    let db = state.db();
    let Some((phone, own_at)) = sessions::queued_message(db, message_id).await? else {
        return Ok(0);
    };
    let mut answered = 0;
    // Each round either answers a message or sees that another job did: the queue shrinks.
    for _ in 0..1000 {
        let Some(next) = sessions::next_queued(db, &phone).await? else {
            break;
        };
        if (next.at, next.id) > (own_at, message_id) {
            break;
        }
        if answer_one(state, &phone, &next).await? {
            answered += 1;
        }
    }
    Ok(answered)
}

/// Answer one queued message. `false` when another job answered it meanwhile.
async fn answer_one(state: &AppState, phone: &str, m: &QueuedMessage) -> anyhow::Result<bool> {
    let db = state.db();
    let session = match sessions::get(db, phone).await? {
        Some(session) => session,
        None => {
            // The webhook makes the session with the message; this is only a safety net.
            let mut uow = UnitOfWork::begin(state).await?;
            let now = uow.now();
            sessions::touch(uow.conn(), phone, None, now).await?;
            uow.commit().await?;
            return Ok(false);
        }
    };
    let memory: Memory = serde_json::from_str(&session.state).unwrap_or_default();
    let with_person = !session.enabled || with_a_person(state, phone).await?;
    let decision = if with_person {
        // Switched off or handed off after this message was queued: a person answers it.
        Decision {
            outcome: "handed_off",
            reply: None,
            memory,
            effect: Effect::HandOff(super::conversations::REASON_GUEST_MESSAGE),
        }
    } else if rate_limited(state, phone, m).await? {
        Decision {
            outcome: "rate_limited",
            reply: None,
            memory,
            effect: Effect::Nothing,
        }
    } else {
        decide(state, phone, &session, memory, m).await?
    };
    let stored = serde_json::to_string(&decision.memory)?;
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    if !sessions::finish_message(uow.conn(), m.id, decision.outcome).await?
        || !sessions::save(uow.conn(), phone, &stored, session.version, now).await?
    {
        uow.rollback().await?;
        return Ok(false);
    }
    match decision.effect {
        Effect::Nothing | Effect::HandOff(_) => {
            if let Some(reply) = &decision.reply {
                send(&mut uow, phone, m.id, reply).await?;
            }
            if let Effect::HandOff(reason) = decision.effect {
                conversations::hand_off(uow.conn(), phone, reason, m.at, now).await?;
                metrics::counter!("conversations_handed_off_total", "reason" => reason)
                    .increment(1);
                tracing::info!(guest.phone = %mask_phone(phone), handoff.reason = reason, "assistant handed the conversation to a person");
            }
            uow.changed(Event::ConversationChanged {
                phone: phone.to_string(),
            });
            uow.commit().await?;
        }
        Effect::Hold(request) => {
            // Claimed: the message is answered by the hold's own messages (details, photo,
            // payment link, expiry).
            uow.commit().await?;
            book(state, phone, m, &request).await?;
        }
        Effect::Cancel(r) => {
            uow.commit().await?;
            match booking::cancel(
                state,
                r.id,
                Actor::Guest,
                Some("cancelada por el huésped por WhatsApp"),
            )
            .await
            {
                Ok(_) => {}
                Err(AppError::IllegalTransition { .. } | AppError::HoldExpired) => {
                    let reply = Reply::text(format!(
                        "La reserva {} ya no se puede cancelar por acá. Te paso con una persona del equipo.",
                        r.code
                    ));
                    follow_up(state, phone, m, &reply, Some(REASON_OWNER_QUESTION)).await?;
                }
                Err(e) => return Err(anyhow::anyhow!("cancelling {} from whatsapp: {e}", r.code)),
            }
        }
    }
    metrics::counter!("assistant_messages_answered_total", "outcome" => decision.outcome)
        .increment(1);
    Ok(true)
}

/// A second answer to an already answered message (after its booking or cancellation).
async fn follow_up(
    state: &AppState,
    phone: &str,
    m: &QueuedMessage,
    reply: &Reply,
    hand_off: Option<&'static str>,
) -> anyhow::Result<()> {
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    send(&mut uow, phone, m.id, reply).await?;
    if let Some(reason) = hand_off {
        conversations::hand_off(uow.conn(), phone, reason, m.at, now).await?;
    }
    uow.changed(Event::ConversationChanged {
        phone: phone.to_string(),
    });
    uow.commit().await?;
    Ok(())
}

/// Write the answer to message `message_id` to the outbox (once per message).
async fn send(
    uow: &mut UnitOfWork<'_>,
    phone: &str,
    message_id: i64,
    reply: &Reply,
) -> Result<(), AppError> {
    let data = reply.data();
    // Kept with the conversation, so the owner reads what the assistant said.
    let now = uow.now();
    conversations::insert_message(
        uow.conn(),
        &NewMessage {
            phone,
            direction: Direction::Out,
            wamid: None,
            kind: "assistant",
            body: &reply.body,
            at: now,
        },
    )
    .await?;
    uow.message(&NewNotification {
        reservation_id: None,
        audience: "guest",
        channel: "whatsapp",
        recipient: Some(phone),
        template: "assistant_reply",
        data: &data,
        dedupe_key: Some(format!("assistant_reply:{message_id}")),
    })
    .await?;
    Ok(())
}

/// Whether the conversation is with a person now (handed off, the state not lapsed).
async fn with_a_person(state: &AppState, phone: &str) -> anyhow::Result<bool> {
    let now = state.now();
    Ok(conversations::get(state.db(), phone)
        .await?
        .is_some_and(|c| c.handed_off_at.is_some() && c.state_expires_at.is_none_or(|t| t > now)))
}

async fn rate_limited(state: &AppState, phone: &str, m: &QueuedMessage) -> anyhow::Result<bool> {
    let limit = i64::from(state.settings().assistant_max_messages_per_minute);
    let since = m.at - TimeDelta::minutes(1);
    let count = sessions::inbound_count_until(state.db(), phone, since, m.at, m.id).await?;
    Ok(count > limit)
}

/// Create the hold; taken dates meanwhile get the alternatives, anything else a person.
async fn book(
    state: &AppState,
    phone: &str,
    m: &QueuedMessage,
    request: &HoldRequest,
) -> anyhow::Result<()> {
    match booking::create_hold(state, request, "whatsapp", None).await {
        Ok(created) => {
            tracing::info!(reservation.code = %created.reservation.code, guest.phone = %mask_phone(phone), "assistant created a hold");
            Ok(())
        }
        Err(AppError::DatesTaken(alternatives)) => {
            let acc = booking::active_accommodation(state, &request.accommodation).await?;
            let (reply, _) = taken_reply(
                state,
                &acc,
                request.check_in,
                request.check_out,
                &alternatives,
            )
            .await;
            follow_up(state, phone, m, &reply, None).await
        }
        Err(e) => {
            tracing::warn!(guest.phone = %mask_phone(phone), error = %e, "assistant could not create a hold");
            let reply = Reply::text(
                "No pude hacer la reserva por acá 😕 Te paso con una persona del equipo para terminarla.",
            );
            follow_up(state, phone, m, &reply, Some(REASON_OWNER_QUESTION)).await
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Deciding

fn answer(outcome: &'static str, reply: Reply, memory: Memory) -> Decision {
    Decision {
        outcome,
        reply: Some(reply),
        memory,
        effect: Effect::Nothing,
    }
}

fn hand_off(reply: &str, reason: &'static str, mut memory: Memory) -> Decision {
    memory.offer = Offer::Nothing;
    memory.misunderstood = 0;
    Decision {
        outcome: "handed_off",
        reply: Some(Reply::text(reply)),
        memory,
        effect: Effect::HandOff(reason),
    }
}

const HANDOFF_TEXT: &str =
    "Te paso con una persona del equipo. En cuanto pueda te responde por acá 🙌";

async fn decide(
    state: &AppState,
    phone: &str,
    session: &Session,
    mut memory: Memory,
    m: &QueuedMessage,
) -> anyhow::Result<Decision> {
    let today = state.today();
    let local_now = m.at.with_timezone(&state.settings().tz()).naive_local();
    let silence = TimeDelta::minutes(i64::from(state.settings().assistant_session_minutes));
    if memory
        .talk
        .last_message_at
        .is_some_and(|last| local_now.signed_duration_since(last) > silence)
    {
        memory = Memory::default();
    }
    memory.talk.last_message_at = Some(local_now);

    // A tap on one of our choices.
    if let Some(choice) = m.choice.as_deref() {
        return Ok(chosen(state, phone, session, memory, choice).await?);
    }
    // A voice note reads like text once transcribed (`POSADA_STT_COMMAND`).
    let transcribed = matches!(m.kind.as_str(), "audio" | "voice") && !m.body.trim().is_empty();
    if !transcribed && !matches!(m.kind.as_str(), "text" | "button" | "list_reply") {
        return Ok(answer(
            "asked_for_text",
            Reply::text("Por ahora solo puedo leer mensajes de texto 🙈\n¿Me lo escribís?"),
            memory,
        ));
    }
    let text: String = m.body.chars().take(MAX_READ_CHARS).collect();
    let u = understand(&text, today);
    let folded = fold(&text);

    if u.intent == Intent::Human || folded.contains("una persona") {
        return Ok(hand_off(HANDOFF_TEXT, REASON_ASKED_FOR_PERSON, memory));
    }
    if let Some(code) = code_in(&text) {
        let cancel = u.intent == Intent::Cancel || folded.contains("cancel");
        return Ok(about_reservation(state, phone, memory, Some(code), cancel).await?);
    }
    if matches!(u.intent, Intent::Status | Intent::Cancel) {
        return Ok(
            about_reservation(state, phone, memory, None, u.intent == Intent::Cancel).await?,
        );
    }

    // Answers to what we offered.
    let new_facts = u.check_in.is_some() || u.nights.is_some() || u.guests.is_some();
    match memory.offer.clone() {
        Offer::Name {
            slug,
            check_in,
            check_out,
            guests,
            name,
        } if !new_facts => {
            let given = dialogue::name_in(&text).or_else(|| bare_name(&text, u.intent));
            let name = match (given, name) {
                (Some(given), _) => Some(given),
                (None, Some(name)) if yes(&folded) => Some(name),
                _ => None,
            };
            let Some(name) = name else {
                if u.intent == Intent::Unknown || yes(&folded) {
                    return Ok(answer(
                        "asked_name",
                        Reply::text(
                            "¿A nombre de quién hago la reserva? Escribime nombre y apellido.",
                        ),
                        memory,
                    ));
                }
                memory.offer = Offer::Nothing;
                return Box::pin(decide(state, phone, session, memory, m)).await;
            };
            memory.talk.facts.name = Some(name.clone());
            memory.offer = Offer::Nothing;
            memory.misunderstood = 0;
            return Ok(Decision {
                outcome: "hold_requested",
                reply: None,
                memory,
                effect: Effect::Hold(HoldRequest {
                    accommodation: slug,
                    check_in,
                    check_out,
                    guests,
                    guest: GuestIn {
                        name,
                        email: None,
                        phone: Some(format!("+{phone}")),
                    },
                    notes: Some("Reservada por WhatsApp con el asistente".into()),
                }),
            });
        }
        Offer::Quote {
            slug,
            check_in,
            check_out,
            guests,
        } if !new_facts && (u.intent == Intent::Book || yes(&folded)) => {
            let name = memory.talk.facts.name.clone().or_else(|| {
                session
                    .profile_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
            });
            let body = match &name {
                Some(name) => format!(
                    "¡Genial! ¿Hago la reserva a nombre de {name}?\nSi es otro nombre, escribímelo."
                ),
                None => "¡Genial! ¿A nombre de quién hago la reserva?".to_string(),
            };
            memory.offer = Offer::Name {
                slug,
                check_in,
                check_out,
                guests,
                name,
            };
            memory.misunderstood = 0;
            return Ok(answer("asked_name", Reply::text(body), memory));
        }
        Offer::Alternatives { slug, stays, units } if !new_facts && yes(&folded) => {
            if let Some((check_in, check_out)) = stays.first() {
                let choice = format!("stay:{slug}:{check_in}:{check_out}");
                return Ok(chosen(state, phone, session, memory, &choice).await?);
            }
            if let Some(unit) = units.first() {
                let choice = format!("unit:{unit}");
                return Ok(chosen(state, phone, session, memory, &choice).await?);
            }
        }
        Offer::Units { slugs } if u.accommodation.is_none() => {
            if let Some(slug) = pick_by_text(state, &slugs, &folded, true).await? {
                let choice = format!("unit:{slug}");
                return Ok(chosen(state, phone, session, memory, &choice).await?);
            }
        }
        _ => {}
    }

    let before = memory.talk.facts.clone();
    memory.talk.facts.absorb(&u, &text);
    match &u.accommodation {
        Some(phrase) => memory.slug = match_unit(state, phrase).await?,
        // A unit named without the shape the understanding knows ("y la aromo?").
        None => {
            if let Some(slug) = match_unit(state, &text).await? {
                memory.slug = Some(slug);
            }
        }
    }
    let learned = memory.talk.facts != before;
    match u.intent {
        Intent::Info if !learned => {
            return Ok(hand_off(
                "Esa consulta te la responde una persona del equipo: ya le aviso 🙌",
                REASON_OWNER_QUESTION,
                memory,
            ));
        }
        Intent::Thanks if !learned => {
            memory.misunderstood = 0;
            return Ok(answer(
                "thanks",
                Reply::text("¡Gracias a vos! Cualquier cosa, escribime por acá 😊"),
                memory,
            ));
        }
        Intent::Unknown if !learned => {
            memory.misunderstood += 1;
            if memory.misunderstood >= 2 {
                return Ok(hand_off(
                    "Perdón, no te estoy entendiendo 😅\nTe paso con una persona del equipo.",
                    REASON_NOT_UNDERSTOOD,
                    memory,
                ));
            }
            return Ok(answer(
                "not_understood",
                Reply::text(
                    "Perdón, no te entendí 😅\n¿Me decís para qué fechas y cuántas personas son?",
                ),
                memory,
            ));
        }
        _ => {}
    }
    memory.misunderstood = 0;
    let greeting = if !memory.greeted && before == dialogue::Facts::default() {
        memory.greeted = true;
        match session.profile_name.as_deref().and_then(first_name) {
            Some(name) => format!("¡Hola, {name}! 👋 "),
            None => "¡Hola! 👋 ".to_string(),
        }
    } else {
        String::new()
    };
    Ok(match memory.talk.facts.next_step(false) {
        NextStep::AskDates { check_in: None } => answer(
            "asked_dates",
            Reply::text(format!("{greeting}¿Para qué fechas querés venir?")),
            memory,
        ),
        NextStep::AskDates {
            check_in: Some(day),
        } => answer(
            "asked_dates",
            Reply::text(format!(
                "{greeting}Llegás el {}. ¿Hasta qué día te quedás?",
                short_date(day, today)
            )),
            memory,
        ),
        NextStep::AskGuests => answer(
            "asked_guests",
            Reply::text(format!("{greeting}¿Cuántas personas son?")),
            memory,
        ),
        NextStep::AskUnit => answer(
            "asked_unit",
            Reply::text("¿Qué cabaña te interesa?"),
            memory,
        ),
        NextStep::ReadyToQuote {
            check_in,
            check_out,
            guests,
            ..
        } => availability(state, memory, check_in, check_out, guests).await?,
    })
}

/// The guest tapped (or accepted) one of our choices: `unit:{slug}` or `stay:{slug}:{in}:{out}`.
async fn chosen(
    state: &AppState,
    _phone: &str,
    _session: &Session,
    mut memory: Memory,
    choice: &str,
) -> Result<Decision, AppError> {
    memory.misunderstood = 0;
    if let Some(slug) = choice.strip_prefix("unit:") {
        memory.slug = Some(slug.to_string());
        memory.talk.facts.unit = Some(slug.to_string());
    } else if let Some(rest) = choice.strip_prefix("stay:") {
        let mut parts = rest.rsplitn(3, ':');
        let out = parts.next().and_then(|d| d.parse::<NaiveDate>().ok());
        let inn = parts.next().and_then(|d| d.parse::<NaiveDate>().ok());
        let slug = parts.next();
        if let (Some(check_in), Some(check_out), Some(slug)) = (inn, out, slug) {
            memory.slug = Some(slug.to_string());
            memory.talk.facts.unit = Some(slug.to_string());
            memory.talk.facts.check_in = Some(check_in);
            memory.talk.facts.check_out = Some(check_out);
            memory.talk.facts.nights = u32::try_from((check_out - check_in).num_days()).ok();
        }
    }
    let facts = &memory.talk.facts;
    match (facts.check_in, facts.check_out, facts.guests) {
        (Some(check_in), Some(check_out), Some(guests)) => {
            availability(state, memory, check_in, check_out, guests).await
        }
        _ => Ok(answer(
            "asked_dates",
            Reply::text("¡Dale! ¿Para qué fechas y cuántas personas?"),
            memory,
        )),
    }
}

/// Quote the stay: in the chosen unit, or in every unit that fits.
async fn availability(
    state: &AppState,
    mut memory: Memory,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
) -> Result<Decision, AppError> {
    let today = state.today();
    if let Some(slug) = memory.slug.clone() {
        let acc = match booking::quote(state, &slug, check_in, check_out, guests).await {
            Ok((acc, quote, true)) => {
                let reply = quote_reply(&acc, &quote, check_in, check_out, guests, today);
                memory.offer = Offer::Quote {
                    slug,
                    check_in,
                    check_out,
                    guests,
                };
                return Ok(answer("quoted", reply, memory));
            }
            Ok((acc, _, false)) => acc,
            Err(AppError::Invalid(errors)) => {
                return Ok(cannot_quote(memory, &errors));
            }
            Err(AppError::NotFound(_)) => {
                memory.slug = None;
                return Box::pin(availability(state, memory, check_in, check_out, guests)).await;
            }
            Err(e) => return Err(e),
        };
        let stay = Stay::new(check_in, check_out).map_err(|e| AppError::internal(e.to_string()))?;
        let alternatives = booking::alternatives(state, &acc, &stay, guests).await?;
        let (reply, offer) = taken_reply(state, &acc, check_in, check_out, &alternatives).await;
        memory.offer = offer;
        return Ok(answer("dates_taken", reply, memory));
    }
    let mut free: Vec<(StoredAccommodation, Quote)> = Vec::new();
    let mut fitting_taken: Option<StoredAccommodation> = None;
    let mut invalid = None;
    for acc in accommodations::list(state.db(), true).await? {
        let slug = acc.accommodation.slug.clone();
        match booking::quote(state, &slug, check_in, check_out, guests).await {
            Ok((acc, quote, true)) => free.push((acc, quote)),
            Ok((acc, _, false)) => {
                fitting_taken.get_or_insert(acc);
            }
            Err(AppError::Invalid(errors)) => {
                invalid.get_or_insert(errors);
            }
            Err(AppError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    match free.len() {
        0 => {
            if let Some(acc) = fitting_taken {
                let stay = Stay::new(check_in, check_out)
                    .map_err(|e| AppError::internal(e.to_string()))?;
                let alternatives = booking::alternatives(state, &acc, &stay, guests).await?;
                let (reply, offer) =
                    taken_reply(state, &acc, check_in, check_out, &alternatives).await;
                memory.offer = offer;
                return Ok(answer("dates_taken", reply, memory));
            }
            if let Some(errors) = invalid {
                return Ok(cannot_quote(memory, &errors));
            }
            memory.offer = Offer::Nothing;
            Ok(answer(
                "no_unit",
                Reply::text(format!(
                    "Uh, no tenemos una cabaña para {guests} personas en esas fechas 😕\n¿Querés probar con otras fechas?"
                )),
                memory,
            ))
        }
        1 => {
            let (acc, quote) = &free[0];
            memory.slug = Some(acc.accommodation.slug.clone());
            memory.offer = Offer::Quote {
                slug: acc.accommodation.slug.clone(),
                check_in,
                check_out,
                guests,
            };
            Ok(answer(
                "quoted",
                quote_reply(acc, quote, check_in, check_out, guests, today),
                memory,
            ))
        }
        _ => {
            let mut body = format!(
                "¡Hay lugar! Del {} al {} ({}, {} personas) tenemos libres:\n",
                short_date(check_in, today),
                short_date(check_out, today),
                nights_label(&free[0].1),
                guests
            );
            let mut options = Vec::new();
            for (acc, quote) in free.iter().take(10) {
                body.push_str(&format!(
                    "• {}: {}\n",
                    acc.accommodation.name,
                    quote.total.format_es_ar()
                ));
                options.push((
                    format!("unit:{}", acc.accommodation.slug),
                    clip(&acc.accommodation.name, 20),
                    clip(&format!("Total {}", quote.total.format_es_ar()), 72),
                ));
            }
            body.push_str("¿Cuál te gusta más?");
            memory.offer = Offer::Units {
                slugs: free
                    .iter()
                    .map(|(a, _)| a.accommodation.slug.clone())
                    .collect(),
            };
            Ok(answer(
                "units_listed",
                Reply {
                    body,
                    photo_url: None,
                    options,
                },
                memory,
            ))
        }
    }
}

fn cannot_quote(mut memory: Memory, errors: &[super::error::FieldError]) -> Decision {
    memory.offer = Offer::Nothing;
    let why = errors
        .first()
        .map(|e| e.message.clone())
        .unwrap_or_default();
    answer(
        "cannot_quote",
        Reply::text(format!(
            "Esas fechas no las puedo ofrecer: {why}.\n¿Probamos con otras?"
        )),
        memory,
    )
}

fn quote_reply(
    acc: &StoredAccommodation,
    quote: &Quote,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
    today: NaiveDate,
) -> Reply {
    let a = &acc.accommodation;
    let mut body = format!(
        "¡Sí! {} está libre del {} al {} ({}, {} {}).\n",
        a.name,
        short_date(check_in, today),
        short_date(check_out, today),
        nights_label(quote),
        guests,
        if guests == 1 { "persona" } else { "personas" }
    );
    body.push_str(&breakdown(quote, today));
    body.push_str(&format!(
        "Total: {}\nSeña para reservar: {}\n¿Te la reservo?",
        quote.total.format_es_ar(),
        quote.deposit.format_es_ar()
    ));
    Reply {
        body,
        photo_url: a.primary_photo().map(|p| p.url.clone()),
        options: Vec::new(),
    }
}

/// One line per night for a week or less; runs of equal prices for longer stays.
fn breakdown(quote: &Quote, today: NaiveDate) -> String {
    let mut out = String::new();
    if quote.nights.len() <= 7 {
        for n in &quote.nights {
            out.push_str(&format!(
                "• {} {}: {}\n",
                weekday(n.date),
                short_date(n.date, today),
                n.price.format_es_ar()
            ));
        }
        return out;
    }
    let mut i = 0;
    while i < quote.nights.len() {
        let price = quote.nights[i].price;
        let mut j = i;
        while j + 1 < quote.nights.len() && quote.nights[j + 1].price == price {
            j += 1;
        }
        let count = j - i + 1;
        out.push_str(&format!(
            "• {} {} desde el {}: {} c/u\n",
            count,
            if count == 1 { "noche" } else { "noches" },
            short_date(quote.nights[i].date, today),
            price.format_es_ar()
        ));
        i = j + 1;
    }
    out
}

async fn taken_reply(
    state: &AppState,
    acc: &StoredAccommodation,
    check_in: NaiveDate,
    check_out: NaiveDate,
    alternatives: &Alternatives,
) -> (Reply, Offer) {
    let today = state.today();
    let name = &acc.accommodation.name;
    let mut body = format!(
        "Uy, {name} ya está ocupada del {} al {} 😕\n",
        short_date(check_in, today),
        short_date(check_out, today)
    );
    let mut options = Vec::new();
    let stays: Vec<(NaiveDate, NaiveDate)> = alternatives
        .same_accommodation
        .iter()
        .take(2)
        .map(|s| (s.check_in, s.check_out))
        .collect();
    let units: Vec<&booking::AccommodationRef> = alternatives
        .other_accommodations
        .iter()
        .take(3 - stays.len().min(3))
        .collect();
    if stays.is_empty() && units.is_empty() {
        body.push_str(
            "Y no encuentro otras fechas libres cerca.\n¿Querés probar con otras fechas?",
        );
        return (Reply::text(body), Offer::Nothing);
    }
    body.push_str("Te puedo ofrecer:\n");
    for (a, b) in &stays {
        let label = format!("{} al {}", short_date(*a, today), short_date(*b, today));
        body.push_str(&format!("• {name} del {label}\n"));
        options.push((
            format!("stay:{}:{a}:{b}", acc.accommodation.slug),
            clip(&label, 20),
            String::new(),
        ));
    }
    for u in &units {
        body.push_str(&format!("• {} en las mismas fechas\n", u.name));
        options.push((format!("unit:{}", u.slug), clip(&u.name, 20), String::new()));
    }
    body.push_str("¿Te sirve alguna?");
    (
        Reply {
            body,
            photo_url: None,
            options,
        },
        Offer::Alternatives {
            slug: acc.accommodation.slug.clone(),
            stays,
            units: units.iter().map(|u| u.slug.clone()).collect(),
        },
    )
}

/// Status or cancellation of the phone's own reservations, by code or "mi reserva".
async fn about_reservation(
    state: &AppState,
    phone: &str,
    mut memory: Memory,
    code: Option<String>,
    cancel: bool,
) -> Result<Decision, AppError> {
    memory.misunderstood = 0;
    memory.offer = Offer::Nothing;
    let today = state.today();
    let own = |r: &Reservation| {
        r.guest_phone
            .as_deref()
            .map(super::conversations::digits)
            .as_deref()
            == Some(phone)
    };
    let found: Vec<Reservation> = match &code {
        Some(code) => reservations::get_by_code(state.db(), code)
            .await?
            .filter(own)
            .into_iter()
            .collect(),
        None => reservations::of_guest_phone(state.db(), phone, today)
            .await?
            .into_iter()
            .filter(|r| {
                matches!(
                    r.state,
                    ReservationState::PreReserved | ReservationState::Confirmed
                )
            })
            .collect(),
    };
    let r = match (found.len(), &code) {
        (0, Some(_)) => {
            return Ok(answer(
                "reservation_not_found",
                Reply::text(
                    "No encuentro una reserva con ese código para este número 🤔\nSi la hiciste desde otro teléfono, escribinos desde ese número.",
                ),
                memory,
            ));
        }
        (0, None) => {
            return Ok(answer(
                "reservation_not_found",
                Reply::text(
                    "No encuentro reservas activas para este número 🤔\n¿Me pasás el código de reserva?",
                ),
                memory,
            ));
        }
        (1, _) => found[0].clone(),
        _ => {
            let mut body = "Tenés estas reservas:\n".to_string();
            for r in &found {
                body.push_str(&format!(
                    "• {}: del {} al {} ({})\n",
                    r.code,
                    short_date(r.stay.check_in(), today),
                    short_date(r.stay.check_out(), today),
                    r.state.label_es()
                ));
            }
            body.push_str("¿Me decís el código de la que querés?");
            return Ok(answer("reservations_listed", Reply::text(body), memory));
        }
    };
    if cancel {
        return Ok(match r.state {
            ReservationState::PreReserved => Decision {
                outcome: "cancel_requested",
                reply: None,
                memory,
                effect: Effect::Cancel(Box::new(r)),
            },
            ReservationState::Confirmed => hand_off(
                &format!(
                    "Para cancelar la reserva {} ya confirmada te paso con una persona del equipo 🙌",
                    r.code
                ),
                REASON_OWNER_QUESTION,
                memory,
            ),
            _ => answer(
                "status",
                Reply::text(format!(
                    "La reserva {} ya está {}.",
                    r.code,
                    r.state.label_es()
                )),
                memory,
            ),
        });
    }
    let acc = accommodations::get(state.db(), r.accommodation_id).await?;
    let name = acc
        .as_ref()
        .map(|a| a.accommodation.name.clone())
        .unwrap_or_default();
    let mut body = format!(
        "Tu reserva {} en {name}:\nDel {} al {} ({} {}, {} {}).\nEstado: {}.",
        r.code,
        short_date(r.stay.check_in(), today),
        short_date(r.stay.check_out(), today),
        r.stay.nights(),
        if r.stay.nights() == 1 {
            "noche"
        } else {
            "noches"
        },
        r.guests,
        if r.guests == 1 { "persona" } else { "personas" },
        r.state.label_es()
    );
    if r.state == ReservationState::PreReserved {
        if let Some(link) = &r.payment_link {
            body.push_str(&format!(
                "\nSeña: {}. Pagala acá: {link}",
                r.deposit.format_es_ar()
            ));
        }
        if let Some(expires) = r.expires_at {
            body.push_str(&format!(
                "\nVence el {}.",
                expires
                    .with_timezone(&state.settings().tz())
                    .format("%d/%m a las %H:%M")
            ));
        }
    }
    Ok(answer("status", Reply::text(body), memory))
}

// ---------------------------------------------------------------------------------------------
// Reading helpers

/// Lower case without accents.
fn fold(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'á' | 'à' | 'Á' => 'a',
            'é' | 'É' => 'e',
            'í' | 'Í' => 'i',
            'ó' | 'Ó' => 'o',
            'ú' | 'ü' | 'Ú' => 'u',
            'ñ' | 'Ñ' => 'n',
            c => c.to_lowercase().next().unwrap_or(c),
        })
        .collect()
}

fn words(folded: &str) -> Vec<&str> {
    folded
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// A yes: "sí", "dale", "ok", "de una", "perfecto", "la tomo"…
fn yes(folded: &str) -> bool {
    let w = words(folded);
    w.iter().any(|w| {
        matches!(
            *w,
            "si" | "sii"
                | "siii"
                | "dale"
                | "ok"
                | "oka"
                | "okey"
                | "perfecto"
                | "listo"
                | "genial"
                | "confirmo"
                | "tomo"
                | "reservo"
                | "reservala"
                | "reservamela"
                | "bueno"
                | "joya"
                | "buenisimo"
        )
    }) || folded.contains("de una")
}

/// A name written on its own when we asked for one: one to four words, letters only.
fn bare_name(text: &str, intent: Intent) -> Option<String> {
    if !matches!(intent, Intent::Unknown | Intent::Greeting) {
        return None;
    }
    let parts: Vec<&str> = text.split_whitespace().collect();
    let ok = (1..=4).contains(&parts.len())
        && parts.iter().all(|p| {
            p.chars()
                .all(|c| c.is_alphabetic() || c == '\'' || c == '-')
        });
    let folded = fold(text);
    let not_a_name = words(&folded).iter().any(|w| {
        w.chars().count() < 2
            || matches!(
                *w,
                "no" | "nop"
                    | "nah"
                    | "gracias"
                    | "hola"
                    | "chau"
                    | "espera"
                    | "despues"
                    | "mejor"
                    | "otro"
                    | "otra"
                    | "nada"
                    | "cancelar"
                    | "ninguno"
                    | "ninguna"
            )
    });
    if !ok || not_a_name || yes(&folded) {
        return None;
    }
    Some(
        parts
            .iter()
            .map(|p| {
                let mut c = p.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect::<String>())
                    .unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" "),
    )
}

fn first_name(name: &str) -> Option<&str> {
    name.split_whitespace().next()
}

/// A reservation code in the text (`K7M2Q-XW9RD`, with or without the dash, any case).
fn code_in(text: &str) -> Option<String> {
    let tokens: Vec<&str> = text
        .split(|c: char| !(c.is_alphanumeric() || c == '-'))
        .filter(|t| !t.is_empty())
        .collect();
    tokens.iter().find_map(|t| {
        let t = t.trim_matches('-');
        let t = t
            .strip_prefix("RES-")
            .or_else(|| t.strip_prefix("res-"))
            .unwrap_or(t);
        // A code as we print it (`K7M2Q-XW9RD`), or run together with a digit in it: ten
        // letters alone are more likely a word.
        let looks_like_code = t.contains('-')
            || t.chars().any(|c| c.is_ascii_digit())
            || t.chars().all(|c| c.is_ascii_uppercase());
        looks_like_code
            .then(|| ReservationCode::parse(t).ok())
            .flatten()
            .map(|c| c.as_str().to_string())
    })
}

/// The unit a guest's phrase names ("la cabaña grande", "la del arroyo"), by its name's words.
async fn match_unit(state: &AppState, phrase: &str) -> Result<Option<String>, AppError> {
    let units = accommodations::list(state.db(), true).await?;
    let slugs: Vec<String> = units.iter().map(|a| a.accommodation.slug.clone()).collect();
    pick_by_text(state, &slugs, &fold(phrase), false).await
}

const FILLER: &[&str] = &[
    "la",
    "el",
    "los",
    "las",
    "de",
    "del",
    "que",
    "tiene",
    "con",
    "cabana",
    "casa",
    "depto",
    "departamento",
    "quiero",
    "prefiero",
    "mejor",
    "una",
    "un",
    "y",
    "a",
    "en",
];

/// The one unit among `slugs` whose name shares the most words with `folded`, or, with
/// `ordinals`, the n-th ("la 2", "la segunda").
async fn pick_by_text(
    state: &AppState,
    slugs: &[String],
    folded: &str,
    ordinals: bool,
) -> Result<Option<String>, AppError> {
    let said: Vec<&str> = words(folded)
        .into_iter()
        .filter(|w| !FILLER.contains(w))
        .collect();
    let ordinal = said.iter().filter(|_| ordinals).find_map(|w| match *w {
        "1" | "primera" | "primero" => Some(0),
        "2" | "segunda" | "segundo" => Some(1),
        "3" | "tercera" | "tercero" => Some(2),
        _ => None,
    });
    let mut best: Option<(usize, &String)> = None;
    let mut tie = false;
    for slug in slugs {
        let Some(acc) = state.catalog().by_slug(state.db(), slug).await? else {
            continue;
        };
        let name = fold(&format!(
            "{} {}",
            acc.accommodation.name,
            slug.replace('-', " ")
        ));
        let name_words = words(&name);
        let score = said.iter().filter(|w| name_words.contains(w)).count();
        if score == 0 {
            continue;
        }
        match best {
            Some((s, _)) if s > score => {}
            Some((s, _)) if s == score => tie = true,
            _ => {
                best = Some((score, slug));
                tie = false;
            }
        }
    }
    if let Some((_, slug)) = best.filter(|_| !tie) {
        return Ok(Some(slug.clone()));
    }
    Ok(ordinal.and_then(|i| slugs.get(i).cloned()))
}

// ---------------------------------------------------------------------------------------------
// Writing helpers

/// `15/12`, with the year when it is not this year's.
fn short_date(day: NaiveDate, today: NaiveDate) -> String {
    if day.year() == today.year() {
        day.format("%d/%m").to_string()
    } else {
        day.format("%d/%m/%Y").to_string()
    }
}

fn weekday(day: NaiveDate) -> &'static str {
    match day.weekday() {
        chrono::Weekday::Mon => "lun",
        chrono::Weekday::Tue => "mar",
        chrono::Weekday::Wed => "mié",
        chrono::Weekday::Thu => "jue",
        chrono::Weekday::Fri => "vie",
        chrono::Weekday::Sat => "sáb",
        chrono::Weekday::Sun => "dom",
    }
}

fn nights_label(quote: &Quote) -> String {
    let n = quote.nights.len();
    format!("{n} {}", if n == 1 { "noche" } else { "noches" })
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Whether the assistant answers `phone` now: on globally and for this conversation, and the
/// conversation not waiting for a person.
pub async fn answers(
    uow: &mut UnitOfWork<'_>,
    phone: &str,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    if !enabled(uow.state()) {
        return Ok(false);
    }
    if let Some(session) = sessions::get_in(uow.conn(), phone).await?
        && !session.enabled
    {
        return Ok(false);
    }
    Ok(!conversations::handed_off_in(uow.conn(), phone, now).await?)
}

/// The owner's per-conversation switch.
pub async fn set_enabled(state: &AppState, phone: &str, on: bool) -> Result<(), AppError> {
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    sessions::set_enabled(uow.conn(), phone, on, now).await?;
    uow.changed(Event::ConversationChanged {
        phone: phone.to_string(),
    });
    uow.commit().await?;
    tracing::info!(guest.phone = %mask_phone(phone), assistant.enabled = on, "assistant switched for a conversation");
    Ok(())
}

/// Whether the assistant would answer `phone`'s next message now.
pub async fn active_for(state: &AppState, phone: &str) -> Result<bool, AppError> {
    let mut uow = UnitOfWork::begin(state).await?;
    let now = uow.now();
    let active = answers(&mut uow, phone, now).await?;
    uow.rollback().await?;
    Ok(active)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_found_in_text() {
        assert_eq!(
            code_in("hola, mi reserva es K7M2Q-XW9RD").as_deref(),
            Some("K7M2Q-XW9RD")
        );
        assert_eq!(code_in("k7m2qxw9rd?").as_deref(), Some("K7M2Q-XW9RD"));
        assert_eq!(code_in("del 15 al 20 para 4"), None);
        assert_eq!(code_in("hola"), None);
    }

    #[test]
    fn yes_and_names() {
        assert!(yes(&fold("Sí, dale")));
        assert!(yes(&fold("de una!")));
        assert!(!yes(&fold("no, mejor otro día")));
        assert_eq!(
            bare_name("laura pérez", Intent::Unknown).as_deref(),
            Some("Laura Pérez")
        );
        assert_eq!(bare_name("sí", Intent::Unknown), None);
        assert_eq!(bare_name("no", Intent::Unknown), None);
        assert_eq!(bare_name("no, mejor otro", Intent::Unknown), None);
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(
            clip("Cabaña del Arroyo Grande y más", 20).chars().count(),
            20
        );
        assert_eq!(clip("🏡🏡🏡", 2), "🏡…");
    }
}

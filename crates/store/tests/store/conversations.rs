//! Guest WhatsApp conversations on both backends: the hand-off state (waiting since the oldest
//! unanswered message, cleared by a reply, lapsing with the 24 h window), the owner's list with
//! the guest's reservation and the latest message, messages deduplicated per direction, and the
//! cleanup.

use chrono::{DateTime, Duration, DurationRound, Utc};
use posada_db::both_backends;
use posada_db::testing::TestDb;
use posada_domain::{Actor, Stay};
use posada_store::conversations::{self, ConversationFilter, Direction, NewMessage};
use posada_store::{accommodations, reservations};

use super::{cabin, d, migrated, quote_for};

const ANA: &str = "5491155551234";
const LUIS: &str = "5493415550000";

/// Whole seconds, as WhatsApp timestamps are.
fn secs(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(Duration::seconds(1)).unwrap()
}

async fn inbound(t: &TestDb, phone: &str, wamid: &str, body: &str, at: DateTime<Utc>) -> i64 {
    let mut tx = t.db.begin().await.unwrap();
    conversations::record_inbound(tx.conn(), phone, at, chrono::Utc::now())
        .await
        .unwrap();
    let id = conversations::insert_message(
        tx.conn(),
        &NewMessage {
            phone,
            direction: Direction::In,
            wamid: Some(wamid),
            kind: "text",
            body,
            at,
        },
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn hand_off(t: &TestDb, phone: &str, reason: &str, at: DateTime<Utc>) {
    let mut tx = t.db.begin().await.unwrap();
    conversations::hand_off(tx.conn(), phone, reason, at, Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

async fn hand_off_waits_since_the_oldest_unanswered_message(t: TestDb) {
    migrated(&t).await;
    let now = secs(Utc::now());
    let first = now - Duration::hours(2);
    inbound(&t, ANA, "wamid.1", "Hola, ¿tienen cochera?", first).await;
    // Not handed off yet: nothing waits, no state to lapse.
    let c = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(c.awaiting_since, None);
    assert_eq!(c.state_expires_at, None);
    assert_eq!(c.window_open_until(), first + Duration::hours(24));

    hand_off(&t, ANA, "guest_message", first).await;
    let handed = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(handed.awaiting_since, Some(first));
    assert_eq!(handed.handoff_reason.as_deref(), Some("guest_message"));
    assert_eq!(handed.state_expires_at, Some(first + Duration::hours(24)));
    let handed_at = handed.handed_off_at.unwrap();

    // A second message: still waiting since the first, the hand-off keeps its start and reason,
    // the state lasts until the new message's window closes.
    let second = now - Duration::minutes(10);
    inbound(&t, ANA, "wamid.2", "¿Hola?", second).await;
    hand_off(&t, ANA, "button_unmatched", second).await;
    let c = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(c.awaiting_since, Some(first));
    assert_eq!(c.handed_off_at, Some(handed_at));
    assert_eq!(c.handoff_reason.as_deref(), Some("guest_message"));
    assert_eq!(c.state_expires_at, Some(second + Duration::hours(24)));
    assert_eq!(c.last_inbound_at, second);

    // Older than an hour: the alert's query finds it.
    let unanswered = conversations::unanswered_since(&t.db, now - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(unanswered.len(), 1);
    assert_eq!(unanswered[0].conversation.phone, ANA);

    // The owner answers: nothing waits, still handed off.
    let mut tx = t.db.begin().await.unwrap();
    assert!(
        conversations::record_reply(tx.conn(), ANA, now)
            .await
            .unwrap()
    );
    assert!(
        !conversations::record_reply(tx.conn(), LUIS, now)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let c = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(c.awaiting_since, None);
    assert_eq!(c.last_reply_at, Some(now));
    assert!(c.handed_off_at.is_some());
    assert!(
        conversations::unanswered_since(&t.db, now)
            .await
            .unwrap()
            .is_empty()
    );

    // The guest writes again: waiting since that message.
    let third = now + Duration::seconds(5);
    inbound(&t, ANA, "wamid.3", "Gracias", third).await;
    hand_off(&t, ANA, "guest_message", third).await;
    let c = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(c.awaiting_since, Some(third));

    // Resolved: posada handles it again.
    let mut tx = t.db.begin().await.unwrap();
    assert!(conversations::resolve(tx.conn(), ANA, now).await.unwrap());
    assert!(!conversations::resolve(tx.conn(), LUIS, now).await.unwrap());
    tx.commit().await.unwrap();
    let c = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(
        (
            c.handed_off_at,
            c.handoff_reason,
            c.awaiting_since,
            c.state_expires_at
        ),
        (None, None, None, None)
    );
    assert_eq!(c.last_inbound_at, third, "the window is not forgotten");
}

async fn inbound_messages_extend_a_handed_off_state(t: TestDb) {
    migrated(&t).await;
    let now = secs(Utc::now());
    let first = now - Duration::hours(3);
    inbound(&t, ANA, "wamid.1", "hola", first).await;
    hand_off(&t, ANA, "guest_message", first).await;
    // A message posada handles itself (a button tap) still moves the window, and with it the
    // state's expiry.
    let tap = now - Duration::hours(1);
    let mut tx = t.db.begin().await.unwrap();
    conversations::record_inbound(tx.conn(), ANA, tap, chrono::Utc::now())
        .await
        .unwrap();
    // An older message delivered late changes neither.
    conversations::record_inbound(
        tx.conn(),
        ANA,
        first - Duration::hours(1),
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let c = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(c.last_inbound_at, tap);
    assert_eq!(c.state_expires_at, Some(tap + Duration::hours(24)));
    assert_eq!(c.awaiting_since, Some(first));
}

async fn states_expire_and_old_messages_are_purged(t: TestDb) {
    migrated(&t).await;
    let now = secs(Utc::now());
    let old = now - Duration::hours(25);
    inbound(&t, ANA, "wamid.a", "¿Sigue libre?", old).await;
    hand_off(&t, ANA, "guest_message", old).await;
    let recent = now - Duration::hours(2);
    inbound(&t, LUIS, "wamid.l", "Buenas", recent).await;
    hand_off(&t, LUIS, "guest_message", recent).await;
    let ancient = now - Duration::days(91);
    inbound(&t, LUIS, "wamid.old", "del verano pasado", ancient).await;

    assert_eq!(conversations::expire_states(&t.db, now).await.unwrap(), 1);
    let ana = conversations::get(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(ana.handed_off_at, None);
    assert_eq!(ana.awaiting_since, None);
    assert_eq!(ana.state_expires_at, None);
    let luis = conversations::get(&t.db, LUIS).await.unwrap().unwrap();
    assert_eq!(luis.awaiting_since, Some(recent));
    // Nothing left to expire.
    assert_eq!(conversations::expire_states(&t.db, now).await.unwrap(), 0);

    assert_eq!(
        conversations::purge_messages(&t.db, now - Duration::days(90))
            .await
            .unwrap(),
        1
    );
    let kept = conversations::messages(&t.db, LUIS, 50).await.unwrap();
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].body, "Buenas");
}

async fn messages_are_deduplicated_per_direction_and_listed_newest_last(t: TestDb) {
    migrated(&t).await;
    let now = secs(Utc::now());
    let id = inbound(&t, ANA, "wamid.x", "uno", now - Duration::minutes(3)).await;
    let mut tx = t.db.begin().await.unwrap();
    let again = conversations::insert_message(
        tx.conn(),
        &NewMessage {
            phone: ANA,
            direction: Direction::In,
            wamid: Some("wamid.x"),
            kind: "text",
            body: "uno",
            at: now,
        },
    )
    .await
    .unwrap();
    assert_eq!(again, None, "the same inbound wamid is stored once");
    let out = conversations::insert_message(
        tx.conn(),
        &NewMessage {
            phone: ANA,
            direction: Direction::Out,
            wamid: Some("wamid.x"),
            kind: "text",
            body: "respuesta",
            at: now - Duration::minutes(1),
        },
    )
    .await
    .unwrap();
    assert!(out.is_some(), "the direction is part of the key");
    tx.commit().await.unwrap();
    inbound(&t, ANA, "wamid.y", "dos", now).await;

    let all = conversations::messages(&t.db, ANA, 50).await.unwrap();
    let bodies: Vec<&str> = all.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["uno", "respuesta", "dos"]);
    assert_eq!(all[1].direction, "out");
    let latest = conversations::messages(&t.db, ANA, 2).await.unwrap();
    let bodies: Vec<&str> = latest.iter().map(|m| m.body.as_str()).collect();
    assert_eq!(bodies, ["respuesta", "dos"]);

    // An outcome is recorded once.
    let mut tx = t.db.begin().await.unwrap();
    assert!(
        conversations::set_message_outcome(tx.conn(), id, "cancelled")
            .await
            .unwrap()
    );
    assert!(
        !conversations::set_message_outcome(tx.conn(), id, "handed_off")
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();
    let m = conversations::message(&t.db, id).await.unwrap().unwrap();
    assert_eq!(m.outcome.as_deref(), Some("cancelled"));
    assert_eq!(m.phone, ANA);
}

async fn the_list_names_the_guest_and_shows_the_latest_message(t: TestDb) {
    migrated(&t).await;
    let mut tx = t.db.begin().await.unwrap();
    let acc = accommodations::insert(tx.conn(), &cabin("lago"), "", chrono::Utc::now())
        .await
        .unwrap();
    let stay = Stay::new(d("2031-01-10"), d("2031-01-12")).unwrap();
    let q = quote_for(&stay);
    reservations::insert_hold(
        tx.conn(),
        &reservations::NewHold {
            code: "AAAAA-BBBBB",
            access_token_hash: "h",
            accommodation_id: acc.accommodation.id,
            stay,
            guests: 2,
            guest_name: "Ana Pérez",
            guest_email: None,
            guest_phone: Some(ANA),
            channel: "api",
            quote: &q,
            expires_at: Utc::now() + Duration::minutes(30),
            notes: "",
            trace_id: None,
            actor: Actor::Guest,
        },
        chrono::Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let now = secs(Utc::now());
    inbound(
        &t,
        ANA,
        "wamid.a1",
        "¿Aceptan mascotas?",
        now - Duration::hours(2),
    )
    .await;
    hand_off(&t, ANA, "guest_message", now - Duration::hours(2)).await;
    inbound(&t, LUIS, "wamid.l1", "Hola", now - Duration::minutes(5)).await;

    let page = |awaiting, limit, offset| ConversationFilter {
        awaiting,
        limit,
        offset,
    };
    let (all, total) = conversations::list(&t.db, &page(None, 50, 0))
        .await
        .unwrap();
    assert_eq!(total, 2);
    // Waiting first.
    assert_eq!(all[0].conversation.phone, ANA);
    assert_eq!(all[0].guest_name.as_deref(), Some("Ana Pérez"));
    assert_eq!(all[0].reservation_code.as_deref(), Some("AAAAA-BBBBB"));
    assert_eq!(
        all[0].last_message_body.as_deref(),
        Some("¿Aceptan mascotas?")
    );
    assert_eq!(all[0].last_message_direction.as_deref(), Some("in"));
    assert_eq!(all[1].conversation.phone, LUIS);
    assert_eq!(all[1].guest_name, None);

    let (waiting, total) = conversations::list(&t.db, &page(Some(true), 50, 0))
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(waiting[0].conversation.phone, ANA);
    let (others, total) = conversations::list(&t.db, &page(Some(false), 50, 0))
        .await
        .unwrap();
    assert_eq!(total, 1);
    assert_eq!(others[0].conversation.phone, LUIS);
    let one = conversations::summary(&t.db, ANA).await.unwrap().unwrap();
    assert_eq!(one, all[0]);
    assert!(
        conversations::summary(&t.db, "5490000000000")
            .await
            .unwrap()
            .is_none()
    );
    let (second, total) = conversations::list(&t.db, &page(None, 1, 1)).await.unwrap();
    assert_eq!(total, 2);
    assert_eq!(second.len(), 1);
    assert_eq!(second[0].conversation.phone, LUIS);
}

both_backends!(
    hand_off_waits_since_the_oldest_unanswered_message,
    inbound_messages_extend_a_handed_off_state,
    states_expire_and_old_messages_are_purged,
    messages_are_deduplicated_per_direction_and_listed_newest_last,
    the_list_names_the_guest_and_shows_the_latest_message,
);

//! The WhatsApp guest assistant end to end: scripted conversations through the signed webhook,
//! answered by the assistant's jobs, delivered through the outbox to the fake WhatsApp, whose
//! received messages are compared exactly with what the guest must read. Prices come from the
//! application's own quote, so an answer that shows other numbers fails.

use chrono::{Datelike, NaiveDate};
use posada_domain::ReservationState;
use posada_jobs::JobState;
use posada_server::app::booking;
use posada_testkit::whatsapp::SentRequest;
use serde_json::{Value, json};

use crate::helpers::Backend;
use crate::on_both;
use crate::payments::{Fixture, GUEST_PHONE, WA_SECRET, approved_for};

const OTHER_PHONE: &str = "5493415550000";

/// One guest's side of a conversation: what they write and what they get back.
struct Guest<'f> {
    f: &'f Fixture,
    phone: &'static str,
    name: &'static str,
    next_wamid: usize,
    seen: usize,
}

impl<'f> Guest<'f> {
    fn new(f: &'f Fixture, phone: &'static str) -> Guest<'f> {
        Guest {
            f,
            phone,
            name: "Ana Pérez",
            next_wamid: 0,
            seen: 0,
        }
    }

    fn wamid(&mut self) -> String {
        self.next_wamid += 1;
        format!("wamid.{}.{}", self.phone, self.next_wamid)
    }

    /// Deliver `message` (WhatsApp's message object without `from`/`id`) as `wamid`, signed.
    async fn deliver(&self, wamid: &str, message: Value) -> Value {
        let mut message = message;
        message["timestamp"] = json!(chrono::Utc::now().timestamp().to_string());
        let payload =
            posada_testkit::webhook_message("1234567890", self.phone, self.name, wamid, message)
                .to_string();
        let res = self.f.whatsapp_webhook(&payload, WA_SECRET).await;
        assert_eq!(res.status(), 200);
        res.json().await.unwrap()
    }

    /// Send `message` and return what came back once every job ran.
    async fn send(&mut self, message: Value) -> Vec<String> {
        let wamid = self.wamid();
        self.deliver(&wamid, message).await;
        self.replies().await
    }

    async fn says(&mut self, text: &str) -> Vec<String> {
        self.send(json!({"type": "text", "text": {"body": text}}))
            .await
    }

    async fn taps(&mut self, id: &str, title: &str) -> Vec<String> {
        self.send(json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": id, "title": title}}}))
            .await
    }

    async fn picks(&mut self, id: &str, title: &str) -> Vec<String> {
        self.send(json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": id, "title": title}}}))
            .await
    }

    /// The messages the fake WhatsApp received for this guest since the last call.
    async fn replies(&mut self) -> Vec<String> {
        self.f.app.run_pending_jobs().await;
        let sent: Vec<SentRequest> = self
            .f
            .wa
            .sent()
            .into_iter()
            .filter(|m| m.to() == Some(self.phone))
            .collect();
        let new = sent[self.seen..].iter().map(render).collect();
        self.seen = sent.len();
        new
    }
}

/// A sent WhatsApp message as the guest sees it.
fn render(m: &SentRequest) -> String {
    let b = &m.body;
    let s = |v: &Value| v.as_str().unwrap_or("").to_string();
    match m.kind() {
        Some("text") => s(&b["text"]["body"]),
        Some("image") => format!(
            "[foto {}]\n{}",
            s(&b["image"]["link"]),
            s(&b["image"]["caption"])
        ),
        Some("interactive") => {
            let i = &b["interactive"];
            let (label, titles): (&str, Vec<String>) = if i["type"] == "list" {
                let rows = i["action"]["sections"][0]["rows"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                ("lista", rows.iter().map(|r| s(&r["title"])).collect())
            } else {
                let buttons = i["action"]["buttons"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
                (
                    "botones",
                    buttons.iter().map(|r| s(&r["reply"]["title"])).collect(),
                )
            };
            format!(
                "{}\n[{label}: {}]",
                s(&i["body"]["text"]),
                titles.join(" | ")
            )
        }
        Some("template") => format!("[plantilla {}]", s(&b["template"]["name"])),
        other => format!("[{other:?}]"),
    }
}

/// An accommodation with `capacity`, priced `nightly` pesos a night, with a photo or not.
async fn unit(f: &Fixture, slug: &str, name: &str, capacity: u32, nightly: i64, photo: bool) {
    let photos = if photo {
        json!([{"url": format!("https://img.example/{slug}.jpg"), "caption": "Frente", "position": 1, "primary": true}])
    } else {
        json!([])
    };
    let res = f
        .app
        .admin_post(
            "/api/v1/admin/accommodations",
            &json!({
                "name": name, "slug": slug, "kind": "cabin", "description": "A orillas del lago",
                "capacity": capacity, "amenities": ["wifi"], "photos": photos,
                "directions": "Ruta 40 km 12",
                "pricing": {"base_nightly": {"minor": nightly * 100, "currency": "ARS"}}
            }),
        )
        .await;
    assert_eq!(res.status(), 201);
}

fn today(f: &Fixture) -> NaiveDate {
    f.app.state.today()
}

fn day(f: &Fixture, ahead: i64) -> NaiveDate {
    today(f) + chrono::Duration::days(ahead)
}

/// How the guest writes a date: `15/12`.
fn dm(d: NaiveDate) -> String {
    d.format("%d/%m").to_string()
}

/// How the assistant writes a date: `15/12`, with the year when it is not this year's.
fn sd(f: &Fixture, d: NaiveDate) -> String {
    if d.year() == today(f).year() {
        d.format("%d/%m").to_string()
    } else {
        d.format("%d/%m/%Y").to_string()
    }
}

fn weekday(d: NaiveDate) -> &'static str {
    ["lun", "mar", "mié", "jue", "vie", "sáb", "dom"][d.weekday().num_days_from_monday() as usize]
}

/// The answer for a free stay, built from the application's quote.
async fn quote_text(
    f: &Fixture,
    slug: &str,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
) -> String {
    let (acc, quote, free) = booking::quote(&f.app.state, slug, check_in, check_out, guests)
        .await
        .unwrap();
    assert!(free);
    let n = quote.nights.len();
    let mut text = format!(
        "¡Sí! {} está libre del {} al {} ({n} {}, {guests} {}).\n",
        acc.accommodation.name,
        sd(f, check_in),
        sd(f, check_out),
        if n == 1 { "noche" } else { "noches" },
        if guests == 1 { "persona" } else { "personas" },
    );
    for night in &quote.nights {
        text.push_str(&format!(
            "• {} {}: {}\n",
            weekday(night.date),
            sd(f, night.date),
            night.price.format_es_ar()
        ));
    }
    text.push_str(&format!(
        "Total: {}\nSeña para reservar: {}\n¿Te la reservo?",
        quote.total.format_es_ar(),
        quote.deposit.format_es_ar()
    ));
    match acc.accommodation.primary_photo() {
        Some(p) => format!("[foto {}]\n{text}", p.url),
        None => text,
    }
}

async fn total(
    f: &Fixture,
    slug: &str,
    check_in: NaiveDate,
    check_out: NaiveDate,
    guests: u32,
) -> String {
    let (_, quote, _) = booking::quote(&f.app.state, slug, check_in, check_out, guests)
        .await
        .unwrap();
    quote.total.format_es_ar()
}

async fn conversation(f: &Fixture, phone: &str) -> Value {
    f.app
        .admin_get(&format!("/api/v1/admin/conversations/{phone}"))
        .await
        .json()
        .await
        .unwrap()
}

async fn latest_reservation(f: &Fixture, phone: &str) -> posada_store::reservations::Reservation {
    posada_store::reservations::of_guest_phone(f.app.state.db(), phone, today(f))
        .await
        .unwrap()
        .pop()
        .expect("a reservation for the phone")
}

const HANDOFF: &str = "Te paso con una persona del equipo. En cuanto pueda te responde por acá 🙌";
const NOT_UNDERSTOOD: &str =
    "Perdón, no te entendí 😅\n¿Me decís para qué fechas y cuántas personas son?";

on_both!(
    greeting_availability_booking_payment_link_and_payment_approved,
    taken_dates_offer_alternatives_and_one_is_accepted,
    several_short_messages_build_one_request,
    a_correction_overrides_earlier_facts,
    a_stay_over_new_year_is_quoted_with_its_years,
    two_units_fit_the_guest_picks_one_from_buttons,
    many_units_fit_the_guest_picks_one_from_a_list,
    a_unit_without_photos_gets_the_text_only,
    status_by_code_and_by_mi_reserva,
    someone_elses_code_gets_nothing_about_it,
    a_hold_is_cancelled_by_code,
    asking_for_a_person_hands_off_and_the_owner_replies,
    two_messages_not_understood_hand_off,
    the_owner_switches_the_assistant_off_for_one_conversation,
    the_assistant_switched_off_globally_hands_every_message_off,
    audio_images_and_locations_get_asked_for_text,
    a_repeated_delivery_gets_one_answer,
    status_updates_out_of_order_never_trigger_answers,
    payment_pending_and_rejected_are_answered_in_the_chat,
    the_booking_name_can_be_changed,
    too_many_messages_a_minute_are_not_answered,
    long_and_odd_messages_are_answered_safely,
    messages_arriving_together_are_answered_in_order,
    a_message_queued_behind_a_hand_off_stays_with_the_person,
    half_an_hour_of_silence_forgets_the_request,
    saying_no_to_the_profile_name_asks_for_the_name,
    cancelling_mi_reserva_cancels_a_hold_and_hands_a_confirmed_stay_to_a_person,
    questions_only_the_owner_can_answer_go_to_a_person,
    voice_notes_are_transcribed_by_the_configured_command,
    a_transcription_that_fails_or_hangs_asks_for_text,
);

async fn greeting_availability_booking_payment_link_and_payment_approved(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    assert_eq!(
        g.says("hola").await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
    let (a, b) = (day(&f, 20), day(&f, 23));
    let asked = format!("tienen libre del {} al {} para 2?", dm(a), dm(b));
    assert_eq!(
        g.says(&asked).await,
        [quote_text(&f, "lago", a, b, 2).await]
    );
    assert_eq!(
        g.says("dale, la tomo").await,
        ["¡Genial! ¿Hago la reserva a nombre de Ana Pérez?\nSi es otro nombre, escribímelo."]
    );
    let answers = g.says("sí").await;
    let r = latest_reservation(&f, GUEST_PHONE).await;
    assert_eq!(r.state, ReservationState::PreReserved);
    assert_eq!(r.guest_name, "Ana Pérez");
    assert_eq!(r.channel, "whatsapp");
    assert_eq!((r.stay.check_in(), r.stay.check_out(), r.guests), (a, b, 2));
    let link = r.payment_link.clone().expect("the payment link");
    let expires = r
        .expires_at
        .unwrap()
        .with_timezone(&f.app.state.settings().tz())
        .format("%d/%m/%Y %H:%M h (UTC%:z)")
        .to_string();
    assert_eq!(answers.len(), 2, "{answers:#?}");
    assert!(
        answers[0].starts_with("[foto https://img.example/lago.jpg]\n¡Hola, Ana Pérez!"),
        "{}",
        answers[0]
    );
    assert!(
        answers[0].contains(&format!("Código de reserva: {}", r.code)),
        "{}",
        answers[0]
    );
    assert!(
        answers[0].contains(&format!("La prerreserva vence el {expires}")),
        "{}",
        answers[0]
    );
    assert!(answers[1].contains(&link), "{}", answers[1]);
    assert!(
        answers[1].contains(&format!("El link vale hasta el {expires}.")),
        "{}",
        answers[1]
    );

    f.mp.set_payment("pay-1", &approved_for(&r));
    assert_eq!(f.notify_payment("pay-1").await.status().as_u16() / 100, 2);
    let answers = g.replies().await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(
        answers[0].contains(&format!(
            "Recibimos tu pago y tu reserva {} está confirmada.",
            r.code
        )),
        "{}",
        answers[0]
    );
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Confirmed);
}

async fn taken_dates_offer_alternatives_and_one_is_accepted(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    // Someone else holds nights 10..13.
    let taken = f.hold("lago", 10, 3).await;
    let mut g = Guest::new(&f, OTHER_PHONE);
    let (a, b) = (day(&f, 10), day(&f, 13));
    let answer = g
        .says(&format!(
            "hola! hay lugar del {} al {} para 2?",
            dm(a),
            dm(b)
        ))
        .await;
    let alternatives = booking::alternatives(
        &f.app.state,
        &booking::active_accommodation(&f.app.state, "lago")
            .await
            .unwrap(),
        &taken.stay,
        2,
    )
    .await
    .unwrap();
    let stays: Vec<_> = alternatives.same_accommodation.iter().take(2).collect();
    assert_eq!(stays.len(), 2);
    let label = |s: &booking::StayOut| format!("{} al {}", sd(&f, s.check_in), sd(&f, s.check_out));
    assert_eq!(
        answer,
        [format!(
            "Uy, Cabaña del Lago ya está ocupada del {} al {} 😕\nTe puedo ofrecer:\n• Cabaña del Lago del {}\n• Cabaña del Lago del {}\n¿Te sirve alguna?\n[botones: {} | {}]",
            sd(&f, a),
            sd(&f, b),
            label(stays[0]),
            label(stays[1]),
            label(stays[0]),
            label(stays[1]),
        )]
    );
    let id = format!("stay:lago:{}:{}", stays[0].check_in, stays[0].check_out);
    assert_eq!(
        g.taps(&id, &label(stays[0])).await,
        [quote_text(&f, "lago", stays[0].check_in, stays[0].check_out, 2).await]
    );
}

async fn several_short_messages_build_one_request(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    let a = day(&f, 30);
    assert_eq!(
        g.says("buenas").await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
    assert_eq!(
        g.says(&format!("llegariamos el {}", dm(a))).await,
        [format!(
            "Llegás el {}. ¿Hasta qué día te quedás?",
            sd(&f, a)
        )]
    );
    assert_eq!(g.says("3 noches").await, ["¿Cuántas personas son?"]);
    let b = a + chrono::Duration::days(3);
    assert_eq!(
        g.says("somos 3").await,
        [quote_text(&f, "lago", a, b, 3).await]
    );
}

async fn a_correction_overrides_earlier_facts(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    let (a, b) = (day(&f, 15), day(&f, 18));
    g.says(&format!("del {} al {} para 2", dm(a), dm(b))).await;
    assert_eq!(
        g.says("perdón, somos 4").await,
        [quote_text(&f, "lago", a, b, 4).await]
    );
    let (c, d) = (day(&f, 40), day(&f, 42));
    assert_eq!(
        g.says(&format!("mejor del {} al {}", dm(c), dm(d))).await,
        [quote_text(&f, "lago", c, d, 4).await]
    );
}

async fn a_stay_over_new_year_is_quoted_with_its_years(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let t = today(&f);
    let mut a = NaiveDate::from_ymd_opt(t.year(), 12, 28).unwrap();
    if a < t {
        a = NaiveDate::from_ymd_opt(t.year() + 1, 12, 28).unwrap();
    }
    let b = NaiveDate::from_ymd_opt(a.year() + 1, 1, 2).unwrap();
    let mut g = Guest::new(&f, GUEST_PHONE);
    let answer = g
        .says("hola, tienen lugar del 28 de diciembre al 2 de enero para 2?")
        .await;
    assert_eq!(answer, [quote_text(&f, "lago", a, b, 2).await]);
    assert!(
        answer[0].contains(&format!("al 02/01/{}", a.year() + 1)),
        "{}",
        answer[0]
    );
}

async fn two_units_fit_the_guest_picks_one_from_buttons(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    unit(&f, "bosque", "Cabaña del Bosque", 6, 70_000, true).await;
    let (a, b) = (day(&f, 12), day(&f, 14));
    let mut g = Guest::new(&f, GUEST_PHONE);
    let answer = g
        .says(&format!("hola, del {} al {} para 4", dm(a), dm(b)))
        .await;
    let lago = total(&f, "lago", a, b, 4).await;
    let bosque = total(&f, "bosque", a, b, 4).await;
    // The catalogue's order (by name).
    assert_eq!(
        answer,
        [format!(
            "¡Hay lugar! Del {} al {} (2 noches, 4 personas) tenemos libres:\n• Cabaña del Bosque: {bosque}\n• Cabaña del Lago: {lago}\n¿Cuál te gusta más?\n[botones: Cabaña del Bosque | Cabaña del Lago]",
            sd(&f, a),
            sd(&f, b)
        )]
    );
    assert_eq!(
        g.taps("unit:bosque", "Cabaña del Bosque").await,
        [quote_text(&f, "bosque", a, b, 4).await]
    );
}

async fn many_units_fit_the_guest_picks_one_from_a_list(backend: Backend) {
    let f = Fixture::start(backend).await;
    for (slug, name) in [
        ("a", "Cabaña Aromo"),
        ("b", "Cabaña Boldo"),
        ("c", "Cabaña Coihue"),
        ("d", "Cabaña Ciprés"),
    ] {
        unit(&f, slug, name, 4, 40_000, true).await;
    }
    let (a, b) = (day(&f, 12), day(&f, 13));
    let mut g = Guest::new(&f, GUEST_PHONE);
    let answer = g.says(&format!("del {} al {} para 2", dm(a), dm(b))).await;
    assert_eq!(answer.len(), 1);
    assert!(
        answer[0].ends_with("[lista: Cabaña Aromo | Cabaña Boldo | Cabaña Ciprés | Cabaña Coihue]"),
        "{}",
        answer[0]
    );
    assert_eq!(
        g.picks("unit:c", "Cabaña Coihue").await,
        [quote_text(&f, "c", a, b, 2).await]
    );
    // Naming one by text works too.
    let answer = g
        .says(&format!("y la aromo del {} al {}?", dm(a), dm(b)))
        .await;
    assert_eq!(answer, [quote_text(&f, "a", a, b, 2).await]);
}

async fn a_unit_without_photos_gets_the_text_only(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "sinfoto", "Cabaña Sauce", 2, 30_000, false).await;
    let (a, b) = (day(&f, 9), day(&f, 11));
    let mut g = Guest::new(&f, GUEST_PHONE);
    let answer = g.says(&format!("del {} al {} para 2", dm(a), dm(b))).await;
    assert_eq!(answer, [quote_text(&f, "sinfoto", a, b, 2).await]);
    assert!(answer[0].starts_with("¡Sí! Cabaña Sauce"));
}

fn status_text(f: &Fixture, r: &posada_store::reservations::Reservation, unit: &str) -> String {
    let mut text = format!(
        "Tu reserva {} en {unit}:\nDel {} al {} ({} noches, 2 personas).\nEstado: prerreservada.",
        r.code,
        sd(f, r.stay.check_in()),
        sd(f, r.stay.check_out()),
        r.stay.nights()
    );
    if let Some(link) = &r.payment_link {
        text.push_str(&format!(
            "\nSeña: {}. Pagala acá: {link}",
            r.deposit.format_es_ar()
        ));
    }
    let expires = r
        .expires_at
        .unwrap()
        .with_timezone(&f.app.state.settings().tz())
        .format("%d/%m a las %H:%M");
    text.push_str(&format!("\nVence el {expires}."));
    text
}

async fn status_by_code_and_by_mi_reserva(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let r = f.hold("lago", 10, 3).await;
    f.app.run_pending_jobs().await;
    let r = f.reservation(r.id).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.replies().await; // the hold's own messages
    let expected = status_text(&f, &r, "Cabaña del Lago");
    assert_eq!(
        g.says(&format!(
            "hola, cómo va mi reserva {}?",
            r.code.to_lowercase()
        ))
        .await,
        std::slice::from_ref(&expected)
    );
    assert_eq!(g.says("y mi reserva?").await, [expected]);
}

async fn someone_elses_code_gets_nothing_about_it(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let r = f.hold("lago", 10, 3).await;
    let mut other = Guest::new(&f, OTHER_PHONE);
    let not_found = "No encuentro una reserva con ese código para este número 🤔\nSi la hiciste desde otro teléfono, escribinos desde ese número.";
    assert_eq!(
        other
            .says(&format!("estado de la reserva {}", r.code))
            .await,
        [not_found]
    );
    assert_eq!(
        other.says(&format!("quiero cancelar {}", r.code)).await,
        [not_found]
    );
    assert_eq!(
        other.says("mi reserva").await,
        ["No encuentro reservas activas para este número 🤔\n¿Me pasás el código de reserva?"]
    );
    assert_eq!(
        f.reservation(r.id).await.state,
        ReservationState::PreReserved
    );
}

async fn a_hold_is_cancelled_by_code(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let r = f.hold("lago", 10, 3).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.replies().await;
    let answer = g
        .says(&format!("quiero cancelar la reserva {}", r.code))
        .await;
    assert_eq!(answer.len(), 1, "{answer:#?}");
    assert!(
        answer[0].starts_with(&format!(
            "¡Hola, Ana Pérez! Tu reserva {} en Cabaña del Lago",
            r.code
        )),
        "{}",
        answer[0]
    );
    assert!(answer[0].contains("quedó cancelada"), "{}", answer[0]);
    assert_eq!(f.reservation(r.id).await.state, ReservationState::Cancelled);
}

async fn asking_for_a_person_hands_off_and_the_owner_replies(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    assert_eq!(g.says("quiero hablar con una persona").await, [HANDOFF]);
    // Quiet while a person has it; the conversation waits.
    assert!(g.says("hola? alguien?").await.is_empty());
    let c = conversation(&f, GUEST_PHONE).await;
    assert_eq!(c["handoff_reason"], "asked_for_person");
    assert!(!c["awaiting_since"].is_null());
    let res = f
        .app
        .admin_post(
            &format!("/api/v1/admin/conversations/{GUEST_PHONE}/reply"),
            &json!({"text": "Hola Ana, soy Marta. ¿En qué te ayudo?"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        g.replies().await,
        ["Hola Ana, soy Marta. ¿En qué te ayudo?"]
    );
    // Resolved: the assistant answers again.
    let res = f
        .app
        .admin_post(
            &format!("/api/v1/admin/conversations/{GUEST_PHONE}/resolve"),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        g.says("hola").await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
}

async fn two_messages_not_understood_hand_off(backend: Backend) {
    let f = Fixture::start(backend).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    assert_eq!(g.says("cuánto está el dólar?").await, [NOT_UNDERSTOOD]);
    assert_eq!(
        g.says("asdfgh").await,
        ["Perdón, no te estoy entendiendo 😅\nTe paso con una persona del equipo."]
    );
    let c = conversation(&f, GUEST_PHONE).await;
    assert_eq!(c["handoff_reason"], "not_understood");
    assert!(g.says("hola").await.is_empty());
}

async fn the_owner_switches_the_assistant_off_for_one_conversation(backend: Backend) {
    let f = Fixture::start(backend).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    assert_eq!(
        g.says("hola").await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
    let path = format!("/api/v1/admin/conversations/{GUEST_PHONE}/assistant");
    let res = f.app.admin_put(&path, &json!({"enabled": false})).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body,
        json!({"phone": GUEST_PHONE, "enabled": false, "active": false})
    );
    assert!(g.says("del 10/12 al 12/12 para 2").await.is_empty());
    let c = conversation(&f, GUEST_PHONE).await;
    assert_eq!(c["handoff_reason"], "guest_message");
    // Another guest still gets the assistant.
    let mut other = Guest::new(&f, OTHER_PHONE);
    assert_eq!(
        other.says("hola").await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
    let res = f.app.admin_put(&path, &json!({"enabled": "sí"})).await;
    assert_eq!(res.status(), 422);
}

async fn the_assistant_switched_off_globally_hands_every_message_off(backend: Backend) {
    let f = Fixture::start_with(backend, |s| s.assistant_enabled = false).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    assert!(g.says("hola, tienen lugar?").await.is_empty());
    let c = conversation(&f, GUEST_PHONE).await;
    assert_eq!(c["handoff_reason"], "guest_message");
    // Never queued for the assistant: no outcome of its own.
    assert_eq!(c["messages"][0]["outcome"], Value::Null, "{c}");
}

async fn audio_images_and_locations_get_asked_for_text(backend: Backend) {
    let f = Fixture::start(backend).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    let ask = "Por ahora solo puedo leer mensajes de texto 🙈\n¿Me lo escribís?";
    assert_eq!(
        g.send(
            json!({"type": "audio", "audio": {"id": "m1", "mime_type": "audio/ogg", "voice": true}})
        )
        .await,
        [ask]
    );
    assert_eq!(
        g.send(json!({"type": "image", "image": {"id": "m2", "mime_type": "image/jpeg"}}))
            .await,
        [ask]
    );
    assert_eq!(
        g.send(json!({"type": "sticker", "sticker": {"id": "m3", "mime_type": "image/webp"}}))
            .await,
        [ask]
    );
    assert_eq!(
        g.send(json!({"type": "location", "location": {"latitude": -41.1, "longitude": -71.3}}))
            .await,
        [ask]
    );
}

async fn a_repeated_delivery_gets_one_answer(backend: Backend) {
    let f = Fixture::start(backend).await;
    let g = Guest::new(&f, GUEST_PHONE);
    let message = json!({"type": "text", "text": {"body": "hola"}});
    let first = g.deliver("wamid.same", message.clone()).await;
    let second = g.deliver("wamid.same", message).await;
    assert_eq!(
        (&first["received"], &second["received"]),
        (&json!(true), &json!(true))
    );
    let inbound = conversation(&f, GUEST_PHONE).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "in")
        .count();
    assert_eq!(inbound, 1, "the repeated delivery is stored once");
    let mut g = g;
    assert_eq!(
        g.replies().await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
}

async fn status_updates_out_of_order_never_trigger_answers(backend: Backend) {
    let f = Fixture::start(backend).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.says("hola").await;
    let wamid = f.wa.sent().last().unwrap().wamid.clone();
    for status in ["read", "delivered", "sent"] {
        let payload =
            posada_testkit::webhook_status("1234567890", &wamid, status, GUEST_PHONE).to_string();
        assert_eq!(f.whatsapp_webhook(&payload, WA_SECRET).await.status(), 200);
    }
    assert!(g.replies().await.is_empty());
    let n = posada_store::notifications::by_provider_message_id(f.app.state.db(), &wamid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (n.template.as_str(), n.status.as_str()),
        ("assistant_reply", "read")
    );
}

async fn payment_pending_and_rejected_are_answered_in_the_chat(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let r = f.hold("lago", 10, 3).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.says("hola").await;
    f.mp.set_payment("pay-p", &approved_for(&r).with_status("pending"));
    f.notify_payment("pay-p").await;
    let answers = g.replies().await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(
        answers[0].starts_with(&format!(
            "¡Hola, Ana Pérez! Tu pago de la seña de la reserva {} quedó pendiente en Mercado Pago.",
            r.code
        )),
        "{}",
        answers[0]
    );
    f.mp.set_payment("pay-r", &approved_for(&r).with_status("rejected"));
    f.notify_payment("pay-r").await;
    let answers = g.replies().await;
    assert_eq!(answers.len(), 1, "{answers:#?}");
    assert!(
        answers[0].contains("no se pudo acreditar"),
        "{}",
        answers[0]
    );
}

async fn the_booking_name_can_be_changed(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let (a, b) = (day(&f, 20), day(&f, 22));
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.says(&format!(
        "quiero reservar del {} al {} para 2",
        dm(a),
        dm(b)
    ))
    .await;
    g.says("si").await;
    let answers = g.says("a nombre de Martín Gómez").await;
    let r = latest_reservation(&f, GUEST_PHONE).await;
    assert_eq!(r.guest_name, "Martín Gómez");
    assert!(
        answers[0].contains("¡Hola, Martín Gómez!"),
        "{}",
        answers[0]
    );
}

async fn too_many_messages_a_minute_are_not_answered(backend: Backend) {
    let f = Fixture::start_with(backend, |s| s.assistant_max_messages_per_minute = 2).await;
    let g = Guest::new(&f, GUEST_PHONE);
    for i in 0..4 {
        g.deliver(
            &format!("wamid.flood.{i}"),
            json!({"type": "text", "text": {"body": "hola"}}),
        )
        .await;
    }
    let mut g = g;
    assert_eq!(
        g.replies().await,
        [
            "¡Hola, Ana! 👋 ¿Para qué fechas querés venir?",
            "¿Para qué fechas querés venir?"
        ]
    );
}

async fn long_and_odd_messages_are_answered_safely(backend: Backend) {
    let f = Fixture::start(backend).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    let odd = "🏡\u{200d}🌲 ñ\u{0301}".repeat(1500);
    assert_eq!(g.says(&odd).await, [NOT_UNDERSTOOD]);
}

/// What the assistant said to `phone`, oldest first, as the owner reads it.
async fn assistant_said(f: &Fixture, phone: &str) -> Vec<String> {
    conversation(f, phone).await["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["kind"] == "assistant")
        .map(|m| m["body"].as_str().unwrap().to_string())
        .collect()
}

async fn messages_arriving_together_are_answered_in_order(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "sinfoto", "Cabaña Sauce", 4, 30_000, false).await;
    let (a, b) = (day(&f, 9), day(&f, 11));
    let g = Guest::new(&f, GUEST_PHONE);
    // Three deliveries before any job runs.
    let burst = [
        "hola".to_string(),
        format!("del {} al {}", dm(a), dm(b)),
        "somos 2".to_string(),
    ];
    for (i, text) in burst.iter().enumerate() {
        g.deliver(
            &format!("wamid.burst.{i}"),
            json!({"type": "text", "text": {"body": text}}),
        )
        .await;
    }
    let mut g = g;
    let mut received = g.replies().await;
    let quote = quote_text(&f, "sinfoto", a, b, 2).await;
    let expected = vec![
        "¡Hola, Ana! 👋 ¿Para qué fechas querés venir?".to_string(),
        "¿Cuántas personas son?".to_string(),
        quote,
    ];
    // Answered (and written to the outbox) in the guest's order, once each; the deliveries
    // themselves may overtake each other.
    assert_eq!(assistant_said(&f, GUEST_PHONE).await, expected);
    received.sort();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(received, sorted);
}

async fn a_message_queued_behind_a_hand_off_stays_with_the_person(backend: Backend) {
    let f = Fixture::start(backend).await;
    let g = Guest::new(&f, GUEST_PHONE);
    // Both in one delivery: the second is queued for the assistant before the first is answered.
    let now = json!(chrono::Utc::now().timestamp().to_string());
    let mut payload = posada_testkit::webhook_message(
        "1234567890",
        GUEST_PHONE,
        "Ana",
        "wamid.h.1",
        json!({"type": "text", "text": {"body": "necesito hablar con una persona"}, "timestamp": now}),
    );
    payload["entry"][0]["changes"][0]["value"]["messages"]
        .as_array_mut()
        .unwrap()
        .push(
            json!({"from": GUEST_PHONE, "id": "wamid.h.2", "timestamp": now,
                     "type": "text", "text": {"body": "hola?"}}),
        );
    let res = f.whatsapp_webhook(&payload.to_string(), WA_SECRET).await;
    assert_eq!(res.status(), 200);
    let mut g = g;
    assert_eq!(g.replies().await, [HANDOFF]);
    let c = conversation(&f, GUEST_PHONE).await;
    assert_eq!(c["handoff_reason"], "asked_for_person");
    let outcomes: Vec<Value> = c["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["direction"] == "in")
        .map(|m| m["outcome"].clone())
        .collect();
    assert_eq!(outcomes, [json!("handed_off"), json!("handed_off")]);
}

async fn half_an_hour_of_silence_forgets_the_request(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "sinfoto", "Cabaña Sauce", 4, 30_000, false).await;
    let (a, b) = (day(&f, 9), day(&f, 11));
    let mut g = Guest::new(&f, GUEST_PHONE);
    // Written 40 minutes ago (WhatsApp's timestamp is when the guest sent it).
    let old = (chrono::Utc::now() - chrono::Duration::minutes(40)).timestamp();
    let payload = posada_testkit::webhook_message(
        "1234567890",
        GUEST_PHONE,
        "Ana Pérez",
        "wamid.old",
        json!({"type": "text", "text": {"body": format!("del {} al {}", dm(a), dm(b))}, "timestamp": old.to_string()}),
    )
    .to_string();
    assert_eq!(f.whatsapp_webhook(&payload, WA_SECRET).await.status(), 200);
    assert_eq!(g.replies().await, ["¡Hola, Ana! 👋 ¿Cuántas personas son?"]);
    // The dates were forgotten: a new conversation that knows only the guests.
    assert_eq!(
        g.says("somos 2").await,
        ["¡Hola, Ana! 👋 ¿Para qué fechas querés venir?"]
    );
}

async fn saying_no_to_the_profile_name_asks_for_the_name(backend: Backend) {
    let f = Fixture::start(backend).await;
    unit(&f, "sinfoto", "Cabaña Sauce", 4, 30_000, false).await;
    let (a, b) = (day(&f, 9), day(&f, 11));
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.says(&format!("del {} al {} para 2", dm(a), dm(b))).await;
    g.says("la reservo").await;
    assert_eq!(
        g.says("no").await,
        ["¿A nombre de quién hago la reserva? Escribime nombre y apellido."]
    );
    // The hold's details, then its payment link.
    let answers = g.says("Lucía Fernández").await;
    assert_eq!(answers.len(), 2, "{answers:#?}");
    assert!(
        answers[0].starts_with("¡Hola, Lucía Fernández!"),
        "{}",
        answers[0]
    );
}

async fn cancelling_mi_reserva_cancels_a_hold_and_hands_a_confirmed_stay_to_a_person(
    backend: Backend,
) {
    let f = Fixture::start(backend).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let hold = f.hold("lago", 10, 3).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    g.replies().await;
    let answer = g.says("quiero cancelar mi reserva").await;
    assert_eq!(answer.len(), 1, "{answer:#?}");
    assert!(
        answer[0].contains(&format!("Tu reserva {} en Cabaña del Lago", hold.code)),
        "{}",
        answer[0]
    );
    assert_eq!(
        f.reservation(hold.id).await.state,
        ReservationState::Cancelled
    );

    let stay = f.hold("lago", 20, 2).await;
    f.app.run_pending_jobs().await;
    let stay = f.reservation(stay.id).await;
    f.mp.set_payment("pay-c", &approved_for(&stay));
    f.notify_payment("pay-c").await;
    f.wait_state(stay.id, ReservationState::Confirmed).await;
    g.replies().await;
    assert_eq!(
        g.says("quiero cancelar mi reserva").await,
        [format!(
            "Para cancelar la reserva {} ya confirmada te paso con una persona del equipo 🙌",
            stay.code
        )]
    );
    assert_eq!(
        f.reservation(stay.id).await.state,
        ReservationState::Confirmed
    );
    assert_eq!(
        conversation(&f, GUEST_PHONE).await["handoff_reason"],
        "owner_question"
    );
}

async fn questions_only_the_owner_can_answer_go_to_a_person(backend: Backend) {
    let f = Fixture::start(backend).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    assert_eq!(
        g.says("aceptan mascotas?").await,
        ["Esa consulta te la responde una persona del equipo: ya le aviso 🙌"]
    );
    assert_eq!(
        conversation(&f, GUEST_PHONE).await["handoff_reason"],
        "owner_question"
    );
}

/// A voice note of `media_id` (the fake WhatsApp serves its bytes).
fn voice(media_id: &str) -> Value {
    json!({"type": "audio", "audio": {"id": media_id, "mime_type": "audio/ogg; codecs=opus", "voice": true}})
}

async fn voice_notes_are_transcribed_by_the_configured_command(backend: Backend) {
    // `cat` prints the "audio" it is given: the fake's bytes are the words the guest said.
    let f = Fixture::start_with(backend, |s| s.posada_stt_command = Some("cat".into())).await;
    unit(&f, "lago", "Cabaña del Lago", 4, 50_000, true).await;
    let (a, b) = (day(&f, 20), day(&f, 23));
    let said = format!("hola tienen libre del {} al {} para 2", dm(a), dm(b));
    f.wa.put_media("media.voice.1", "audio/ogg", said.as_bytes());
    let mut g = Guest::new(&f, GUEST_PHONE);
    let heard = g.send(voice("media.voice.1")).await;
    // The same answer a guest who wrote it gets.
    let mut writer = Guest::new(&f, OTHER_PHONE);
    assert_eq!(heard, writer.says(&said).await);
    assert_eq!(heard, [quote_text(&f, "lago", a, b, 2).await]);
    // The owner reads what was said; the audio was fetched with the token.
    let c = conversation(&f, GUEST_PHONE).await;
    let note = &c["messages"][0];
    assert_eq!(
        (&note["kind"], &note["body"]),
        (&json!("voice"), &json!(said))
    );
    let fetched: Vec<String> = f.wa.requests().iter().map(|r| r.path.clone()).collect();
    assert!(
        fetched.iter().any(|p| p.ends_with("/media.voice.1"))
            && fetched.contains(&"/media-download/media.voice.1".to_string()),
        "{fetched:?}"
    );
    let jobs = f.app.jobs_of_kind("whatsapp.transcribe").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Completed);
}

async fn a_transcription_that_fails_or_hangs_asks_for_text(backend: Backend) {
    let ask = "Por ahora solo puedo leer mensajes de texto 🙈\n¿Me lo escribís?";
    // The command fails, is silent, or runs past its time; or the media cannot be downloaded.
    for command in ["false", "true", "sleep 30; echo"] {
        let f = Fixture::start_with(backend, |s| {
            s.posada_stt_command = Some(command.into());
            s.posada_stt_timeout_seconds = 1;
        })
        .await;
        f.wa.put_media("media.voice.2", "audio/ogg", b"del 3 al 5 de mayo");
        let mut g = Guest::new(&f, GUEST_PHONE);
        assert_eq!(g.send(voice("media.voice.2")).await, [ask], "{command}");
        let c = conversation(&f, GUEST_PHONE).await;
        assert_eq!(c["messages"][0]["body"], "", "{command}");
    }
    let f = Fixture::start_with(backend, |s| s.posada_stt_command = Some("cat".into())).await;
    let mut g = Guest::new(&f, GUEST_PHONE);
    // No such media at WhatsApp (a permanent Graph error): asked for text, no retries.
    assert_eq!(g.send(voice("media.gone")).await, [ask]);
    assert_eq!(
        f.app.jobs_of_kind("whatsapp.transcribe").await[0].attempt,
        1
    );
}

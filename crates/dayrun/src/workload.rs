//! The day's traffic: guests, payments, channel feeds and WhatsApp messages.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Datelike, Days, NaiveDate};
use posada_testkit::{FakePayment, sign, sign_webhook, webhook_message, webhook_status};
use rand::Rng;
use rand::seq::IndexedRandom;
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::World;
use crate::proxy::lock;
use crate::traffic::Traffic;
use crate::{MP_SECRET, WA_PHONE_ID, WA_SECRET};

/// Accommodations and feeds made for the day.
#[derive(Debug, Clone)]
pub struct Setup {
    /// (id, slug) of each accommodation.
    pub units: Vec<(i64, String)>,
    /// (feed id, path on the fake channel).
    pub feeds: Vec<(i64, String)>,
}

/// What the clients did (what they were told, not what the database says).
#[derive(Debug, Default, Clone)]
pub struct Counts {
    /// Quotes asked.
    pub quotes: u64,
    /// Holds asked.
    pub hold_attempts: u64,
    /// Holds answered 201.
    pub holds: u64,
    /// Holds answered 409 (the nights were taken).
    pub hold_conflicts: u64,
    /// Holds on the few racing weekends (asked).
    pub racing_attempts: u64,
    /// Holds paid: (payment id of the approved payment, reservation code).
    pub paid: Vec<(String, String)>,
    /// Holds whose guest paid out of order (a rejected attempt notified after the approved one).
    pub out_of_order: u64,
    /// Holds the guest cancelled (cancel answered 200).
    pub cancelled: Vec<String>,
    /// Holds left to expire.
    pub abandoned: u64,
    /// Mercado Pago notifications sent (duplicates and late ones included).
    pub mp_notifications: u64,
    /// Of them, repeats of an earlier notification.
    pub mp_duplicates: u64,
    /// Of them, sent 10–30 s after the payment.
    pub mp_late: u64,
    /// Inbound WhatsApp messages (unique wamids acknowledged 200).
    pub wa_messages: Vec<String>,
    /// Re-deliveries of an inbound message.
    pub wa_duplicates: u64,
    /// Webhook deliveries tried again because they got no 2xx answer.
    pub provider_retries: u64,
    /// Status deliveries (delivered/read) of our messages.
    pub wa_statuses: u64,
    /// Times a channel feed changed.
    pub feed_changes: u64,
    /// "Sync now" asked.
    pub sync_now: u64,
}

const PHONES: [&str; 8] = [
    "5491144440001",
    "5491144440002",
    "5491144440003",
    "5491144440004",
    "5492944440005",
    "5492944440006",
    "5493514440007",
    "5493514440008",
];

const QUESTIONS: [&str; 6] = [
    "hola! tienen lugar para el finde largo?",
    "cuánto sale la noche para 2?",
    "se puede llevar perro?",
    "a qué hora es el check in?",
    "quiero reservar del 10 al 12 para 4 personas",
    "gracias!",
];

/// Three cabins and an Airbnb feed for each.
pub(crate) async fn setup(world: &World) -> anyhow::Result<Setup> {
    let client = world.traffic.client();
    let base = world.traffic_base();
    let mut units = Vec::new();
    let mut feeds = Vec::new();
    for (slug, price) in [
        ("bosque", 4_500_000),
        ("lago", 6_000_000),
        ("cerro", 3_800_000),
    ] {
        let res = client
            .post(format!("{base}/api/v1/admin/accommodations"))
            .bearer_auth(&world.token)
            .json(&json!({
                "name": format!("Cabaña {slug}"),
                "slug": slug,
                "kind": "cabin",
                "description": "Frente al lago",
                "capacity": 4,
                "amenities": ["wifi", "parrilla"],
                "directions": "Ruta 40 km 12",
                "pricing": {"base_nightly": {"minor": price, "currency": "ARS"}}
            }))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        anyhow::ensure!(status == 201, "creating {slug} answered {status}: {body}");
        let id = body["id"].as_i64().unwrap_or_default();
        units.push((id, slug.to_owned()));
        let path = format!("/airbnb/{slug}.ics");
        world.channel.set_feed(&path, feed_body(slug, 0));
        let res = client
            .post(format!("{base}/api/v1/admin/feeds"))
            .bearer_auth(&world.token)
            .json(&json!({"accommodation_id": id, "channel": "airbnb", "url": world.channel.url(&path)}))
            .send()
            .await?;
        let status = res.status();
        let body: Value = res.json().await?;
        anyhow::ensure!(status == 201, "creating a feed answered {status}: {body}");
        feeds.push((body["id"].as_i64().unwrap_or_default(), path));
    }
    Ok(Setup { units, feeds })
}

/// An iCal feed of version `n`: a few reservations 320–400 days ahead (guests of the day book
/// at most 310 days ahead, so feeds and guests never meet), moving with each version.
pub fn feed_body(slug: &str, n: u64) -> String {
    let today = chrono::Utc::now().date_naive();
    let mut out = String::from(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Airbnb Inc//Hosting Calendar 1.0//EN\r\n",
    );
    for k in 0..4u64 {
        let start = today + Days::new(320 + ((n * 7 + k * 19) % 70));
        let end = start + Days::new(1 + (n + k) % 4);
        out.push_str(&format!(
            "BEGIN:VEVENT\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:{}\r\nDTEND;VALUE=DATE:{}\r\nSUMMARY:Reserved\r\nUID:{slug}-{k}-v{}@airbnb.com\r\nEND:VEVENT\r\n",
            start.format("%Y%m%d"),
            end.format("%Y%m%d"),
            n % 3
        ));
    }
    out.push_str("END:VCALENDAR\r\n");
    out
}

impl World {
    fn traffic_base(&self) -> String {
        self.traffic.base(0)
    }
}

impl Traffic {
    /// `http://127.0.0.1:<port>` of API node `i`.
    pub fn base(&self, i: usize) -> String {
        format!("http://127.0.0.1:{}", self.port(i))
    }
}

struct Shared {
    world: Arc<World>,
    setup: Setup,
    deadline: Instant,
    counts: Mutex<Counts>,
    payment_ids: AtomicU64,
    late: Mutex<JoinSet<()>>,
}

/// Drive the day until `deadline`; late notifications scheduled before it are awaited.
pub(crate) async fn drive(
    world: Arc<World>,
    setup: Setup,
    guests: usize,
    deadline: Instant,
) -> anyhow::Result<Counts> {
    let shared = Arc::new(Shared {
        world,
        setup,
        deadline,
        counts: Mutex::default(),
        payment_ids: AtomicU64::new(9_100_000_000),
        late: Mutex::new(JoinSet::new()),
    });
    let mut tasks = JoinSet::new();
    for g in 0..guests {
        tasks.spawn(guest(shared.clone(), g));
    }
    tasks.spawn(whatsapp(shared.clone()));
    tasks.spawn(channels(shared.clone()));
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    let mut late = std::mem::take(&mut *lock(&shared.late));
    while let Some(done) = late.join_next().await {
        done?;
    }
    let counts = lock(&shared.counts).clone();
    Ok(counts)
}

fn day(n: u64) -> NaiveDate {
    chrono::Utc::now().date_naive() + Days::new(n)
}

/// The Friday of the `w`-th weekend from three weeks ahead.
fn weekend(w: u64) -> NaiveDate {
    let start = day(21);
    let to_friday = (4 + 7 - start.weekday().num_days_from_monday() as u64) % 7;
    start + Days::new(to_friday + 7 * w)
}

async fn pause(min_ms: u64, max_ms: u64) {
    let ms = rand::rng().random_range(min_ms..=max_ms);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

/// One guest after another: quote, hold, then pay, cancel or walk away.
async fn guest(s: Arc<Shared>, g: usize) {
    let traffic = s.world.traffic.clone();
    let mut n = 0u64;
    while Instant::now() < s.deadline {
        n += 1;
        let (slug, check_in, nights, racing, phone) = {
            let mut rng = rand::rng();
            let slug = s
                .setup
                .units
                .choose(&mut rng)
                .map(|u| u.1.clone())
                .unwrap_or_default();
            let racing = rng.random_bool(0.5);
            let (check_in, nights) = if racing {
                // Four weekends everyone wants: Fri–Sun, Sat–Mon or Fri–Sat.
                let friday = weekend(rng.random_range(0..4));
                match rng.random_range(0..3) {
                    0 => (friday, 2),
                    1 => (friday + Days::new(1), 2),
                    _ => (friday, 1),
                }
            } else {
                (day(rng.random_range(60..300)), rng.random_range(1..=5))
            };
            let phone = rng
                .random_bool(0.5)
                .then(|| format!("+54 9 11 5{:03}-{:04}", g, n % 10_000));
            (slug, check_in, nights, racing, phone)
        };
        let check_out = check_in + Days::new(nights);
        lock(&s.counts).quotes += 1;
        traffic
            .send("quote", &[200, 409], |b| {
                traffic.client().get(format!(
                    "{b}/api/v1/accommodations/{slug}/quote?check_in={check_in}&check_out={check_out}&guests=2"
                ))
            })
            .await;
        let email = format!("huesped{g}.{n}@example.com");
        let body = json!({
            "accommodation": slug, "check_in": check_in, "check_out": check_out, "guests": 2,
            "guest": {"name": format!("Huésped {g}-{n}"), "email": email, "phone": phone},
        });
        {
            let mut c = lock(&s.counts);
            c.hold_attempts += 1;
            c.racing_attempts += u64::from(racing);
        }
        let hold = traffic
            .send("hold", &[201, 409], |b| {
                traffic
                    .client()
                    .post(format!("{b}/api/v1/reservations"))
                    .json(&body)
            })
            .await;
        match hold {
            Some(a) if a.status == 201 => {
                lock(&s.counts).holds += 1;
                let code = a.body["code"].as_str().unwrap_or_default().to_owned();
                let token = a.body["access_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let deposit = a.body["quote"]["deposit"]["minor"].as_i64().unwrap_or(0);
                let choice = rand::rng().random_range(0..100);
                if choice < 45 {
                    let s2 = s.clone();
                    lock(&s.late).spawn(pay(s2, code, token, deposit));
                } else if choice < 60 {
                    pause(200, 3000).await;
                    let answer = traffic
                        .send("cancel", &[200], |b| {
                            traffic
                                .client()
                                .post(format!("{b}/api/v1/reservations/{code}/cancel"))
                                .header("X-Access-Token", &token)
                                .json(&json!({"reason": "cambio de planes"}))
                        })
                        .await;
                    if answer.is_some_and(|a| a.status == 200) {
                        lock(&s.counts).cancelled.push(code);
                    }
                } else {
                    lock(&s.counts).abandoned += 1;
                }
            }
            Some(a) if a.status == 409 => lock(&s.counts).hold_conflicts += 1,
            _ => {}
        }
        pause(150, 600).await;
    }
}

/// Pay a hold: the guest looks at the reservation, pays (sometimes after a rejected attempt), and
/// Mercado Pago notifies — twice, to both nodes, sometimes late and out of order.
async fn pay(s: Arc<Shared>, code: String, token: String, deposit: i64) {
    let traffic = s.world.traffic.clone();
    pause(300, 4000).await;
    traffic
        .send("reservation", &[200], |b| {
            traffic
                .client()
                .get(format!("{b}/api/v1/reservations/{code}"))
                .header("X-Access-Token", &token)
        })
        .await;
    let amount = format!("{}.{:02}", deposit / 100, deposit % 100);
    let approved_id = s.payment_ids.fetch_add(1, Ordering::SeqCst).to_string();
    let (rejected_first, late) = {
        let mut rng = rand::rng();
        (rng.random_bool(0.25), rng.random_bool(0.3))
    };
    let rejected_id =
        rejected_first.then(|| s.payment_ids.fetch_add(1, Ordering::SeqCst).to_string());
    let late_ms = rand::rng().random_range(10_000..30_000);
    if let Some(rejected) = &rejected_id {
        s.world.mp.set_payment(
            rejected,
            &FakePayment::approved(&code, &amount).with_status("rejected"),
        );
    }
    // The approved payment is first seen pending.
    s.world.mp.set_payment(
        &approved_id,
        &FakePayment::approved(&code, &amount).with_status("in_process"),
    );
    notify(&s, &approved_id).await;
    pause(200, 1500).await;
    s.world
        .mp
        .set_payment(&approved_id, &FakePayment::approved(&code, &amount));
    // Twice at once, one to each node, as Mercado Pago retries.
    tokio::join!(notify(&s, &approved_id), notify(&s, &approved_id));
    lock(&s.counts).mp_duplicates += 1;
    if let Some(rejected) = &rejected_id {
        // The rejected attempt came first but its notification arrives after the approval.
        notify(&s, rejected).await;
        lock(&s.counts).out_of_order += 1;
    }
    lock(&s.counts).paid.push((approved_id.clone(), code));
    if late {
        tokio::time::sleep(Duration::from_millis(late_ms)).await;
        notify(&s, &approved_id).await;
        let mut c = lock(&s.counts);
        c.mp_late += 1;
        c.mp_duplicates += 1;
    }
}

/// How often a provider delivers a webhook that got no 2xx answer (Mercado Pago and Meta both
/// retry), and the pause between tries (minutes in reality, seconds in a compressed day).
const PROVIDER_TRIES: usize = 10;
const PROVIDER_RETRY: Duration = Duration::from_secs(2);

/// A signed Mercado Pago notification of payment `id`, delivered again until it is answered 2xx.
async fn notify(s: &Shared, id: &str) {
    let traffic = &s.world.traffic;
    let n = s.payment_ids.fetch_add(1, Ordering::SeqCst);
    let request_id = format!("day-req-{n}");
    lock(&s.counts).mp_notifications += 1;
    for _ in 0..PROVIDER_TRIES {
        if notify_once(traffic, id, &request_id).await == Some(200) {
            return;
        }
        lock(&s.counts).provider_retries += 1;
        tokio::time::sleep(PROVIDER_RETRY).await;
    }
}

async fn notify_once(traffic: &Traffic, id: &str, request_id: &str) -> Option<u16> {
    traffic
        .send("webhook_mercadopago", &[200], |b| {
            let ts = chrono::Utc::now().timestamp_millis();
            traffic
                .client()
                .post(format!(
                    "{b}/api/v1/webhooks/mercadopago?data.id={id}&type=payment"
                ))
                .header("x-signature", sign_webhook(MP_SECRET, id, request_id, ts))
                .header("x-request-id", request_id)
                .json(&json!({"action": "payment.updated", "type": "payment", "data": {"id": id}}))
        })
        .await
        .map(|a| a.status)
}

/// Guests writing on WhatsApp (Meta re-delivers some messages), and status updates of what
/// posada sent.
async fn whatsapp(s: Arc<Shared>) {
    let traffic = s.world.traffic.clone();
    let mut n = 0u64;
    while Instant::now() < s.deadline {
        n += 1;
        let (phone, text, again, status) = {
            let mut rng = rand::rng();
            (
                *PHONES.choose(&mut rng).unwrap_or(&PHONES[0]),
                *QUESTIONS.choose(&mut rng).unwrap_or(&QUESTIONS[0]),
                rng.random_bool(0.25),
                rng.random_bool(0.3),
            )
        };
        let wamid = format!("wamid.DAY{n:08}");
        let delivery = webhook_message(
            WA_PHONE_ID,
            phone,
            "Huésped",
            &wamid,
            json!({"type": "text", "text": {"body": text}}),
        )
        .to_string();
        let times = if again { 2 } else { 1 };
        let mut acked = false;
        for _ in 0..times {
            for _ in 0..PROVIDER_TRIES {
                if post_whatsapp(&traffic, &delivery).await == Some(200) {
                    acked = true;
                    break;
                }
                lock(&s.counts).provider_retries += 1;
                tokio::time::sleep(PROVIDER_RETRY).await;
            }
        }
        {
            let mut c = lock(&s.counts);
            if acked {
                c.wa_messages.push(wamid);
            }
            c.wa_duplicates += u64::from(again);
        }
        if status {
            let sent = s.world.wa.sent();
            let recent: Vec<_> = sent.iter().rev().take(20).collect();
            let pick = recent.choose(&mut rand::rng()).map(|m| (*m).clone());
            if let Some(m) = pick {
                let delivery = webhook_status(
                    WA_PHONE_ID,
                    &m.wamid,
                    "delivered",
                    m.to().unwrap_or_default(),
                )
                .to_string();
                post_whatsapp(&traffic, &delivery).await;
                lock(&s.counts).wa_statuses += 1;
            }
        }
        pause(400, 1200).await;
    }
}

async fn post_whatsapp(traffic: &Traffic, delivery: &str) -> Option<u16> {
    let signature = sign(WA_SECRET, delivery.as_bytes());
    traffic
        .send("webhook_whatsapp", &[200], |b| {
            traffic
                .client()
                .post(format!("{b}/api/v1/webhooks/whatsapp"))
                .header("X-Hub-Signature-256", &signature)
                .header("content-type", "application/json")
                .body(delivery.to_owned())
        })
        .await
        .map(|a| a.status)
}

/// The channels' calendars change every few seconds; sometimes the owner asks "sync now".
async fn channels(s: Arc<Shared>) {
    let traffic = s.world.traffic.clone();
    let mut version = 0u64;
    while Instant::now() < s.deadline {
        pause(4000, 9000).await;
        version += 1;
        let (feed_id, path) = {
            let mut rng = rand::rng();
            s.setup.feeds.choose(&mut rng).cloned().unwrap_or_default()
        };
        let slug = path
            .trim_start_matches("/airbnb/")
            .trim_end_matches(".ics")
            .to_owned();
        s.world.channel.set_feed(&path, feed_body(&slug, version));
        lock(&s.counts).feed_changes += 1;
        if rand::rng().random_bool(0.5) {
            let token = s.world.token.clone();
            traffic
                .send("admin_sync_now", &[202], |b| {
                    traffic
                        .client()
                        .post(format!("{b}/api/v1/admin/feeds/{feed_id}/sync"))
                        .bearer_auth(&token)
                })
                .await;
            lock(&s.counts).sync_now += 1;
        }
    }
}

//! The owner's daily report: what happened yesterday (new holds, confirmations, expiries,
//! cancellations, deposits, hold→stay conversion), who arrives and leaves today, occupancy of the
//! next 7 and 30 days, and the open alerts — gathered from the database, rendered as plain
//! Spanish text for an e-mail.
//!
//! Gathering and rendering are separate so the text can be tested from known figures.

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use posada_domain::Money;
use posada_store::ops::{Alert, DayActivity, StayLine};
use serde::Serialize;

use crate::state::AppState;

/// Parse `DAILY_REPORT_TIME` (`HH:MM`).
pub fn parse_report_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s.trim(), "%H:%M").ok()
}

/// The cron expression (`M H * * *`) of the daily report at `DAILY_REPORT_TIME`; 08:00 when the
/// setting does not parse (validation refuses such values at start-up).
pub fn report_cron(time: &str) -> String {
    use chrono::Timelike;
    let t = parse_report_time(time).unwrap_or(NaiveTime::MIN + chrono::Duration::hours(8));
    format!("{} {} * * *", t.minute(), t.hour())
}

/// Everything the report shows.
#[derive(Debug, Clone, Serialize)]
pub struct DailyReport {
    /// The day the report is for (today, in the owner's zone).
    pub today: NaiveDate,
    /// Yesterday's reservation activity.
    pub yesterday: DayActivity,
    /// Deposits received yesterday: (currency, count, minor units).
    pub deposits: Vec<(String, i64, i64)>,
    /// Confirmed stays arriving today.
    pub arrivals: Vec<StayLine>,
    /// Stays leaving today.
    pub departures: Vec<StayLine>,
    /// Occupancy of the next 7 days: (nights taken, nights available).
    pub occupancy_7: (i64, i64),
    /// Occupancy of the next 30 days.
    pub occupancy_30: (i64, i64),
    /// Alerts open now.
    pub open_alerts: Vec<Alert>,
}

/// The start of `day` in `tz`, as an instant.
fn day_start(tz: chrono_tz::Tz, day: NaiveDate) -> DateTime<Utc> {
    let local = day.and_time(NaiveTime::MIN);
    tz.from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&local))
}

/// Gather the report for `today` (a date in the owner's zone).
pub async fn gather(state: &AppState, today: NaiveDate) -> anyhow::Result<DailyReport> {
    let db = state.db();
    let tz = state.settings().tz();
    let yesterday = today.pred_opt().unwrap_or(today);
    let (from, until) = (day_start(tz, yesterday), day_start(tz, today));
    Ok(DailyReport {
        today,
        yesterday: posada_store::ops::activity(db, from, until).await?,
        deposits: posada_store::ops::deposits_received(db, from, until).await?,
        arrivals: posada_store::ops::arrivals(db, today).await?,
        departures: posada_store::ops::departures(db, today).await?,
        occupancy_7: posada_store::ops::occupancy(db, today, 7).await?,
        occupancy_30: posada_store::ops::occupancy(db, today, 30).await?,
        open_alerts: posada_store::ops::open_alerts(db).await?,
    })
}

fn percent(part: i64, whole: i64) -> String {
    if whole <= 0 {
        "—".to_string()
    } else {
        format!("{}%", (part * 100 + whole / 2) / whole)
    }
}

fn stay_line(s: &StayLine) -> String {
    format!(
        "  · {} — {} ({} {}), reserva {}",
        s.accommodation,
        s.guest_name,
        s.guests,
        if s.guests == 1 { "persona" } else { "personas" },
        s.code
    )
}

fn money(currency: &str, minor: i64) -> String {
    match currency.parse::<posada_domain::Currency>() {
        Ok(c) => Money::new(minor, c).format_es_ar(),
        Err(_) => format!("{currency} {minor}"),
    }
}

/// The e-mail: (subject, plain text).
pub fn render(r: &DailyReport) -> (String, String) {
    let day = r.today.format("%d/%m/%Y");
    let subject = format!("Informe diario · {day}");
    let y = &r.yesterday;
    let mut t = String::new();
    t.push_str(&format!(
        "Buen día. Este es el resumen de posada para el {day}.\n\n"
    ));
    t.push_str("AYER\n");
    t.push_str(&format!("  Prerreservas nuevas: {}\n", y.new_holds));
    t.push_str(&format!("  Confirmaciones: {}\n", y.confirmations));
    t.push_str(&format!("  Prerreservas vencidas: {}\n", y.expiries));
    t.push_str(&format!("  Cancelaciones: {}\n", y.cancellations));
    if r.deposits.is_empty() {
        t.push_str("  Señas recibidas: ninguna\n");
    } else {
        for (currency, count, minor) in &r.deposits {
            t.push_str(&format!(
                "  Señas recibidas: {count} por {}\n",
                money(currency, *minor)
            ));
        }
    }
    t.push_str(&format!(
        "  Conversión prerreserva → estadía: {} ({} de {} prerreservas resueltas)\n\n",
        percent(y.holds_confirmed, y.holds_decided),
        y.holds_confirmed,
        y.holds_decided
    ));
    t.push_str("HOY\n");
    if r.arrivals.is_empty() {
        t.push_str("  Entradas: ninguna\n");
    } else {
        t.push_str(&format!("  Entradas ({}):\n", r.arrivals.len()));
        for s in &r.arrivals {
            t.push_str(&stay_line(s));
            t.push('\n');
        }
    }
    if r.departures.is_empty() {
        t.push_str("  Salidas: ninguna\n");
    } else {
        t.push_str(&format!("  Salidas ({}):\n", r.departures.len()));
        for s in &r.departures {
            t.push_str(&stay_line(s));
            t.push('\n');
        }
    }
    t.push_str("\nOCUPACIÓN\n");
    t.push_str(&format!(
        "  Próximos 7 días: {} ({} de {} noches)\n",
        percent(r.occupancy_7.0, r.occupancy_7.1),
        r.occupancy_7.0,
        r.occupancy_7.1
    ));
    t.push_str(&format!(
        "  Próximos 30 días: {} ({} de {} noches)\n\n",
        percent(r.occupancy_30.0, r.occupancy_30.1),
        r.occupancy_30.0,
        r.occupancy_30.1
    ));
    t.push_str("ALERTAS ABIERTAS\n");
    if r.open_alerts.is_empty() {
        t.push_str("  Ninguna.\n");
    } else {
        for a in &r.open_alerts {
            t.push_str(&format!("  · {}\n", a.detail));
        }
    }
    (subject, t)
}

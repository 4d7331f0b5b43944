//! `ops.daily_report` (periodic at `DAILY_REPORT_TIME`, owner's time zone): the owner's daily
//! report e-mail, once per day.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::alerts;
use crate::state::AppState;

/// Send the daily report.
#[derive(Debug, Serialize, Deserialize)]
pub struct DailyReport;

impl Job for DailyReport {
    type State = AppState;
    const KIND: &'static str = "ops.daily_report";
    const MAX_ATTEMPTS: i32 = 5;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        alerts::send_daily_report(&ctx.state, ctx.trace_id.as_deref()).await?;
        Ok(())
    }
}

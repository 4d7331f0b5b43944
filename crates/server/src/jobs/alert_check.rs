//! `ops.alert_check` (periodic, `ALERT_CHECK_INTERVAL_SECONDS`): run the owner's alert checks and
//! tell the owner of each new occurrence.

use posada_jobs::{Job, JobContext};
use serde::{Deserialize, Serialize};

use crate::app::alerts;
use crate::state::AppState;

/// Run the alert checks.
#[derive(Debug, Serialize, Deserialize)]
pub struct AlertCheck;

impl Job for AlertCheck {
    type State = AppState;
    const KIND: &'static str = "ops.alert_check";
    const MAX_ATTEMPTS: i32 = 3;

    async fn run(self, ctx: JobContext<AppState>) -> anyhow::Result<()> {
        let found = alerts::findings(&ctx.state).await?;
        let notified = alerts::apply_findings(&ctx.state, &found, ctx.trace_id.as_deref()).await?;
        tracing::info!(
            alerts.found = found.len(),
            alerts.notified = notified.len(),
            "alert checks done"
        );
        Ok(())
    }
}

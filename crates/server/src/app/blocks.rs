//! The owner's blocks: nights closed by hand (repairs, family), over free nights only.
//!
//! Each change takes the accommodation's calendar lock exclusively, checks the nights against
//! reservations and every other block in the same transaction, and announces the calendar change
//! after commit.

use posada_domain::{OwnerBlockInput, availability};
use posada_store::accommodations;
use posada_store::blocks::{self, BlockRow};
use posada_store::reservations;

use super::booking::taken_error;
use super::error::AppError;
use super::events::Event;
use super::uow::UnitOfWork;
use crate::state::AppState;

/// Create an owner block over free nights.
pub async fn create(
    state: &AppState,
    accommodation_id: i64,
    input: &OwnerBlockInput,
) -> Result<BlockRow, AppError> {
    let stay = input.validate()?;
    let acc = accommodations::get(state.db(), accommodation_id)
        .await?
        .ok_or_else(|| AppError::field("accommodation_id", "no existe ese alojamiento"))?;
    let mut uow = UnitOfWork::begin_calendar(state, accommodation_id).await?;
    let taken = reservations::taken_stays(
        uow.conn(),
        accommodation_id,
        stay.check_in(),
        stay.check_out(),
    )
    .await?;
    if !availability::is_free(&stay, &taken) {
        uow.rollback().await?;
        return Err(taken_error(state, &acc, &stay, 1).await);
    }
    let now = uow.now();
    let block = blocks::insert_owner(
        uow.conn(),
        accommodation_id,
        &stay,
        input.reason.trim(),
        now,
    )
    .await?;
    uow.changed(Event::CalendarChanged { accommodation_id });
    uow.commit().await?;
    Ok(block)
}

/// Change an owner block's dates or reason (the new nights must be free apart from itself).
pub async fn update(
    state: &AppState,
    id: i64,
    input: &OwnerBlockInput,
) -> Result<BlockRow, AppError> {
    let stay = input.validate()?;
    let existing = blocks::get(state.db(), id)
        .await?
        .filter(|b| b.source == "owner")
        .ok_or(AppError::NotFound("block"))?;
    let accommodation_id = existing.accommodation_id;
    let acc = accommodations::get(state.db(), accommodation_id)
        .await?
        .ok_or(AppError::NotFound("accommodation"))?;
    let mut uow = UnitOfWork::begin_calendar(state, accommodation_id).await?;
    let busy = !reservations::active_overlapping(uow.conn(), accommodation_id, &stay)
        .await?
        .is_empty()
        || !blocks::overlapping(uow.conn(), accommodation_id, &stay, Some(id))
            .await?
            .is_empty();
    if busy {
        uow.rollback().await?;
        return Err(taken_error(state, &acc, &stay, 1).await);
    }
    let block = blocks::update_owner(uow.conn(), id, &stay, input.reason.trim()).await?;
    uow.changed(Event::CalendarChanged { accommodation_id });
    uow.commit().await?;
    Ok(block)
}

/// Delete an owner block (channel blocks belong to their feed).
pub async fn delete(state: &AppState, id: i64) -> Result<(), AppError> {
    let existing = blocks::get(state.db(), id)
        .await?
        .filter(|b| b.source == "owner")
        .ok_or(AppError::NotFound("block"))?;
    let mut uow = UnitOfWork::begin(state).await?;
    blocks::delete_owner(uow.conn(), id).await?;
    uow.changed(Event::CalendarChanged {
        accommodation_id: existing.accommodation_id,
    });
    uow.commit().await?;
    Ok(())
}

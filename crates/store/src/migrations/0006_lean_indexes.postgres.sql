-- Overlap checks ("which stays share a night with [a, b)": check_in < b AND check_out > a) scan
-- the calendar index from the end of the stays: a hold or a calendar for the coming months then
-- reads only the stays that end after its first night, not every stay that ever began before
-- its last one (the past grows forever; the future is bounded by the booking horizon).
DROP INDEX reservations_acc_dates;
CREATE INDEX reservations_acc_dates ON reservations (accommodation_id, check_out, check_in);
DROP INDEX blocks_acc_dates;
CREATE INDEX blocks_acc_dates ON blocks (accommodation_id, end_date, start_date);

-- Lookups by phone and by provider message id are equality matches, never on NULL: rows without
-- one (a guest who gave only an e-mail; a message not sent yet, which every new outbox row is)
-- need no index entry, and inserting them writes one index fewer.
DROP INDEX reservations_guest_phone;
CREATE INDEX reservations_guest_phone ON reservations (guest_phone) WHERE guest_phone IS NOT NULL;
DROP INDEX notifications_provider_message;
CREATE INDEX notifications_provider_message ON notifications (provider_message_id) WHERE provider_message_id IS NOT NULL;

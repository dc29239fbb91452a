//! Counter appointments: each centre's schedule per bookable service (weekdays, opening hours,
//! slot length, places per slot) and the places taken in it. A place is first *held* for a
//! kiosk while its citizen confirms, then *booked*; a hold not confirmed in time frees its place
//! by itself. Taking a place counts the slot's booked and live held places under a lock on the
//! slot (an advisory lock on PostgreSQL, SQLite's one writer otherwise), so two kiosks — on one
//! central instance or two — can never both take a slot's last place.
//!
//! No personal data is kept: a booking holds a keyed hash of its number and the citizen's date
//! of birth, which is all a cancellation needs to check.

use balcao_backend_client::api::{
    APPOINTMENT_ALPHABET, Appointment, AppointmentDay, AppointmentDays, AppointmentSlot, Language, slot_time,
};
use jiff::civil::{Date, Time};
use jiff::{SignedDuration, Timestamp};
use uuid::Uuid;

use super::db::{Tx, args};
use super::status::{check_tries, count_wrong_tries};
use super::{Store, StoreError};

/// The schedules and the places taken. A schedule row of centre `*` applies to every centre
/// that has no row of its own for the service; the reference central starts with one for the
/// seed catalog's appointment service (weekdays, 09:00–12:00 and 14:00–17:00, every 30 minutes,
/// two places).
pub(super) const APPOINTMENTS_SCHEMA: &str = "
    CREATE TABLE appointment_schedules (
        centre_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        weekday INTEGER NOT NULL,
        opens TEXT NOT NULL,
        closes TEXT NOT NULL,
        slot_minutes INTEGER NOT NULL,
        capacity INTEGER NOT NULL,
        counter TEXT
    );
    CREATE INDEX appointment_schedules_service ON appointment_schedules(service_id, centre_id);
    CREATE TABLE appointments (
        id TEXT PRIMARY KEY,
        number TEXT NOT NULL UNIQUE,
        centre_id TEXT NOT NULL,
        service_id TEXT NOT NULL,
        slot_date TEXT NOT NULL,
        slot_time TEXT NOT NULL,
        counter TEXT,
        state TEXT NOT NULL,
        held_until BIGINT NOT NULL,
        kiosk_id TEXT NOT NULL,
        language TEXT,
        holder_check TEXT,
        created_at BIGINT NOT NULL,
        changed_at BIGINT NOT NULL
    );
    CREATE INDEX appointments_slot ON appointments(centre_id, service_id, slot_date, slot_time);
    INSERT INTO appointment_schedules (centre_id, service_id, weekday, opens, closes, slot_minutes, capacity, counter) VALUES
        ('*', 'id-card-renewal-appointment', 1, '09:00', '12:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 1, '14:00', '17:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 2, '09:00', '12:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 2, '14:00', '17:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 3, '09:00', '12:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 3, '14:00', '17:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 4, '09:00', '12:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 4, '14:00', '17:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 5, '09:00', '12:00', 30, 2, '12'),
        ('*', 'id-card-renewal-appointment', 5, '14:00', '17:00', 30, 2, '12');
";

/// How long a held place waits for its citizen to confirm.
pub const HOLD_FOR: SignedDuration = SignedDuration::from_mins(5);
const HOLDER_CONTEXT: &str = "appointments/holder";

/// One stretch of a weekday a centre books a service in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScheduleRow {
    /// 1 Monday … 7 Sunday.
    pub weekday: i8,
    pub opens: Time,
    pub closes: Time,
    pub slot_minutes: i32,
    pub capacity: u32,
    pub counter: Option<String>,
}

/// A booking as the counters' staff see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Booking {
    pub date: Date,
    /// `HH:MM`, the centre's local time.
    pub time: String,
    pub service_id: String,
    pub counter: Option<String>,
    pub number: String,
    pub cancelled: bool,
}

/// How a hold went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Held {
    Held {
        held_until: Timestamp,
    },
    /// Every place of the slot is taken (booked, or held for another citizen).
    Full,
    /// The centre does not book the service at that day and time (or it is past).
    NoSuchSlot,
    /// The hold id was used before for another slot or by another kiosk.
    IdReused,
}

/// How a confirmation went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Confirmed {
    Booked(Appointment),
    /// No hold of this kiosk's with this id.
    Unknown,
    /// The hold ran out before the confirmation: its place may be someone else's now.
    Lapsed,
    /// Already confirmed with another date of birth.
    Conflict,
}

/// How a cancellation went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cancelled {
    /// Cancelled now, or before (a repeat).
    Cancelled(Appointment),
    /// No booking with this number and date of birth (the same answer for both).
    NoMatch,
    /// The appointment's time has passed.
    Past,
    /// Too many wrong tries of this number.
    Slowed { until: Timestamp },
}

fn parse_time(text: &str) -> Result<Time, StoreError> {
    Time::strptime("%H:%M", text).map_err(|e| StoreError::Corrupt(format!("schedule time {text:?}: {e}")))
}

fn parse_date(text: &str) -> Result<Date, StoreError> {
    text.parse().map_err(|e: jiff::Error| StoreError::Corrupt(format!("appointment date {text:?}: {e}")))
}

/// A new booking number, `AP-XXXX-XXXX`: 40 random bits, so numbers cannot be guessed in turn.
fn new_number() -> String {
    let bits: u64 = rand::random::<u64>() & ((1 << 40) - 1);
    let char_at = |i: u32| APPOINTMENT_ALPHABET[((bits >> (5 * i)) & 31) as usize] as char;
    let part = |from: u32| (from..from + 4).map(char_at).collect::<String>();
    format!("AP-{}-{}", part(0), part(4))
}

/// The slot times of one schedule row: from its opening, every `slot_minutes`, each ending by
/// its closing.
fn slot_times(row: &ScheduleRow) -> Vec<Time> {
    let mut times = Vec::new();
    let step = SignedDuration::from_mins(i64::from(row.slot_minutes.max(5)));
    let mut at = row.opens;
    while let Ok(end) = at.checked_add(step) {
        if end > row.closes || end <= at {
            break;
        }
        times.push(at);
        at = end;
    }
    times
}

impl Store {
    /// The schedule of `service_id` at `centre_id`: the centre's own rows, or else those of
    /// every centre (`*`).
    fn schedule(tx: &mut Tx<'_>, centre_id: &str, service_id: &str) -> Result<Vec<ScheduleRow>, StoreError> {
        let rows = tx.query(
            "SELECT weekday, opens, closes, slot_minutes, capacity, counter, centre_id FROM appointment_schedules
             WHERE service_id = $1 AND centre_id IN ($2, '*') ORDER BY weekday, opens",
            args![service_id, centre_id],
        )?;
        let own = rows.iter().any(|r| r.get::<String>(6).is_ok_and(|c| c == centre_id));
        let mut schedule = Vec::new();
        for row in rows {
            if own && row.get::<String>(6)? != centre_id {
                continue;
            }
            schedule.push(ScheduleRow {
                weekday: i8::try_from(row.get::<i64>(0)?).map_err(|_| StoreError::Corrupt("schedule weekday".into()))?,
                opens: parse_time(&row.get::<String>(1)?)?,
                closes: parse_time(&row.get::<String>(2)?)?,
                slot_minutes: i32::try_from(row.get::<i64>(3)?).map_err(|_| StoreError::Corrupt("slot minutes".into()))?,
                capacity: row.get(4)?,
                counter: row.get(5)?,
            });
        }
        Ok(schedule)
    }

    /// Replaces the schedule of `service_id` at `centre_id` (`*`: every centre without its own).
    pub fn set_appointment_schedule(&self, centre_id: &str, service_id: &str, rows: &[ScheduleRow]) -> Result<(), StoreError> {
        self.db.write(|tx| {
            tx.execute("DELETE FROM appointment_schedules WHERE centre_id = $1 AND service_id = $2", args![centre_id, service_id])?;
            for row in rows {
                tx.execute(
                    "INSERT INTO appointment_schedules (centre_id, service_id, weekday, opens, closes, slot_minutes, capacity, counter)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    args![
                        centre_id,
                        service_id,
                        i64::from(row.weekday),
                        slot_time(row.opens),
                        slot_time(row.closes),
                        row.slot_minutes,
                        row.capacity,
                        row.counter
                    ],
                )?;
            }
            Ok(())
        })
    }

    /// The days from `today` for `days` days on which `centre_id` books `service_id`, each with
    /// its slots and the places left; slots that start before `now` are left out. `now` and
    /// `today` are the centre's local time.
    pub fn appointment_days(
        &self,
        centre_id: &str,
        service_id: &str,
        today: Date,
        days: u16,
        now: jiff::civil::DateTime,
        at: Timestamp,
    ) -> Result<AppointmentDays, StoreError> {
        let last = today.checked_add(jiff::Span::new().days(i64::from(days.max(1)) - 1)).unwrap_or(today);
        let (schedule, taken) = self.db.read(|tx| {
            let schedule = Self::schedule(tx, centre_id, service_id)?;
            let taken = tx.query(
                "SELECT slot_date, slot_time, COUNT(*) FROM appointments
                 WHERE centre_id = $1 AND service_id = $2 AND slot_date >= $3 AND slot_date <= $4
                   AND (state = 'booked' OR (state = 'held' AND held_until > $5))
                 GROUP BY slot_date, slot_time",
                args![centre_id, service_id, today.to_string(), last.to_string(), at.as_millisecond()],
            )?;
            let taken = taken
                .iter()
                .map(|r| Ok(((r.get::<String>(0)?, r.get::<String>(1)?), r.get::<i64>(2)?)))
                .collect::<Result<std::collections::HashMap<_, _>, StoreError>>()?;
            Ok::<_, StoreError>((schedule, taken))
        })?;
        let mut out = Vec::new();
        for day in today.series(jiff::Span::new().days(1)).take(usize::from(days.max(1))) {
            let weekday = day.weekday().to_monday_one_offset();
            let mut slots = Vec::new();
            for row in schedule.iter().filter(|r| r.weekday == weekday) {
                for time in slot_times(row) {
                    if day.to_datetime(time) <= now {
                        continue;
                    }
                    let text = slot_time(time);
                    let used = taken.get(&(day.to_string(), text.clone())).copied().unwrap_or(0);
                    let free = i64::from(row.capacity).saturating_sub(used).max(0);
                    slots.push(AppointmentSlot { time: text, free: u32::try_from(free).unwrap_or(0) });
                }
            }
            if !slots.is_empty() {
                slots.sort_by(|a, b| a.time.cmp(&b.time));
                out.push(AppointmentDay { date: day, slots });
            }
        }
        Ok(AppointmentDays { service_id: service_id.to_string(), days: out })
    }

    /// Holds one place of the slot for `kiosk_id` until [`HOLD_FOR`] from `at`. A repeat of
    /// the same hold (same id, kiosk and slot) answers as the first did.
    #[allow(clippy::too_many_arguments, reason = "one slot is named by all of these")]
    pub fn hold_appointment(
        &self,
        hold_id: Uuid,
        kiosk_id: &str,
        centre_id: &str,
        service_id: &str,
        date: Date,
        time: Time,
        now: jiff::civil::DateTime,
        at: Timestamp,
    ) -> Result<Held, StoreError> {
        let (id, day, clock) = (hold_id.to_string(), date.to_string(), slot_time(time));
        self.db.write(|tx| {
            tx.lock(&format!("appointment-hold/{id}"))?;
            if let Some(row) = tx.query_opt(
                "SELECT kiosk_id, centre_id, service_id, slot_date, slot_time, held_until FROM appointments WHERE id = $1",
                args![id],
            )? {
                let same: (String, String, String, String, String) = (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?);
                if same != (kiosk_id.into(), centre_id.into(), service_id.into(), day.clone(), clock.clone()) {
                    return Ok(Held::IdReused);
                }
                return Ok(Held::Held { held_until: timestamp(row.get(5)?)? });
            }
            let schedule = Self::schedule(tx, centre_id, service_id)?;
            let weekday = date.weekday().to_monday_one_offset();
            let Some(row) = schedule.iter().find(|r| r.weekday == weekday && slot_times(r).contains(&time)) else {
                return Ok(Held::NoSuchSlot);
            };
            if date.to_datetime(time) <= now {
                return Ok(Held::NoSuchSlot);
            }
            // The slot's places are counted by one request at a time, on every instance.
            tx.lock(&format!("appointment-slot/{centre_id}/{service_id}/{day}/{clock}"))?;
            let used: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM appointments
                     WHERE centre_id = $1 AND service_id = $2 AND slot_date = $3 AND slot_time = $4
                       AND (state = 'booked' OR (state = 'held' AND held_until > $5))",
                    args![centre_id, service_id, day, clock, at.as_millisecond()],
                )?
                .get(0)?;
            if used >= i64::from(row.capacity) {
                return Ok(Held::Full);
            }
            let held_until = at + HOLD_FOR;
            // A number already given is drawn again (40 random bits: next to never).
            let mut number = new_number();
            while tx.query_opt("SELECT 1 FROM appointments WHERE number = $1", args![number])?.is_some() {
                number = new_number();
            }
            tx.execute(
                "INSERT INTO appointments (id, number, centre_id, service_id, slot_date, slot_time, counter, state, held_until, kiosk_id,
                     created_at, changed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, 'held', $8, $9, $10, $10)",
                args![
                    id,
                    number,
                    centre_id,
                    service_id,
                    day,
                    clock,
                    row.counter,
                    held_until.as_millisecond(),
                    kiosk_id,
                    at.as_millisecond()
                ],
            )?;
            Ok(Held::Held { held_until })
        })
    }

    /// Lets a place go that `kiosk_id` held and its citizen did not confirm (they went back or
    /// left). A booked place is not touched.
    pub fn release_appointment_hold(&self, hold_id: Uuid, kiosk_id: &str, at: Timestamp) -> Result<bool, StoreError> {
        let released = self.db.write(|tx| {
            tx.execute(
                "UPDATE appointments SET state = 'released', changed_at = $3 WHERE id = $1 AND kiosk_id = $2 AND state = 'held'",
                args![hold_id.to_string(), kiosk_id, at.as_millisecond()],
            )
        })?;
        Ok(released == 1)
    }

    /// Books the place `kiosk_id` holds under `hold_id` for the citizen born on
    /// `date_of_birth`. A repeat with the same date of birth answers as the first did.
    pub fn confirm_appointment(
        &self,
        hold_id: Uuid,
        kiosk_id: &str,
        date_of_birth: &str,
        language: Language,
        at: Timestamp,
    ) -> Result<Confirmed, StoreError> {
        let id = hold_id.to_string();
        self.db.write(|tx| {
            tx.lock(&format!("appointment-hold/{id}"))?;
            let Some(row) = tx.query_opt(
                "SELECT number, state, held_until, holder_check FROM appointments WHERE id = $1 AND kiosk_id = $2",
                args![id, kiosk_id],
            )?
            else {
                return Ok(Confirmed::Unknown);
            };
            let (number, state, held_until, check): (String, String, i64, Option<String>) =
                (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?);
            let holder = self.key.blind_index(HOLDER_CONTEXT, &format!("{number}|{}", date_of_birth.trim()));
            match state.as_str() {
                "booked" if check.as_deref() == Some(holder.as_str()) => {}
                "booked" => return Ok(Confirmed::Conflict),
                "held" if held_until > at.as_millisecond() => {
                    tx.execute(
                        "UPDATE appointments SET state = 'booked', holder_check = $2, language = $3, changed_at = $4 WHERE id = $1",
                        args![id, holder, language.tag(), at.as_millisecond()],
                    )?;
                }
                _ => return Ok(Confirmed::Lapsed),
            }
            Ok(Confirmed::Booked(appointment_by(tx, "id", &id)?))
        })
    }

    /// Cancels the booking numbered `number` if `date_of_birth` is its citizen's. Wrong tries
    /// are counted per number, as a status check's are.
    pub fn cancel_appointment(
        &self,
        number: &str,
        date_of_birth: &str,
        now: jiff::civil::DateTime,
        at: Timestamp,
    ) -> Result<Cancelled, StoreError> {
        let tries = format!("appointment/{number}");
        let holder = self.key.blind_index(HOLDER_CONTEXT, &format!("{number}|{}", date_of_birth.trim()));
        self.db.write(|tx| {
            let counter = match check_tries(tx, &tries, at)? {
                Ok(counter) => counter,
                Err(until) => return Ok(Cancelled::Slowed { until }),
            };
            let row = tx.query_opt("SELECT state, holder_check FROM appointments WHERE number = $1", args![number])?;
            let matched = row.is_some_and(|row| {
                let state: Result<String, _> = row.get(0);
                let check: Result<Option<String>, _> = row.get(1);
                matches!(state.as_deref(), Ok("booked" | "cancelled")) && matches!(check, Ok(Some(c)) if c == holder)
            });
            if !matched {
                count_wrong_tries(tx, &[counter], at)?;
                return Ok(Cancelled::NoMatch);
            }
            tx.execute("DELETE FROM status_tries WHERE reference = $1", args![tries])?;
            let appointment = appointment_by(tx, "number", number)?;
            if appointment.date.to_datetime(parse_time(&appointment.time)?) <= now {
                return Ok(Cancelled::Past);
            }
            tx.execute(
                "UPDATE appointments SET state = 'cancelled', changed_at = $2 WHERE number = $1 AND state = 'booked'",
                args![number, at.as_millisecond()],
            )?;
            Ok(Cancelled::Cancelled(appointment))
        })
    }

    /// The bookings at `centre_id` from `from` for `days` days, booked or cancelled, in time
    /// order: for the counters' staff (numbers, no personal data — a booking holds none).
    pub fn upcoming_appointments(&self, centre_id: &str, from: Date, days: u16) -> Result<Vec<Booking>, StoreError> {
        let last = from.checked_add(jiff::Span::new().days(i64::from(days.max(1)) - 1)).unwrap_or(from);
        self.db.read(|tx| {
            let rows = tx.query(
                "SELECT slot_date, slot_time, service_id, counter, number, state FROM appointments
                 WHERE centre_id = $1 AND slot_date >= $2 AND slot_date <= $3 AND state IN ('booked', 'cancelled')
                 ORDER BY slot_date, slot_time, number LIMIT 500",
                args![centre_id, from.to_string(), last.to_string()],
            )?;
            rows.iter()
                .map(|row| {
                    Ok(Booking {
                        date: parse_date(&row.get::<String>(0)?)?,
                        time: row.get(1)?,
                        service_id: row.get(2)?,
                        counter: row.get(3)?,
                        number: row.get(4)?,
                        cancelled: row.get::<String>(5)? == "cancelled",
                    })
                })
                .collect()
        })
    }

    /// The state of the booking numbered `number` (`held`, `booked`, `cancelled`, `released`),
    /// for staff and tests.
    pub fn appointment_state(&self, number: &str) -> Result<Option<String>, StoreError> {
        self.db.read(|tx| tx.query_opt("SELECT state FROM appointments WHERE number = $1", args![number])?.map(|r| r.get(0)).transpose())
    }
}

/// The appointment whose `column` (`id` or `number`) is `value`.
fn appointment_by(tx: &mut Tx<'_>, column: &str, value: &str) -> Result<Appointment, StoreError> {
    let row = tx.query_one(
        &format!("SELECT number, service_id, centre_id, slot_date, slot_time, counter FROM appointments WHERE {column} = $1"),
        args![value],
    )?;
    Ok(Appointment {
        number: row.get(0)?,
        service_id: row.get(1)?,
        centre_id: row.get(2)?,
        date: parse_date(&row.get::<String>(3)?)?,
        time: row.get(4)?,
        counter: row.get(5)?,
    })
}

/// Forgets appointments whose day is before `before`, and holds that lapsed or were let go.
pub(super) fn purge_appointments(tx: &mut Tx<'_>, before: Date, at: Timestamp) -> Result<usize, StoreError> {
    let old = tx.execute("DELETE FROM appointments WHERE slot_date < $1", args![before.to_string()])?;
    let stale = tx.execute(
        "DELETE FROM appointments WHERE state = 'released' OR (state = 'held' AND held_until < $1)",
        args![(at - SignedDuration::from_hours(24)).as_millisecond()],
    )?;
    Ok(usize::try_from(old + stale).unwrap_or(usize::MAX))
}

fn timestamp(ms: i64) -> Result<Timestamp, StoreError> {
    Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_fill_the_opening_hours_without_running_past_the_closing() {
        let row = |opens: &str, closes: &str, minutes| ScheduleRow {
            weekday: 1,
            opens: parse_time(opens).expect("time"),
            closes: parse_time(closes).expect("time"),
            slot_minutes: minutes,
            capacity: 1,
            counter: None,
        };
        let times = |r: &ScheduleRow| slot_times(r).into_iter().map(slot_time).collect::<Vec<_>>();
        assert_eq!(times(&row("09:00", "10:30", 30)), ["09:00", "09:30", "10:00"]);
        assert_eq!(times(&row("09:00", "10:20", 30)), ["09:00", "09:30"], "a slot that would end after closing is not offered");
        assert!(times(&row("10:00", "09:00", 30)).is_empty());
        assert_eq!(times(&row("23:00", "23:59", 30)), ["23:00"], "no slot wraps past midnight");
    }

    #[test]
    fn booking_numbers_have_their_form_and_differ() {
        let numbers: std::collections::HashSet<String> = (0..1000).map(|_| new_number()).collect();
        assert_eq!(numbers.len(), 1000);
        assert!(numbers.iter().all(|n| balcao_backend_client::api::is_appointment_number(n)), "{numbers:?}");
    }
}

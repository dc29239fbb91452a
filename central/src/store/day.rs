//! A centre's day at a glance, hour by hour: applications received (and paid), queue tickets
//! issued. Counted from the records themselves, so every instance and both databases agree.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

use super::db::args;
use super::{Store, StoreError};

/// Counts per hour of the day (0 to 23, in the centre's time zone).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CentreDay {
    pub applications: [u32; 24],
    /// Of which paid by card.
    pub paid: [u32; 24],
    pub fees_avos: u64,
    pub tickets: [u32; 24],
}

impl Store {
    /// `centre_id`'s `day` (in `zone`), hour by hour.
    pub fn centre_day(&self, centre_id: &str, day: Date, zone: &TimeZone) -> Result<CentreDay, StoreError> {
        let bound = |date: Date| {
            date.to_zoned(zone.clone()).map(|z| z.timestamp()).map_err(|e| StoreError::Corrupt(format!("the day {date}: {e}")))
        };
        let (start, end) = (bound(day)?, bound(day.tomorrow().map_err(|e| StoreError::Corrupt(e.to_string()))?)?);
        let (applications, tickets) = self.db.read(|tx| {
            let applications = tx.query(
                "SELECT received_at, payment IS NOT NULL, fee_avos FROM applications
                 WHERE centre_id = $1 AND received_at >= $2 AND received_at < $3",
                args![centre_id, start.to_string(), end.to_string()],
            )?;
            let tickets = tx.query(
                "SELECT issued_at FROM queue_tickets WHERE centre_id = $1 AND issued_at >= $2 AND issued_at < $3",
                args![centre_id, start.as_millisecond(), end.as_millisecond()],
            )?;
            Ok::<_, StoreError>((applications, tickets))
        })?;
        let hour = |at: Timestamp| usize::try_from(at.to_zoned(zone.clone()).hour()).unwrap_or(0).min(23);
        let mut counted = CentreDay::default();
        for row in applications {
            let received: String = row.get(0)?;
            let Ok(at) = received.parse::<Timestamp>() else { continue };
            let h = hour(at);
            counted.applications[h] += 1;
            if row.get::<bool>(1)? {
                counted.paid[h] += 1;
                counted.fees_avos += u64::try_from(row.get::<i64>(2)?).unwrap_or(0);
            }
        }
        for row in tickets {
            let Ok(at) = Timestamp::from_millisecond(row.get::<i64>(0)?) else { continue };
            counted.tickets[hour(at)] += 1;
        }
        Ok(counted)
    }
}

//! Working time (the practice: requests are answered within one working day, and
//! customers are told that deadline): business hours in a time zone, working days and
//! holidays, and adding working time to an instant.

use std::collections::BTreeSet;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use serde::Serialize;
use utoipa::ToSchema;

use super::DomainError;

/// Which working-day deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeadlineKind {
    FirstResponse,
    Resolution,
}

impl DeadlineKind {
    pub const ALL: [DeadlineKind; 2] = [DeadlineKind::FirstResponse, DeadlineKind::Resolution];

    pub fn as_str(self) -> &'static str {
        match self {
            DeadlineKind::FirstResponse => "first_response",
            DeadlineKind::Resolution => "resolution",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// When a conversation must have its first response and its resolution, in working
/// time from when it started; adapters may tell the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct Deadlines {
    pub first_response_due: DateTime<Utc>,
    pub resolution_due: DateTime<Utc>,
}

impl Deadlines {
    pub fn due(&self, kind: DeadlineKind) -> DateTime<Utc> {
        match kind {
            DeadlineKind::FirstResponse => self.first_response_due,
            DeadlineKind::Resolution => self.resolution_due,
        }
    }
}

/// Business hours: `open`–`close` local time on working days that are not holidays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
    /// Monday first.
    days: [bool; 7],
    open: NaiveTime,
    close: NaiveTime,
    holidays: BTreeSet<NaiveDate>,
}

impl Default for Calendar {
    /// Monday to Friday, 09:00–18:00 UTC, no holidays.
    fn default() -> Self {
        let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).unwrap_or_default();
        Self {
            tz: Tz::UTC,
            days: [true, true, true, true, true, false, false],
            open: hm(9),
            close: hm(18),
            holidays: BTreeSet::new(),
        }
    }
}

impl Calendar {
    /// From settings: an IANA zone (`Europe/Berlin`), day names (`mon`…`sun`), `HH:MM`
    /// opening and closing, and holiday dates (`2026-12-25`).
    pub fn new(
        time_zone: &str,
        days: &[String],
        open: &str,
        close: &str,
        holidays: &[String],
    ) -> Result<Self, DomainError> {
        let bad = |field: &str, why: String| DomainError::invalid(field, why);
        let tz: Tz = time_zone.parse().map_err(|_| {
            bad(
                "time_zone",
                format!("`{time_zone}` is not an IANA time zone"),
            )
        })?;
        let mut working = [false; 7];
        for day in days {
            let i = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .position(|d| d.eq_ignore_ascii_case(day))
                .ok_or_else(|| bad("days", format!("`{day}` is not mon…sun")))?;
            working[i] = true;
        }
        let time = |field: &str, s: &str| {
            NaiveTime::parse_from_str(s, "%H:%M")
                .map_err(|_| bad(field, format!("`{s}` is not HH:MM")))
        };
        let (open, close) = (time("open", open)?, time("close", close)?);
        if open >= close || !working.contains(&true) {
            return Err(bad(
                "business_hours",
                "opening before closing, on at least one day".into(),
            ));
        }
        let holidays = holidays
            .iter()
            .map(|d| {
                NaiveDate::parse_from_str(d, "%Y-%m-%d")
                    .map_err(|_| bad("holidays", format!("`{d}` is not YYYY-MM-DD")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            tz,
            days: working,
            open,
            close,
            holidays,
        })
    }

    /// The working hours of one day: "one working day" of work.
    pub fn day_length(&self) -> Duration {
        self.close - self.open
    }

    fn works_on(&self, date: NaiveDate) -> bool {
        self.days[date.weekday().num_days_from_monday() as usize] && !self.holidays.contains(&date)
    }

    /// The instant `work` of working time after `from` (work starts at the next opening
    /// when `from` is outside business hours).
    pub fn add_working(&self, from: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        let mut left = work.max(Duration::zero());
        let mut at = from.with_timezone(&self.tz).naive_local();
        // Ten years of days at most: a calendar always has working days.
        for _ in 0..3660 {
            let date = at.date();
            if self.works_on(date) && at.time() < self.close {
                let start = at.max(date.and_time(self.open));
                let closing = date.and_time(self.close);
                if closing - start >= left {
                    return self.utc(start + left);
                }
                left -= closing - start;
            }
            at = (date + Duration::days(1)).and_time(NaiveTime::MIN);
        }
        self.utc(at)
    }

    /// The working time between two instants (zero when `to` is not after `from`): what
    /// "answered within a working day" measures.
    pub fn working_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let (start, end) = (self.local(from), self.local(to));
        let mut total = Duration::zero();
        let mut date = start.date();
        // Ten years of days at most.
        for _ in 0..3660 {
            if date > end.date() {
                break;
            }
            if self.works_on(date) {
                let open = start.max(date.and_time(self.open));
                let close = end.min(date.and_time(self.close));
                if close > open {
                    total += close - open;
                }
            }
            date += Duration::days(1);
        }
        total
    }

    fn local(&self, at: DateTime<Utc>) -> NaiveDateTime {
        at.with_timezone(&self.tz).naive_local()
    }

    /// When business hours next open, if they are closed at `at` (a weekend, a holiday,
    /// the night); `None` while open.
    pub fn next_open(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let opening = self.add_working(at, Duration::zero());
        (opening > at).then_some(opening)
    }

    /// A local wall-clock time as an instant (the earlier one in a repeated hour, just
    /// after a skipped one).
    fn utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let mut t = local;
        for _ in 0..3 {
            if let Some(at) = self.tz.from_local_datetime(&t).earliest() {
                return at.with_timezone(&Utc);
            }
            t += Duration::minutes(30);
        }
        Utc.from_utc_datetime(&local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn working_time_between_counts_only_business_hours() {
        let mon_fri = Calendar::default();
        let between = |a: &str, b: &str| mon_fri.working_between(at(a), at(b));
        assert_eq!(
            between("2026-11-23T10:00:00Z", "2026-11-23T11:30:00Z"),
            Duration::minutes(90)
        );
        // Friday 17:55 to Monday 09:05: five minutes on Friday, five on Monday.
        assert_eq!(
            between("2026-11-20T17:55:00Z", "2026-11-23T09:05:00Z"),
            Duration::minutes(10)
        );
        assert_eq!(
            between("2026-11-21T10:00:00Z", "2026-11-22T10:00:00Z"),
            Duration::zero()
        );
        assert_eq!(
            between("2026-11-23T11:00:00Z", "2026-11-23T10:00:00Z"),
            Duration::zero()
        );
        // It agrees with `add_working`: a working day from any instant is a day's length.
        for from in [
            "2026-11-20T17:55:00Z",
            "2026-11-21T10:00:00Z",
            "2026-11-23T07:00:00Z",
        ] {
            let due = mon_fri.add_working(at(from), mon_fri.day_length());
            assert_eq!(
                mon_fri.working_between(at(from), due),
                mon_fri.day_length(),
                "{from}"
            );
        }
    }

    #[test]
    fn a_working_day_from_friday_evening_ends_monday_evening() {
        let mon_fri = Calendar::default();
        let due = mon_fri.add_working(at("2026-11-20T17:55:00Z"), mon_fri.day_length());
        assert_eq!(due, at("2026-11-23T17:55:00Z"));
        // Outside hours, the clock starts at the next opening.
        let saturday = mon_fri.add_working(at("2026-11-21T10:00:00Z"), Duration::hours(1));
        assert_eq!(saturday, at("2026-11-23T10:00:00Z"));
        let early = mon_fri.add_working(at("2026-11-23T07:00:00Z"), Duration::minutes(30));
        assert_eq!(early, at("2026-11-23T09:30:00Z"));
    }

    #[test]
    fn closed_hours_know_the_next_opening() {
        let mon_fri = Calendar::default();
        assert_eq!(
            mon_fri.next_open(at("2026-11-23T10:00:00Z")),
            None,
            "Monday"
        );
        assert_eq!(
            mon_fri.next_open(at("2026-11-23T09:00:00Z")),
            None,
            "opening"
        );
        let friday_night = mon_fri.next_open(at("2026-11-20T18:00:00Z"));
        assert_eq!(friday_night, Some(at("2026-11-23T09:00:00Z")), "closing");
        let dawn = mon_fri.next_open(at("2026-11-24T06:00:00Z"));
        assert_eq!(dawn, Some(at("2026-11-24T09:00:00Z")));
    }

    #[test]
    fn holidays_and_time_zones_count() {
        let berlin = Calendar::new(
            "Europe/Berlin",
            &["mon", "tue", "wed", "thu", "fri"].map(String::from),
            "09:00",
            "17:00",
            &["2026-12-24".into(), "2026-12-25".into()],
        )
        .expect("calendar");
        // Wednesday 23rd, 16:00 Berlin (15:00 UTC): 1 h today, then Thu/Fri are holidays.
        let due = berlin.add_working(at("2026-12-23T15:00:00Z"), Duration::hours(2));
        assert_eq!(due, at("2026-12-28T09:00:00Z"), "Monday 10:00 in Berlin");
        assert!(Calendar::new("Mars/Olympus", &[], "09:00", "17:00", &[]).is_err());
        let days = ["mon".to_owned()];
        assert!(Calendar::new("UTC", &days, "18:00", "09:00", &[]).is_err());
    }
}

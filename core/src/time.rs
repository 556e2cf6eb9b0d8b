//! Instants: UTC milliseconds since the Unix epoch (docs/keys.md#time).

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// A UTC instant kept to the millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// One day in milliseconds.
pub const DAY_MS: i64 = 86_400_000;

impl Timestamp {
    /// The earliest instant keyscope accepts: 0001-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000);
    /// The latest instant keyscope accepts: 9999-12-31T23:59:59.999Z (the range every
    /// binding's date type can hold).
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// The current time from the system clock.
    pub fn now() -> Self {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        Timestamp(ms)
    }

    /// An instant from milliseconds since the epoch; `field` names it in the error
    /// when it lies outside years 1–9999.
    pub fn from_millis(ms: i64, field: &str) -> Result<Self> {
        if !(Self::MIN.0..=Self::MAX.0).contains(&ms) {
            return Err(Error::invalid(field, "is outside the years 1 to 9999"));
        }
        Ok(Timestamp(ms))
    }

    /// An instant from whole Unix seconds (the C API's unit).
    pub fn from_unix_seconds(s: i64, field: &str) -> Result<Self> {
        let ms = s
            .checked_mul(1000)
            .ok_or_else(|| Error::invalid(field, "is outside the years 1 to 9999"))?;
        Self::from_millis(ms, field)
    }

    /// Milliseconds since the epoch.
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// Whole Unix seconds, rounded down (JWT claims and the C API).
    pub fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This instant plus `ms` milliseconds, saturating at the ends of the range.
    pub fn plus_millis(self, ms: i64) -> Self {
        Timestamp(self.0.saturating_add(ms).clamp(Self::MIN.0, Self::MAX.0))
    }

    /// The instant `now` if given, else the system clock.
    pub fn or_now(now: Option<Timestamp>) -> Self {
        now.unwrap_or_else(Timestamp::now)
    }
}

impl fmt::Display for Timestamp {
    /// RFC 3339 with milliseconds: `2026-11-27T04:46:54.123Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY_MS);
        let ms_of_day = self.0.rem_euclid(DAY_MS);
        let (y, m, d) = civil_from_days(days);
        let (h, rest) = (ms_of_day / 3_600_000, ms_of_day % 3_600_000);
        let (mi, rest) = (rest / 60_000, rest % 60_000);
        let (s, ms) = (rest / 1000, rest % 1000);
        write!(f, "{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}Z")
    }
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_rfc3339_with_milliseconds() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            Timestamp(1_795_761_014_123).to_string(),
            "2026-11-27T06:30:14.123Z"
        );
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp::MIN.to_string(), "0001-01-01T00:00:00.000Z");
    }

    #[test]
    fn unix_seconds_round_down() {
        assert_eq!(Timestamp(1999).unix_seconds(), 1);
        assert_eq!(Timestamp(-1).unix_seconds(), -1);
    }

    #[test]
    fn rejects_instants_outside_years_1_to_9999() {
        assert!(Timestamp::from_millis(Timestamp::MAX.0 + 1, "expires_at").is_err());
        assert!(Timestamp::from_unix_seconds(i64::MAX, "expires_at").is_err());
        assert!(Timestamp::from_unix_seconds(0, "expires_at").is_ok());
    }
}

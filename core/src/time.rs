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

/// The wall clock as the kernel's last tick left it: `CLOCK_REALTIME_COARSE` on
/// Linux, a read of memory the kernel shares (about 6 ns here, where the precise
/// clock costs about 25 ns in a virtual machine), never ahead of
/// [`Timestamp::now`] and at most one tick behind it (1–10 ms, by the kernel's
/// configuration). `authorize` reads it when its caller gives no `now`
/// (docs/authorization.md, "The clock"). Elsewhere, the system clock.
pub(crate) fn coarse_now() -> Timestamp {
    #[cfg(target_os = "linux")]
    {
        let t = clock(libc::CLOCK_REALTIME_COARSE);
        Timestamp(t.tv_sec.saturating_mul(1000) + t.tv_nsec / 1_000_000)
    }
    #[cfg(not(target_os = "linux"))]
    {
        Timestamp::now()
    }
}

/// `clock_gettime(id)` through the C library, which answers from the vDSO (and
/// which tools such as valgrind know how to follow).
#[cfg(target_os = "linux")]
fn clock(id: libc::clockid_t) -> libc::timespec {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid, writable timespec for the call's duration. The call
    // cannot fail: both coarse clocks exist on every Linux Rust runs on (2.6.32+).
    unsafe { libc::clock_gettime(id, &mut t) };
    t
}

/// Monotonic nanoseconds since an arbitrary origin (the same for the whole
/// process), to the kernel's last tick on Linux (`CLOCK_MONOTONIC_COARSE`, as cheap
/// as [`coarse_now`]); `Instant` elsewhere. It never goes backwards.
pub(crate) fn coarse_monotonic_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let t = clock(libc::CLOCK_MONOTONIC_COARSE);
        (t.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(t.tv_nsec as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        static ORIGIN: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        ORIGIN
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_nanos() as u64
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

impl Timestamp {
    /// `YYYY-MM-DDTHH:MM:SSZ`, with `.mmm` only when the milliseconds are not zero
    /// (the Key Admin API's form).
    pub fn to_rfc3339_seconds(self) -> String {
        let full = self.to_string();
        match full.strip_suffix(".000Z") {
            Some(whole) => format!("{whole}Z"),
            None => full,
        }
    }

    /// Parses an RFC 3339 instant (`2026-12-01T00:00:00Z`, fractional seconds kept to
    /// the millisecond, `Z` or a `±HH:MM` offset); `field` names it in the error.
    pub fn parse_rfc3339(text: &str, field: &str) -> Result<Self> {
        let bad = || {
            Error::invalid(
                field,
                "must be an ISO 8601 instant such as 2027-01-31T00:00:00Z",
            )
        };
        let b = text.as_bytes();
        let num = |r: std::ops::Range<usize>| -> Result<i64> {
            let part = text.get(r).ok_or_else(bad)?;
            if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
                return Err(bad());
            }
            part.parse::<i64>().map_err(|_| bad())
        };
        if b.len() < 20
            || b[4] != b'-'
            || b[7] != b'-'
            || !matches!(b[10], b'T' | b't')
            || b[13] != b':'
            || b[16] != b':'
        {
            return Err(bad());
        }
        let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut i = 19;
        let mut ms = 0i64;
        if b[i] == b'.' {
            let start = i + 1;
            i = start;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i == start {
                return Err(bad());
            }
            let digits = &text[start..i.min(start + 3)];
            ms = format!("{digits:0<3}").parse::<i64>().map_err(|_| bad())?;
        }
        let offset_min = match &text[i..] {
            "Z" | "z" => 0,
            tz if tz.len() == 6 && matches!(&tz[..1], "+" | "-") && &tz[3..4] == ":" => {
                let sign = if tz.starts_with('-') { -1 } else { 1 };
                let oh: i64 = tz[1..3].parse().map_err(|_| bad())?;
                let om: i64 = tz[4..6].parse().map_err(|_| bad())?;
                if oh > 23 || om > 59 {
                    return Err(bad());
                }
                sign * (oh * 60 + om)
            }
            _ => return Err(bad()),
        };
        let days_in_month = match mo {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
            2 => 28,
            _ => return Err(bad()),
        };
        if d < 1 || d > days_in_month || h > 23 || mi > 59 || sec > 59 {
            return Err(bad());
        }
        let days = days_from_civil(y, mo as u32, d as u32);
        let ms =
            days * DAY_MS + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms - offset_min * 60_000;
        Timestamp::from_millis(ms, field)
    }
}

/// Howard Hinnant's civil-to-days algorithm (proleptic Gregorian calendar).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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

    /// How far the coarse clocks may lag the precise ones: one tick of the coarsest
    /// kernel configuration (Linux at HZ=100).
    const COARSE_TICK_MS: i64 = 10;

    #[test]
    fn the_coarse_wall_clock_is_never_ahead_and_at_most_a_tick_behind() {
        for _ in 0..1000 {
            let before = Timestamp::now().as_millis();
            let coarse = coarse_now().as_millis();
            let after = Timestamp::now().as_millis();
            assert!(coarse <= after, "coarse {coarse} is ahead of {after}");
            assert!(
                coarse >= before - COARSE_TICK_MS,
                "coarse {coarse} lags {before} by more than a tick"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn the_kernels_coarse_tick_is_within_the_allowance() {
        for id in [libc::CLOCK_REALTIME_COARSE, libc::CLOCK_MONOTONIC_COARSE] {
            let mut res = libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            };
            // SAFETY: `res` is a valid, writable timespec.
            assert_eq!(unsafe { libc::clock_getres(id, &mut res) }, 0);
            let ms = res.tv_sec * 1000 + (res.tv_nsec + 999_999) / 1_000_000;
            assert!(ms <= COARSE_TICK_MS, "clock {id} ticks every {ms} ms");
        }
    }

    #[test]
    fn the_coarse_monotonic_clock_moves_forward_only() {
        let start = coarse_monotonic_ns();
        let mut last = start;
        for _ in 0..1000 {
            let now = coarse_monotonic_ns();
            assert!(now >= last);
            last = now;
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
        let later = coarse_monotonic_ns();
        // 30 ms of sleep, less one tick of lag at each end.
        assert!(later - start >= 10_000_000, "{} ns", later - start);
    }

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
    fn parses_rfc3339_and_round_trips() {
        for t in [0, 1_795_761_014_123, Timestamp::MAX.0, Timestamp::MIN.0, -1] {
            let ts = Timestamp(t);
            assert_eq!(Timestamp::parse_rfc3339(&ts.to_string(), "x").unwrap(), ts);
            assert_eq!(
                Timestamp::parse_rfc3339(&ts.to_rfc3339_seconds(), "x").unwrap(),
                ts
            );
        }
        let p = |s: &str| Timestamp::parse_rfc3339(s, "expireAt");
        assert_eq!(
            p("2026-11-27T07:30:14.1+01:00").unwrap().0,
            1_795_761_014_100
        );
        assert_eq!(
            Timestamp(1_795_761_014_000).to_rfc3339_seconds(),
            "2026-11-27T06:30:14Z"
        );
        for bad in [
            "",
            "2026-11-27",
            "2026-02-30T00:00:00Z",
            "2026-11-27T24:00:00Z",
            "2026-11-27T00:00:00",
            "2026-11-27T00:00:00+1:00",
            "2026-11-27T00:00:00.Z",
            "２026-11-27T00:00:00Z",
            "2026-11-27 00:00:00Z",
        ] {
            let e = p(bad).unwrap_err();
            assert_eq!(e.field(), Some("expireAt"), "{bad}");
        }
        assert!(p("2024-02-29T00:00:00Z").is_ok());
        assert!(p("2023-02-29T00:00:00Z").is_err());
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

//! Times as the shop keeps them: Unix milliseconds (one 64-bit integer column in SQLite and
//! PostgreSQL alike), and their conversions.

use time::OffsetDateTime;

/// Stored milliseconds as a time (the epoch for a value out of range).
#[must_use]
pub fn from_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// A time as stored.
#[must_use]
pub fn to_ms(at: OffsetDateTime) -> i64 {
    i64::try_from(at.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let at = time::macros::datetime!(2026-12-06 12:00:00.123 UTC);
        assert_eq!(from_ms(to_ms(at)), at);
    }
}

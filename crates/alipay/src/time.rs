//! Beijing time, the only clock Alipay speaks.
//!
//! Every timestamp on the wire (`timestamp`, `gmt_payment`, `notify_time`, `time_expire`...) is
//! written `yyyy-MM-dd HH:mm:ss` in UTC+8 without a zone marker. Most SDKs use the server's local
//! zone and break on servers running in UTC; here the offset is a constant, so no time-zone database
//! is consulted and the server's zone never matters.

use time::format_description::FormatItem;
use time::macros::{format_description, offset};
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// UTC+8, China Standard Time (no daylight saving since 1991).
pub const BEIJING: UtcOffset = offset!(+8);

const WIRE: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
const WIRE_MINUTES: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]");
const WIRE_FRACTION: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day] [hour]:[minute]:[second].[subsecond]");

/// Why a text is not an Alipay timestamp.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a time of the form yyyy-MM-dd HH:mm:ss")]
pub struct TimeError(pub String);

/// The current time in Beijing.
#[must_use]
pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc().to_offset(BEIJING)
}

/// Formats an instant as Alipay writes it: `yyyy-MM-dd HH:mm:ss`, in Beijing time.
#[must_use]
pub fn format(at: OffsetDateTime) -> String {
    at.to_offset(BEIJING)
        .format(WIRE)
        .expect("a four-digit year always formats")
}

/// Parses `yyyy-MM-dd HH:mm:ss` as Beijing time.
///
/// Also accepts the variants Alipay emits elsewhere: fractional seconds (`gmt_refund` in refund
/// notifications, `2015-04-28 15:45:57.320`) and minutes only (`time_expire` on wap pay).
pub fn parse(text: &str) -> Result<OffsetDateTime, TimeError> {
    [WIRE, WIRE_FRACTION, WIRE_MINUTES]
        .iter()
        .find_map(|format| PrimitiveDateTime::parse(text, format).ok())
        .map(|at| at.assume_offset(BEIJING))
        .ok_or_else(|| TimeError(text.to_owned()))
}

/// Parses only the strict `yyyy-MM-dd HH:mm:ss` form (what a request `timestamp` must be).
pub fn parse_strict(text: &str) -> Result<OffsetDateTime, TimeError> {
    PrimitiveDateTime::parse(text, WIRE)
        .map(|at| at.assume_offset(BEIJING))
        .map_err(|_| TimeError(text.to_owned()))
}

/// Serde for `Option<OffsetDateTime>` fields written as Alipay timestamps (absent or empty = `None`).
pub mod serde_opt {
    use serde::{Deserialize, Deserializer, Serializer};
    use time::OffsetDateTime;

    /// Writes `yyyy-MM-dd HH:mm:ss` in Beijing time.
    pub fn serialize<S: Serializer>(at: &Option<OffsetDateTime>, s: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => s.serialize_str(&super::format(*at)),
            None => s.serialize_none(),
        }
    }

    /// Reads any form [`super::parse`] accepts.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let text = Option::<std::borrow::Cow<'de, str>>::deserialize(d)?;
        match text.as_deref() {
            None | Some("") => Ok(None),
            Some(text) => super::parse(text)
                .map(Some)
                .map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn formats_in_beijing_whatever_the_input_offset() {
        assert_eq!(
            format(datetime!(2024-05-01 04:00:00 UTC)),
            "2024-05-01 12:00:00"
        );
        assert_eq!(
            format(datetime!(2024-04-30 23:30:05 -05:00)),
            "2024-05-01 12:30:05"
        );
        assert_eq!(now().offset(), BEIJING);
    }

    #[test]
    fn parses_the_wire_forms() {
        let at = parse("2023-12-21 16:26:43").unwrap();
        assert_eq!(at, datetime!(2023-12-21 08:26:43 UTC));
        assert_eq!(at.offset(), BEIJING);
        assert_eq!(
            parse("2015-04-28 15:45:57.320").unwrap(),
            datetime!(2015-04-28 15:45:57.320 +8)
        );
        assert_eq!(
            parse("2024-05-20 13:34").unwrap(),
            datetime!(2024-05-20 13:34 +8)
        );
        for bad in [
            "",
            "2024-05-20",
            "2024-05-20T12:00:00",
            "2024/05/20 12:00:00",
            "2024-13-01 00:00:00",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert!(parse_strict("2024-05-20 13:34").is_err());
    }
}

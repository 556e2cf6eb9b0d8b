//! Opaque page cursors, bound to the listing that made them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::{Error, Result};

/// Encodes a position with a fingerprint of the listing's filters.
pub(crate) fn encode(position: i64, fingerprint: &str) -> String {
    let tag = crc32fast::hash(fingerprint.as_bytes());
    URL_SAFE_NO_PAD.encode(format!("v1:{position}:{tag:08x}"))
}

/// Decodes a cursor, refusing one made by another listing (other filters or org).
pub(crate) fn decode(cursor: &str, fingerprint: &str) -> Result<i64> {
    let bad = || {
        Error::invalid(
            "cursor",
            "is not a cursor of this listing (same filters and org)",
        )
    };
    let raw = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.split(':');
    let (Some("v1"), Some(pos), Some(tag), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let position: i64 = pos.parse().map_err(|_| bad())?;
    if tag != format!("{:08x}", crc32fast::hash(fingerprint.as_bytes())) || position < 0 {
        return Err(bad());
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_for_the_same_listing_only() {
        let c = encode(42, "org=a;status=all");
        assert_eq!(decode(&c, "org=a;status=all").unwrap(), 42);
        assert!(decode(&c, "org=b;status=all").is_err());
        assert!(decode("garbage", "org=a;status=all").is_err());
        assert!(decode("", "org=a;status=all").is_err());
    }
}

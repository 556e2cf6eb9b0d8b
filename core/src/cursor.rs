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
    // Only the text `encode` writes: no sign, no leading zeros, lowercase tag.
    if tag != format!("{:08x}", crc32fast::hash(fingerprint.as_bytes()))
        || position < 0
        || pos != position.to_string()
    {
        return Err(bad());
    }
    Ok(position)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trips_for_the_same_listing_only() {
        let c = encode(42, "org=a;status=all");
        assert_eq!(decode(&c, "org=a;status=all").unwrap(), 42);
        assert!(decode(&c, "org=b;status=all").is_err());
        assert!(decode("garbage", "org=a;status=all").is_err());
        assert!(decode("", "org=a;status=all").is_err());
    }

    #[test]
    fn only_the_canonical_text_is_accepted() {
        let tag = format!("{:08x}", crc32fast::hash(b"f"));
        for pos in ["+5", "05", "-0", " 5", "5 "] {
            let c = URL_SAFE_NO_PAD.encode(format!("v1:{pos}:{tag}"));
            assert!(decode(&c, "f").is_err(), "{pos:?}");
        }
        let upper = URL_SAFE_NO_PAD.encode(format!("v1:5:{}", tag.to_uppercase()));
        assert!(tag == tag.to_uppercase() || decode(&upper, "f").is_err());
        assert_eq!(
            decode(&URL_SAFE_NO_PAD.encode(format!("v1:5:{tag}")), "f").unwrap(),
            5
        );
    }

    proptest! {
        #[test]
        fn cursors_round_trip_for_their_listing(position in 0i64.., fingerprint in ".*", other in ".*") {
            let c = encode(position, &fingerprint);
            prop_assert_eq!(decode(&c, &fingerprint).unwrap(), position);
            if crc32fast::hash(other.as_bytes()) != crc32fast::hash(fingerprint.as_bytes()) {
                prop_assert!(decode(&c, &other).is_err());
            }
        }

        #[test]
        fn an_accepted_cursor_is_the_one_encode_writes(text in "[A-Za-z0-9_-]{0,40}", fingerprint in "[a-z]{0,3}") {
            if let Ok(position) = decode(&text, &fingerprint) {
                prop_assert_eq!(encode(position, &fingerprint), text);
            }
        }

        #[test]
        fn decoded_text_of_any_shape_is_handled(position in any_position(), tag in any_tag()) {
            let c = URL_SAFE_NO_PAD.encode(format!("v1:{position}:{tag}"));
            if let Ok(p) = decode(&c, "") {
                prop_assert_eq!(encode(p, ""), c);
            }
        }
    }

    fn any_position() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|p| p.to_string()),
            "[+-]?0*[0-9]{1,20}",
        ]
    }

    /// The tag of the empty fingerprint, other spellings of it, or anything.
    fn any_tag() -> impl Strategy<Value = String> {
        let tag = format!("{:08x}", crc32fast::hash(b""));
        prop_oneof![
            Just(tag.clone()),
            Just(tag.to_uppercase()),
            Just(format!("0{tag}")),
            "[0-9a-fA-F]{0,9}",
        ]
    }
}

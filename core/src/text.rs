//! Rules for the free-text fields: key names, descriptions, organization names and
//! actors (docs/keys.md).

use unicode_general_category::{GeneralCategory, get_general_category};

use crate::error::{Error, Result};

/// Longest key name, in Unicode scalar values.
pub const MAX_NAME_CHARS: usize = 255;
/// Longest description, in Unicode scalar values.
pub const MAX_DESCRIPTION_CHARS: usize = 1024;
/// Longest organization name, in ASCII characters.
pub const MAX_ORG_CHARS: usize = 64;
/// Longest audit actor, in Unicode scalar values.
pub const MAX_ACTOR_CHARS: usize = 255;

/// The organization a store handle manages when none is named.
pub const DEFAULT_ORG: &str = "default";

/// True for Unicode Cc (control) and Cf (format: bidi controls, zero-width joiners…).
fn is_control_or_format(c: char) -> bool {
    c.is_control() || get_general_category(c) == GeneralCategory::Format
}

/// Counts scalar values, giving up past `max` so a megabyte string costs no more than
/// a long one.
fn count_up_to(s: &str, max: usize) -> usize {
    s.chars().take(max + 1).count()
}

fn check_chars(field: &str, s: &str, allow_line_feed: bool) -> Result<()> {
    for (i, c) in s.chars().enumerate() {
        if is_control_or_format(c) && !(allow_line_feed && c == '\n') {
            return Err(Error::invalid(
                field,
                format!(
                    "contains the control or format character U+{:04X} at position {i}",
                    c as u32
                ),
            ));
        }
    }
    Ok(())
}

/// Text as `list_keys(search=…)` compares it: Unicode lower case, the same on every
/// backend (never the database's collation).
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// True when `hay`, folded, contains `needle_folded` (already folded by [`fold`]).
pub fn contains_folded(hay: &str, needle_folded: &str) -> bool {
    fold(hay).contains(needle_folded)
}

/// Checks a key name: 1–255 scalar values, no Cc/Cf characters, no leading or
/// trailing whitespace.
pub fn validate_name(name: &str) -> Result<()> {
    validate_label("name", name, MAX_NAME_CHARS)
}

/// Checks an audit actor with the same rules as a name.
pub fn validate_actor(actor: &str) -> Result<()> {
    validate_label("actor", actor, MAX_ACTOR_CHARS)
}

fn validate_label(field: &str, s: &str, max: usize) -> Result<()> {
    if s.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    if count_up_to(s, max) > max {
        return Err(Error::invalid(
            field,
            format!("is longer than {max} characters"),
        ));
    }
    check_chars(field, s, false)?;
    if s.starts_with(char::is_whitespace) || s.ends_with(char::is_whitespace) {
        return Err(Error::invalid(
            field,
            "must not start or end with whitespace",
        ));
    }
    Ok(())
}

/// Checks a description: at most 1024 scalar values, no Cc/Cf characters except
/// line feed.
pub fn validate_description(description: &str) -> Result<()> {
    if count_up_to(description, MAX_DESCRIPTION_CHARS) > MAX_DESCRIPTION_CHARS {
        return Err(Error::invalid(
            "description",
            format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    check_chars("description", description, true)
}

/// Checks an organization name: `[A-Za-z0-9_.-]{1,64}`.
pub fn validate_org(org: &str) -> Result<()> {
    if org.is_empty() || org.len() > MAX_ORG_CHARS {
        return Err(Error::invalid(
            "org",
            format!("must be 1 to {MAX_ORG_CHARS} characters"),
        ));
    }
    if let Some(c) = org
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
    {
        return Err(Error::invalid(
            "org",
            format!("contains {c:?}; only A-Z, a-z, 0-9, '_', '.' and '-' are allowed"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_255_multibyte_characters_and_refuses_256() {
        assert!(validate_name(&"é".repeat(255)).is_ok());
        assert!(validate_name(&"🔑".repeat(255)).is_ok());
        let e = validate_name(&"🔑".repeat(256)).unwrap_err();
        assert_eq!(e.field(), Some("name"));
    }

    #[test]
    fn refuses_empty_and_whitespace_only_names() {
        assert!(validate_name("").is_err());
        assert!(validate_name("   ").is_err());
        assert!(validate_name("\u{3000}").is_err());
    }

    #[test]
    fn refuses_leading_or_trailing_whitespace() {
        assert!(validate_name(" ci").is_err());
        assert!(validate_name("ci\t").is_err());
        assert!(validate_name("ci deployer").is_ok());
    }

    #[test]
    fn refuses_control_and_format_characters_in_names() {
        for bad in [
            "a\0b",
            "a\nb",
            "a\u{7f}b",
            "a\u{202e}b",
            "a\u{200b}b",
            "a\u{2066}b",
            "a\u{feff}b",
        ] {
            let e = validate_name(bad).unwrap_err();
            assert!(e.message().contains("U+"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn descriptions_allow_line_feed_only() {
        assert!(validate_description("line one\nline two").is_ok());
        assert!(validate_description("").is_ok());
        assert!(validate_description("tab\there").is_err());
        assert!(validate_description("cr\r\n").is_err());
        assert!(validate_description("bidi \u{202e}").is_err());
        assert!(validate_description(&"d".repeat(1024)).is_ok());
        assert!(validate_description(&"d".repeat(1025)).is_err());
    }

    #[test]
    fn refuses_megabyte_strings_quickly() {
        let big = "x".repeat(1 << 20);
        assert!(validate_name(&big).is_err());
        assert!(validate_description(&big).is_err());
        assert!(validate_org(&big).is_err());
    }

    #[test]
    fn org_names_follow_the_pattern() {
        for ok in ["default", "acme", "a", "A.b_c-9", &"o".repeat(64)] {
            assert!(validate_org(ok).is_ok(), "{ok}");
        }
        for bad in ["", "ac me", "acme/x", "é", &"o".repeat(65)] {
            assert!(validate_org(bad).is_err(), "{bad}");
        }
    }
}

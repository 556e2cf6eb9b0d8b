//! The one list of error kinds (docs/errors.md), shared by every language binding.

use std::fmt;

/// What went wrong, as a stable code. Bindings map every variant with an exhaustive
/// `match` (no wildcard arm), so adding a kind fails to compile until each language
/// handles it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// An argument breaks a rule; the message names the field and says why.
    InvalidInput,
    /// No key with that id (in this organization).
    NotFound,
    /// A stale `expected_version`, or a duplicate name.
    Conflict,
    /// Unknown key id, malformed or wrong secret.
    InvalidCredentials,
    /// The key is disabled.
    KeyDisabled,
    /// The key is past its expiry.
    KeyExpired,
    /// The client address is outside the key's networks.
    NetworkDenied,
    /// A token exchange asked for scopes the key lacks.
    InvalidScope,
    /// Too many failed exchanges for this key just now.
    RateLimited,
    /// The access token is malformed, badly signed or not for this service.
    InvalidToken,
    /// The access token is past its `exp`.
    TokenExpired,
    /// The access token was revoked (key deleted, refreshed or disabled).
    TokenRevoked,
    /// The token or the key lacks the permission.
    InsufficientScope,
    /// The database failed, is locked past the timeout, is newer than this build, or
    /// the handle is closed.
    Storage,
    /// A bug, for example a panic caught at a language boundary.
    Internal,
}

impl ErrorKind {
    /// Every kind, in the order of docs/errors.md: bindings test their mapping against this.
    pub const ALL: [ErrorKind; 15] = [
        ErrorKind::InvalidInput,
        ErrorKind::NotFound,
        ErrorKind::Conflict,
        ErrorKind::InvalidCredentials,
        ErrorKind::KeyDisabled,
        ErrorKind::KeyExpired,
        ErrorKind::NetworkDenied,
        ErrorKind::InvalidScope,
        ErrorKind::RateLimited,
        ErrorKind::InvalidToken,
        ErrorKind::TokenExpired,
        ErrorKind::TokenRevoked,
        ErrorKind::InsufficientScope,
        ErrorKind::Storage,
        ErrorKind::Internal,
    ];

    /// The stable snake_case code, identical in every language (`"not_found"`).
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Conflict => "conflict",
            ErrorKind::InvalidCredentials => "invalid_credentials",
            ErrorKind::KeyDisabled => "key_disabled",
            ErrorKind::KeyExpired => "key_expired",
            ErrorKind::NetworkDenied => "network_denied",
            ErrorKind::InvalidScope => "invalid_scope",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::InvalidToken => "invalid_token",
            ErrorKind::TokenExpired => "token_expired",
            ErrorKind::TokenRevoked => "token_revoked",
            ErrorKind::InsufficientScope => "insufficient_scope",
            ErrorKind::Storage => "storage",
            ErrorKind::Internal => "internal",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A keyscope error: a kind, a readable message and, for `invalid_input`, the field
/// at fault (`"networks[2]"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
    details: Option<Box<Details>>,
}

/// The optional parts of an error, boxed so results stay small.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Details {
    field: Option<String>,
    retry_after: Option<u64>,
    required_scope: Option<String>,
    http: Option<(u16, Option<String>)>,
}

impl Error {
    /// An error of `kind` with a readable `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: None,
        }
    }

    /// An `invalid_input` error about `field`; the message reads `"<field>: <why>"`.
    pub fn invalid(field: impl Into<String>, why: impl fmt::Display) -> Self {
        let field = field.into();
        let mut e = Error::new(ErrorKind::InvalidInput, format!("{field}: {why}"));
        e.details_mut().field = Some(field);
        e
    }

    /// An `internal` error (a bug, or a failure of a library keyscope relies on).
    pub fn internal(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Internal, message)
    }

    /// A `storage` error.
    pub fn storage(message: impl Into<String>) -> Self {
        Error::new(ErrorKind::Storage, message)
    }

    /// A `not_found` error for key `id`.
    pub fn not_found(id: &str) -> Self {
        Error::new(ErrorKind::NotFound, format!("no key with id {id}"))
    }

    fn details_mut(&mut self) -> &mut Details {
        self.details.get_or_insert_with(Default::default)
    }

    /// The kind of error.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The stable code of the kind (`"invalid_input"`).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The readable message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The field at fault, for `invalid_input` errors (and `expected_version` for a
    /// stale-version `conflict`, `name` for a name already taken).
    pub fn field(&self) -> Option<&str> {
        self.details.as_ref()?.field.as_deref()
    }

    /// For `rate_limited`: seconds until an attempt may succeed (`Retry-After`).
    pub fn retry_after(&self) -> Option<u64> {
        self.details.as_ref()?.retry_after
    }

    /// For `insufficient_scope`: the grant the request needed (`reports:write`).
    pub fn required_scope(&self) -> Option<&str> {
        self.details.as_ref()?.required_scope.as_deref()
    }

    /// For errors of `authorize_header`: the HTTP status to answer with.
    pub fn http_status(&self) -> Option<u16> {
        self.details.as_ref()?.http.as_ref().map(|h| h.0)
    }

    /// For errors of `authorize_header`: the `WWW-Authenticate` header to send, if any.
    pub fn www_authenticate(&self) -> Option<&str> {
        self.details.as_ref()?.http.as_ref()?.1.as_deref()
    }

    pub(crate) fn with_http(mut self, status: u16, www_authenticate: Option<String>) -> Self {
        self.details_mut().http = Some((status, www_authenticate));
        self
    }

    pub(crate) fn with_field(mut self, field: &str) -> Self {
        self.details_mut().field = Some(field.to_owned());
        self
    }

    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.details_mut().retry_after = Some(seconds);
        self
    }

    pub(crate) fn with_required_scope(mut self, scope: String) -> Self {
        self.details_mut().required_scope = Some(scope);
        self
    }

    /// The same error with its field renamed under a prefix (`grants` → `grants[3]`).
    pub(crate) fn in_field(mut self, field: impl Into<String>) -> Self {
        if self.kind == ErrorKind::InvalidInput {
            let field = field.into();
            let why = match self.field() {
                Some(old) => self
                    .message
                    .strip_prefix(old)
                    .and_then(|m| m.strip_prefix(": "))
                    .unwrap_or(&self.message)
                    .to_owned(),
                None => self.message.clone(),
            };
            self.message = format!("{field}: {why}");
            self.details_mut().field = Some(field);
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// The result type of every fallible keyscope call.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_snake_case() {
        let mut seen = std::collections::HashSet::new();
        for k in ErrorKind::ALL {
            assert!(seen.insert(k.code()), "duplicate code {}", k.code());
            assert!(k.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        }
        assert_eq!(seen.len(), 15);
    }

    #[test]
    fn invalid_names_the_field() {
        let e = Error::invalid("name", "must not be empty");
        assert_eq!(e.kind(), ErrorKind::InvalidInput);
        assert_eq!(e.field(), Some("name"));
        assert_eq!(e.message(), "name: must not be empty");
        let e = e.in_field("grants[2]");
        assert_eq!(e.message(), "grants[2]: must not be empty");
    }
}

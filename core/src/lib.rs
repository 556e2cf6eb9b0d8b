//! keyscope core: API keys with scoped grants and network restrictions, stored in an
//! SQLite file on one machine or a PostgreSQL database for a fleet, and shared by the
//! Python, Node and C bindings.
//!
//! Everything the bindings do is here: the rules of the specification live once, in
//! the module named for each concept.

#![warn(missing_docs)]

pub mod admin;
mod authorize;
mod authz;
pub mod catalog;
mod console;
mod ct;
mod cursor;
pub mod endpoints;
pub mod error;
mod exchange;
pub mod grant;
mod hmac256;
pub mod http;
pub mod jose;
pub mod key;
pub mod keystore;
pub mod migrate;
pub mod network;
pub mod options;
pub mod secret;
pub mod signing;
pub mod store;
pub mod text;
pub mod time;
pub mod token;
mod token_cache;

pub use catalog::Catalog;
pub use endpoints::HttpRequest;
pub use error::{Error, ErrorKind, Result};
pub use grant::{Grant, Permission, Target};
pub use jose::Alg;
pub use key::{
    ApiKey, AuditAction, AuditRecord, KeyStatus, KeyUpdate, ListQuery, NewKey, Page, StatusFilter,
    Summary,
};
pub use keystore::KeyStore;
pub use network::Network;
pub use options::Options;
pub use secret::{Argon2Params, Secret};
pub use signing::{SigningKeyInfo, SigningKeys};
pub use time::Timestamp;
pub use token::{AccessToken, Principal, Scope};

/// The crate README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctest;

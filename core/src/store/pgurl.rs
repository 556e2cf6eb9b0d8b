//! PostgreSQL connection URLs in libpq's URI form:
//! `postgres[ql]://[user[:password]@][host][:port][/dbname][?param=value&…]`.
//!
//! Parsing never echoes the URL or the password: an error names the part that is
//! wrong, and [`PgUrl`]'s `Debug` shows no password.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use percent_encoding::percent_decode_str;

use crate::error::{Error, Result};

/// libpq's `sslmode` values, with libpq's meanings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plain TCP only.
    Disable,
    /// TLS when the server offers it, without checking its certificate.
    Prefer,
    /// TLS, without checking the certificate.
    Require,
    /// TLS with a certificate signed by a trusted root; any host name.
    VerifyCa,
    /// TLS with a certificate signed by a trusted root and naming the host.
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "disable" => SslMode::Disable,
            "prefer" => SslMode::Prefer,
            "require" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" => SslMode::VerifyFull,
            _ => {
                return Err(Error::invalid(
                    "url.sslmode",
                    "must be disable, prefer, require, verify-ca or verify-full",
                ));
            }
        })
    }

    /// The name libpq uses.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }
}

/// A parsed PostgreSQL URL.
#[derive(Clone, PartialEq, Eq)]
pub struct PgUrl {
    /// User name (default: `PGUSER`, else `USER`, else `postgres`).
    pub user: String,
    /// Password (else `PGPASSWORD`); never shown.
    pub password: Option<String>,
    /// Host name, IP address, or a Unix-socket directory (starting with `/`).
    pub host: String,
    /// TCP port (default 5432).
    pub port: u16,
    /// Database name (default: the user name).
    pub dbname: String,
    /// TLS mode (default `verify-full`, `disable` for a loopback host or a socket).
    pub sslmode: SslMode,
    /// PEM file of trusted root certificates for `verify-ca` / `verify-full`.
    pub sslrootcert: Option<PathBuf>,
    /// Connection timeout.
    pub connect_timeout: Option<Duration>,
    /// Reported to the server as `application_name` (default `keyscope`).
    pub application_name: String,
}

impl fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgUrl")
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("host", &self.host)
            .field("port", &self.port)
            .field("dbname", &self.dbname)
            .field("sslmode", &self.sslmode)
            .field("sslrootcert", &self.sslrootcert)
            .field("connect_timeout", &self.connect_timeout)
            .field("application_name", &self.application_name)
            .finish()
    }
}

impl fmt::Display for PgUrl {
    /// The URL without its password, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(
            f,
            "postgresql://{}@{}:{}/{}",
            self.user, host, self.port, self.dbname
        )
    }
}

fn decode(part: &str, field: &str) -> Result<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| Error::invalid(field, "is not valid percent-encoded UTF-8"))
}

/// True for a host that names this machine (TLS is then off by default, as nobody
/// can listen between).
fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.starts_with('/')
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl PgUrl {
    /// Parses `url`; a malformed URL is `invalid_input` naming the part.
    pub fn parse(url: &str) -> Result<Self> {
        Self::parse_with_env(url, |k| std::env::var(k).ok())
    }

    /// [`PgUrl::parse`] with the environment given by `env` (for tests).
    pub fn parse_with_env(url: &str, env: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let rest = url
            .strip_prefix("postgresql://")
            .or_else(|| url.strip_prefix("postgres://"))
            .ok_or_else(|| Error::invalid("url", "must start with postgres:// or postgresql://"))?;
        if rest.contains('#') {
            return Err(Error::invalid("url", "must not have a fragment (#…)"));
        }
        let (before_query, query) = match rest.split_once('?') {
            Some((a, q)) => (a, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match before_query.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (before_query, None),
        };
        // The password may hold '@' only percent-encoded; the last '@' ends userinfo.
        let (userinfo, hostport) = match authority.rsplit_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let (mut user, mut password) = (None, None);
        if let Some(u) = userinfo {
            let (name, pass) = match u.split_once(':') {
                Some((n, p)) => (n, Some(p)),
                None => (u, None),
            };
            if !name.is_empty() {
                user = Some(decode(name, "url.user")?);
            }
            if let Some(p) = pass {
                password = Some(decode(p, "url.password")?);
            }
        }
        if hostport.contains(',') {
            return Err(Error::invalid(
                "url.host",
                "lists several hosts; keyscope connects to one",
            ));
        }
        let (mut host, mut port) = (None, None);
        if let Some(v6) = hostport.strip_prefix('[') {
            let (addr, after) = v6
                .split_once(']')
                .ok_or_else(|| Error::invalid("url.host", "has an unclosed '['"))?;
            addr.parse::<std::net::Ipv6Addr>()
                .map_err(|_| Error::invalid("url.host", "is not an IPv6 address"))?;
            host = Some(addr.to_owned());
            if !after.is_empty() {
                let p = after
                    .strip_prefix(':')
                    .ok_or_else(|| Error::invalid("url.host", "has text after ']'"))?;
                port = Some(p.to_owned());
            }
        } else {
            let (h, p) = match hostport.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (hostport, None),
            };
            if !h.is_empty() {
                let h = decode(h, "url.host")?;
                if h.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    return Err(Error::invalid("url.host", "must not contain spaces"));
                }
                host = Some(h);
            }
            port = p.map(str::to_owned);
        }
        let mut dbname = match path {
            Some(p) if !p.is_empty() => Some(decode(p, "url.dbname")?),
            _ => None,
        };
        let (mut sslmode, mut sslrootcert, mut connect_timeout, mut application_name) =
            (None, None, None, None);
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                Error::invalid("url", "has a query parameter without '=' (key=value)")
            })?;
            let key = decode(k, "url")?;
            let field = format!("url.{key}");
            let value = decode(v, &field)?;
            match key.as_str() {
                "sslmode" => sslmode = Some(SslMode::parse(&value)?),
                "sslrootcert" => sslrootcert = Some(PathBuf::from(value)),
                "connect_timeout" => {
                    let secs: u64 = value
                        .parse()
                        .map_err(|_| Error::invalid(&field, "must be a whole number of seconds"))?;
                    connect_timeout = (secs > 0).then(|| Duration::from_secs(secs));
                }
                "application_name" => application_name = Some(value),
                "host" => host = Some(value),
                "port" => port = Some(value),
                "user" => user = Some(value),
                "password" => password = Some(value),
                "dbname" => dbname = Some(value),
                _ => {
                    return Err(Error::invalid(
                        &field,
                        "is not a connection parameter keyscope knows (sslmode, sslrootcert, \
                         connect_timeout, application_name, host, port, user, password, dbname)",
                    ));
                }
            }
        }
        let port =
            match port.filter(|p| !p.is_empty()) {
                None => 5432,
                Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
                    Error::invalid("url.port", "must be a number from 1 to 65535")
                })?,
            };
        let host = host.unwrap_or_else(|| "localhost".to_owned());
        let user = user
            .or_else(|| env("PGUSER"))
            .or_else(|| env("USER"))
            .unwrap_or_else(|| "postgres".to_owned());
        let password = password.or_else(|| env("PGPASSWORD"));
        let sslmode = sslmode.unwrap_or(if is_loopback(&host) {
            SslMode::Disable
        } else {
            SslMode::VerifyFull
        });
        Ok(PgUrl {
            dbname: dbname.unwrap_or_else(|| user.clone()),
            user,
            password,
            host,
            port,
            sslmode,
            sslrootcert,
            connect_timeout,
            application_name: application_name.unwrap_or_else(|| "keyscope".to_owned()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(url: &str) -> Result<PgUrl> {
        PgUrl::parse_with_env(url, |_| None)
    }

    fn field(url: &str) -> String {
        parse(url).unwrap_err().field().unwrap_or("").to_owned()
    }

    #[test]
    fn parses_every_part() {
        let u = parse(
            "postgresql://app%40corp:p%3Ass@db.internal:6543/keys%20db?sslmode=verify-ca\
             &sslrootcert=/etc/ca.pem&connect_timeout=7&application_name=svc",
        )
        .unwrap();
        assert_eq!(u.user, "app@corp");
        assert_eq!(u.password.as_deref(), Some("p:ss"));
        assert_eq!(u.host, "db.internal");
        assert_eq!(u.port, 6543);
        assert_eq!(u.dbname, "keys db");
        assert_eq!(u.sslmode, SslMode::VerifyCa);
        assert_eq!(u.sslrootcert, Some(PathBuf::from("/etc/ca.pem")));
        assert_eq!(u.connect_timeout, Some(Duration::from_secs(7)));
        assert_eq!(u.application_name, "svc");
    }

    #[test]
    fn defaults_follow_libpq() {
        let u = parse("postgres://db.example.com").unwrap();
        assert_eq!((u.port, u.user.as_str()), (5432, "postgres"));
        assert_eq!(u.dbname, "postgres");
        assert_eq!(u.sslmode, SslMode::VerifyFull);
        for local in [
            "postgres://127.0.0.1/test",
            "postgres://[::1]:5432/test",
            "postgres://localhost/test",
            "postgres:///test?host=/var/run/postgresql",
        ] {
            assert_eq!(parse(local).unwrap().sslmode, SslMode::Disable, "{local}");
        }
        let env = PgUrl::parse_with_env("postgres://h/d", |k| match k {
            "PGUSER" => Some("envuser".into()),
            "PGPASSWORD" => Some("envpass".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(env.user, "envuser");
        assert_eq!(env.password.as_deref(), Some("envpass"));
    }

    #[test]
    fn malformed_parts_are_named_and_never_echo_the_password() {
        assert_eq!(field("postgres://u:pw@h:99999/d"), "url.port");
        assert_eq!(field("postgres://u:pw@h:x/d"), "url.port");
        assert_eq!(field("postgres://h/d?sslmode=verify"), "url.sslmode");
        assert_eq!(field("postgres://h/d?bogus=1"), "url.bogus");
        assert_eq!(
            field("postgres://h/d?connect_timeout=soon"),
            "url.connect_timeout"
        );
        assert_eq!(field("postgres://[::1/d"), "url.host");
        assert_eq!(field("postgres://a,b/d"), "url.host");
        assert_eq!(field("postgres://u:%ff@h/d"), "url.password");
        assert_eq!(field("mysql://h/d"), "url");
        let e = parse("postgres://u:hunter2@h:99999/d").unwrap_err();
        assert!(!e.message().contains("hunter2"), "{}", e.message());
        let u = parse("postgres://u:hunter2@h/d").unwrap();
        assert!(!format!("{u:?}").contains("hunter2"));
        assert!(!u.to_string().contains("hunter2"));
    }
}

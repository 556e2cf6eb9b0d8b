//! Grants: `scope:permission` or `scope.resource:permission` (docs/grants-and-networks.md).

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// Most grants one key may hold.
pub const MAX_GRANTS: usize = 64;

/// Read-Only or Read/Write. `Write` covers `Read`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Read-Only.
    Read,
    /// Read/Write (includes Read-Only).
    Write,
}

impl Permission {
    /// `"read"` or `"write"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Write => "write",
        }
    }

    /// True when holding `self` allows an action needing `needed`.
    pub fn covers(self, needed: Permission) -> bool {
        self >= needed
    }
}

impl FromStr for Permission {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "read" => Ok(Permission::Read),
            "write" => Ok(Permission::Write),
            _ => Err(Error::invalid(
                "permission",
                format!("{s:?} is neither \"read\" nor \"write\""),
            )),
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a scope or resource name: `[A-Za-z][A-Za-z0-9_-]{0,63}`.
pub(crate) fn is_identifier(s: &str) -> bool {
    // By table: one load per character instead of a chain of range tests (every
    // authorization checks its resource and the token's grants).
    const TAIL: [bool; 256] = {
        let mut t = [false; 256];
        let mut c = 0;
        while c < 256 {
            t[c] = matches!(c as u8, b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'_' | b'-');
            c += 1;
        }
        t
    };
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b[1..].iter().fold(true, |ok, &c| ok & TAIL[c as usize])
}

/// A scope, or a resource within a scope: what a grant covers and what `authorize`
/// asks about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target {
    /// The scope (`deployments`).
    pub scope: String,
    /// The resource within it (`networks`), or `None` for the whole scope.
    pub resource: Option<String>,
}

impl Target {
    /// Parses `scope` or `scope.resource`; `field` names the argument in errors.
    pub fn parse(s: &str, field: &str) -> Result<Self> {
        let (scope, resource) = match s.split_once('.') {
            Some((scope, resource)) => (scope, Some(resource)),
            None => (s, None),
        };
        let why = "must be `scope` or `scope.resource`, each a letter then up to 63 \
                   letters, digits, '_' or '-'";
        if !is_identifier(scope) || resource.is_some_and(|r| !is_identifier(r)) {
            return Err(Error::invalid(field, format!("{s:?} {why}")));
        }
        Ok(Target {
            scope: scope.to_owned(),
            resource: resource.map(str::to_owned),
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "{}.{r}", self.scope),
            None => f.write_str(&self.scope),
        }
    }
}

/// One grant: a permission on a scope or on one resource of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Grant {
    /// What the grant covers.
    pub target: Target,
    /// Read-Only or Read/Write.
    pub permission: Permission,
}

impl Grant {
    /// Parses `scope[:.resource]:permission`; `field` names the argument in errors.
    pub fn parse(s: &str, field: &str) -> Result<Self> {
        let Some((target, permission)) = s.rsplit_once(':') else {
            return Err(Error::invalid(
                field,
                format!("{s:?} must be `scope:permission` or `scope.resource:permission`"),
            ));
        };
        let target = Target::parse(target, field)?;
        let permission = permission.parse::<Permission>().map_err(|_| {
            Error::invalid(
                field,
                format!("{s:?} has permission {permission:?}; use \"read\" or \"write\""),
            )
        })?;
        Ok(Grant { target, permission })
    }

    /// True when this grant allows `needed` on `target`: a resource is covered by a
    /// grant on it or on its whole scope; a whole scope only by a scope-wide grant.
    pub fn covers(&self, target: &Target, needed: Permission) -> bool {
        self.covers_parts(&target.scope, target.resource.as_deref(), needed)
    }

    /// [`Grant::covers`] on borrowed parts.
    pub fn covers_parts(&self, scope: &str, resource: Option<&str>, needed: Permission) -> bool {
        covers(
            &self.target.scope,
            self.target.resource.as_deref(),
            self.permission,
            scope,
            resource,
            needed,
        )
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.target, self.permission)
    }
}

/// `s` split at its first `b` (an ASCII byte), without it: what `split_once` gives,
/// by a plain loop (the texts split on every authorization are a few dozen bytes,
/// shorter than the general search's set-up).
pub(crate) fn split_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    debug_assert!(b.is_ascii());
    let i = s.bytes().position(|c| c == b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// `s` split at its last `b` (an ASCII byte): what `rsplit_once` gives.
fn rsplit_once_byte(s: &str, b: u8) -> Option<(&str, &str)> {
    debug_assert!(b.is_ascii());
    let i = s.bytes().rposition(|c| c == b)?;
    Some((&s[..i], &s[i + 1..]))
}

/// The items of a space-separated list, empty ones included: what `split(' ')` gives.
pub(crate) fn words(list: &str) -> impl Iterator<Item = &str> {
    let mut rest = Some(list);
    std::iter::from_fn(move || {
        let r = rest?;
        Some(match split_once_byte(r, b' ') {
            Some((word, more)) => {
                rest = Some(more);
                word
            }
            None => {
                rest = None;
                r
            }
        })
    })
}

/// Splits `scope` or `scope.resource` without allocating; `None` when malformed.
pub fn split_target(s: &str) -> Option<(&str, Option<&str>)> {
    let (scope, resource) = match split_once_byte(s, b'.') {
        Some((scope, resource)) => (scope, Some(resource)),
        None => (s, None),
    };
    (is_identifier(scope) && resource.is_none_or(is_identifier)).then_some((scope, resource))
}

/// Splits `target:permission` without allocating; `None` when malformed.
pub fn split_grant(s: &str) -> Option<(&str, Option<&str>, Permission)> {
    let (target, perm) = rsplit_once_byte(s, b':')?;
    let perm = match perm {
        "read" => Permission::Read,
        "write" => Permission::Write,
        _ => return None,
    };
    let (scope, resource) = split_target(target)?;
    Some((scope, resource, perm))
}

/// True when a grant on (`g_scope`, `g_resource`) with `g_perm` allows `needed` on
/// (`scope`, `resource`).
pub fn covers(
    g_scope: &str,
    g_resource: Option<&str>,
    g_perm: Permission,
    scope: &str,
    resource: Option<&str>,
    needed: Permission,
) -> bool {
    g_perm.covers(needed) && g_scope == scope && (g_resource.is_none() || g_resource == resource)
}

/// True when the space-separated grant list `list` (a token's `scope`) allows
/// `needed` on (`scope`, `resource`).
pub fn list_covers(list: &str, scope: &str, resource: Option<&str>, needed: Permission) -> bool {
    words(list)
        .filter_map(split_grant)
        .any(|(gs, gr, gp)| covers(gs, gr, gp, scope, resource, needed))
}

/// True when no grant of `grants` covers another.
pub fn cover_free(grants: &[Grant]) -> bool {
    grants.iter().enumerate().all(|(i, a)| {
        grants.iter().enumerate().all(|(j, b)| {
            i == j
                || !covers(
                    &b.target.scope,
                    b.target.resource.as_deref(),
                    b.permission,
                    &a.target.scope,
                    a.target.resource.as_deref(),
                    a.permission,
                )
        })
    })
}

/// [`intersect_scope`] for a key whose grants are also given as text
/// (`grant_texts`) and known to be cover-free: when every grant of the token is one of
/// the key's, the token's scope stands as written and nothing is parsed.
pub fn intersect_scope_with(
    list: &str,
    grants: &[Grant],
    grant_texts: &[String],
    cover_free: bool,
) -> Vec<String> {
    let mut out = Vec::with_capacity(grant_texts.len());
    intersect_scope_into(list, grants, grant_texts, cover_free, &mut out);
    out
}

/// Where [`intersect_scope_into`] writes a scope: a list of grants, or a Principal
/// being built (its one buffer).
pub(crate) trait ScopeOut {
    /// True when `grant` was written already.
    fn has(&self, grant: &str) -> bool;
    /// Writes `grant`.
    fn push(&mut self, grant: &str);
    /// Forgets what was written.
    fn clear(&mut self);
    /// Writes `grants`, whose texts are `spaced` (each followed by a space), in one
    /// step.
    fn push_all(&mut self, grants: &[String], spaced: &str) {
        let _ = spaced;
        for g in grants {
            self.push(g);
        }
    }
}

impl ScopeOut for Vec<String> {
    fn has(&self, grant: &str) -> bool {
        self.iter().any(|g| g == grant)
    }
    fn push(&mut self, grant: &str) {
        Vec::push(self, grant.to_owned());
    }
    fn clear(&mut self) {
        Vec::clear(self);
    }
}

/// The scope step of an authorization for a key whose grants are cover-free, in one
/// pass over the token's grants: each is looked up among the key's grants by its text
/// (so nothing is parsed). When every one is found, the token's scope stands as
/// written: it is written to `out` (each grant once) and the answer is whether one of
/// them allows `needed` on (`scope`, `resource`) — which is then what
/// [`list_covers`] and the key's grants together answer, as each grant found is one
/// of the key's. `None` (and `out` cleared) when a grant is not among the key's, or the
/// key is not cover-free: the caller takes the general path.
///
/// `spaced` is the key's grant texts, each followed by a space. A token issued for
/// the key's whole scope, while the key still holds exactly that, has that scope
/// (less the last space): then one comparison stands for the search of each grant,
/// and the scope is written in one copy.
pub(crate) fn held_scope_covers(
    list: &str,
    grants: &[Grant],
    grant_texts: &[String],
    spaced: &str,
    cover_free: bool,
    target: (&str, Option<&str>, Permission),
    out: &mut impl ScopeOut,
) -> Option<bool> {
    if !cover_free {
        return None;
    }
    let (scope, resource, needed) = target;
    if spaced.len() == list.len() + 1 && spaced.as_bytes().starts_with(list.as_bytes()) {
        // Cover-free grants are distinct, so each is written once.
        out.push_all(grant_texts, spaced);
        return Some(
            grants
                .iter()
                .any(|g| g.covers_parts(scope, resource, needed)),
        );
    }
    let mut allowed = false;
    // Which of the key's first 64 grants were written already: a token grant is the
    // key's grant `i` exactly when its text is, so a bit answers what comparing with
    // every grant written so far would.
    let mut written = 0u64;
    for t in words(list).filter(|t| !t.is_empty()) {
        let Some(i) = grant_texts.iter().position(|g| g == t) else {
            out.clear();
            return None;
        };
        allowed |= grants[i].covers_parts(scope, resource, needed);
        let new = match 1u64.checked_shl(i as u32) {
            Some(bit) => {
                written & bit == 0 && {
                    written |= bit;
                    true
                }
            }
            None => !out.has(t),
        };
        if new {
            out.push(t);
        }
    }
    Some(allowed)
}

/// [`intersect_scope_with`], written to `out`.
pub(crate) fn intersect_scope_into(
    list: &str,
    grants: &[Grant],
    grant_texts: &[String],
    cover_free: bool,
    out: &mut impl ScopeOut,
) {
    if cover_free {
        let mut all_held = true;
        for t in words(list).filter(|t| !t.is_empty()) {
            if !grant_texts.iter().any(|g| g == t) {
                all_held = false;
                break;
            }
            if !out.has(t) {
                out.push(t);
            }
        }
        if all_held {
            return;
        }
        out.clear();
    }
    for g in intersect_scope(list, grants) {
        out.push(&g);
    }
}

/// The grants that both the space-separated list `list` (a token's `scope`) and
/// `grants` (a key's current grants) allow, in the list's order, each once and none
/// covered by another. Where a token grant and a key grant overlap, their meet is the
/// narrower target with the lower permission: a token's `deployments:write` under a
/// key now holding `deployments.networks:read` gives `deployments.networks:read`.
pub fn intersect_scope(list: &str, grants: &[Grant]) -> Vec<String> {
    // The common case, on every authorization: the key still allows all of the
    // token's scope. The answer is then the token's own grants (each once, none
    // covered by another), copied as written — no meets to compute or format.
    let token: Vec<(&str, Option<&str>, Permission, &str)> = words(list)
        .filter_map(|t| split_grant(t).map(|(s, r, p)| (s, r, p, t)))
        .collect();
    if token
        .iter()
        .all(|&(s, r, p, _)| grants.iter().any(|g| g.covers_parts(s, r, p)))
    {
        return token
            .iter()
            .enumerate()
            .filter(|&(i, &(s, r, p, _))| {
                let earlier_same = token[..i]
                    .iter()
                    .any(|&(gs, gr, gp, _)| (gs, gr, gp) == (s, r, p));
                let covered = token.iter().any(|&(gs, gr, gp, _)| {
                    (gs, gr, gp) != (s, r, p) && covers(gs, gr, gp, s, r, p)
                });
                !earlier_same && !covered
            })
            .map(|(_, t)| t.3.to_owned())
            .collect();
    }
    intersect_by_meets(list, grants)
}

/// [`intersect_scope`] in general: every meet of a token grant with a key grant.
fn intersect_by_meets(list: &str, grants: &[Grant]) -> Vec<String> {
    let mut meets: Vec<(&str, Option<&str>, Permission)> = Vec::new();
    for (ts, tr, tp) in words(list).filter_map(split_grant) {
        for g in grants.iter().filter(|g| g.target.scope == ts) {
            let gr = g.target.resource.as_deref();
            let resource = match (tr, gr) {
                (Some(a), Some(b)) if a != b => continue,
                (Some(a), _) => Some(a),
                (None, b) => b,
            };
            let meet = (ts, resource, tp.min(g.permission));
            if !meets.contains(&meet) {
                meets.push(meet);
            }
        }
    }
    let covered_by_another = |i: usize| {
        let (s, r, p) = meets[i];
        meets.iter().enumerate().any(|(j, &(gs, gr, gp))| {
            j != i && (gs, gr, gp) != (s, r, p) && covers(gs, gr, gp, s, r, p)
        })
    };
    (0..meets.len())
        .filter(|&i| !covered_by_another(i))
        .map(|i| {
            let (s, r, p) = meets[i];
            match r {
                Some(r) => format!("{s}.{r}:{p}"),
                None => format!("{s}:{p}"),
            }
        })
        .collect()
}

/// Parses a key's grant list: 1–64 grants, no two on the same scope or resource.
pub fn parse_grants<S: AsRef<str>>(grants: &[S]) -> Result<Vec<Grant>> {
    if grants.is_empty() {
        return Err(Error::invalid("grants", "at least one grant is required"));
    }
    if grants.len() > MAX_GRANTS {
        return Err(Error::invalid(
            "grants",
            format!("{} grants given; the limit is {MAX_GRANTS}", grants.len()),
        ));
    }
    let mut out: Vec<Grant> = Vec::with_capacity(grants.len());
    for (i, g) in grants.iter().enumerate() {
        let field = format!("grants[{i}]");
        let grant = Grant::parse(g.as_ref(), &field)?;
        if let Some(j) = out.iter().position(|o| o.target == grant.target) {
            return Err(Error::invalid(
                field,
                format!("{} duplicates grants[{j}] ({})", grant, out[j]),
            ));
        }
        out.push(grant);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_by_table_are_the_identifiers_by_rule() {
        let rule = |s: &str| {
            let b = s.as_bytes();
            !b.is_empty()
                && b.len() <= 64
                && b[0].is_ascii_alphabetic()
                && b[1..]
                    .iter()
                    .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b'-')
        };
        for c in 0..=255u8 {
            for text in [vec![b'a', c], vec![c], vec![b'a', c, b'z']] {
                if let Ok(text) = String::from_utf8(text) {
                    assert_eq!(is_identifier(&text), rule(&text), "{text:?}");
                }
            }
        }
        for text in [
            "",
            "a",
            "deployments",
            "a-b_c9",
            "9a",
            "_a",
            "a.b",
            "ä",
            &"a".repeat(64),
            &"a".repeat(65),
        ] {
            assert_eq!(is_identifier(text), rule(text), "{text:?}");
        }
    }

    #[test]
    fn the_byte_splitters_agree_with_the_standard_ones() {
        let texts = [
            "",
            " ",
            "  ",
            "a",
            "a b",
            "a  b",
            " a",
            "a ",
            "a.b.c",
            ".a",
            "a.",
            "..",
            "a:b:c",
            ":",
            "é.ü:ß x",
            "deployments.networks:write reports:read",
        ];
        for t in texts {
            assert_eq!(
                words(t).collect::<Vec<_>>(),
                t.split(' ').collect::<Vec<_>>(),
                "{t:?}"
            );
            assert_eq!(split_once_byte(t, b'.'), t.split_once('.'), "{t:?}");
            assert_eq!(rsplit_once_byte(t, b':'), t.rsplit_once(':'), "{t:?}");
        }
    }

    #[test]
    fn the_fast_intersection_agrees_with_the_general_one() {
        let pool = [
            "deployments:write",
            "deployments:read",
            "deployments.networks:write",
            "deployments.networks:read",
            "deployments.regions:read",
            "reports:read",
            "reports:write",
            "admin.users:read",
        ];
        let (mut checked, mut held_answers) = (0, 0);
        // Every key of up to three grants from the pool, every token of up to three.
        let sets: Vec<Vec<&str>> = (0u32..(1 << pool.len()))
            .filter(|m| m.count_ones() <= 3 && *m != 0)
            .map(|m| {
                (0..pool.len())
                    .filter(|i| m & (1 << i) != 0)
                    .map(|i| pool[i])
                    .collect()
            })
            .collect();
        for key in &sets {
            let Ok(grants) = parse_grants(key) else {
                continue;
            };
            for token in &sets {
                let list = token.join(" ");
                let fast = intersect_scope(&list, &grants);
                let slow = intersect_by_meets(&list, &grants);
                assert_eq!(fast, slow, "token {list:?}, key {key:?}");
                let texts: Vec<String> = grants.iter().map(ToString::to_string).collect();
                let spaced: String = texts.iter().map(|t| format!("{t} ")).collect();
                let fastest = intersect_scope_with(&list, &grants, &texts, cover_free(&grants));
                assert_eq!(fastest, slow, "token {list:?}, key {key:?}");
                // The one-pass scope step: where it answers, the same answer and
                // scope as the two coverage checks and the intersection.
                for target in [
                    "deployments",
                    "deployments.networks",
                    "reports",
                    "admin.users",
                    "x",
                ] {
                    let (scope, res) = split_target(target).unwrap();
                    for needed in [Permission::Read, Permission::Write] {
                        let general = list_covers(&list, scope, res, needed)
                            && grants.iter().any(|g| g.covers_parts(scope, res, needed));
                        let mut out = Vec::new();
                        let held = held_scope_covers(
                            &list,
                            &grants,
                            &texts,
                            &spaced,
                            cover_free(&grants),
                            (scope, res, needed),
                            &mut out,
                        );
                        match held {
                            Some(allowed) => {
                                assert_eq!(allowed, general, "{list:?} {key:?} {target} {needed}");
                                assert_eq!(out, slow, "{list:?} {key:?}");
                                held_answers += 1;
                            }
                            None => assert!(out.is_empty()),
                        }
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 5_000, "{checked}");
        assert!(held_answers > 1_000, "{held_answers}");
    }

    #[test]
    fn the_one_pass_scope_step_writes_each_grant_once_past_the_64th_too() {
        // More grants than a key may hold (64): the step does not rely on the limit.
        let texts: Vec<String> = (0..70).map(|i| format!("s{i}:read")).collect();
        let grants: Vec<Grant> = texts
            .iter()
            .map(|t| Grant::parse(t, "g").unwrap())
            .collect();
        assert!(cover_free(&grants));
        let spaced: String = texts.iter().map(|t| format!("{t} ")).collect();
        let held = |list: &str, target: &str| {
            let mut out = Vec::new();
            let held = held_scope_covers(
                list,
                &grants,
                &texts,
                &spaced,
                true,
                (target, None, Permission::Read),
                &mut out,
            );
            (held, out)
        };
        let list = "s0:read s65:read s65:read s0:read s69:read s3:read s69:read";
        let (allowed, out) = held(list, "s65");
        assert_eq!(allowed, Some(true));
        assert_eq!(out, ["s0:read", "s65:read", "s69:read", "s3:read"]);
        assert_eq!(out, intersect_by_meets(list, &grants));

        // The key's whole scope as written: one comparison, the same answers.
        let whole = texts.join(" ");
        for (target, allowed) in [("s69", true), ("s70", false)] {
            assert_eq!(
                held(&whole, target),
                (Some(allowed), texts.clone()),
                "{target}"
            );
        }
        // A cut grant (not the key's: the general path), or the scope with spaces
        // after it (the same grants, found one by one).
        for list in [&whole[..whole.len() - 1], &format!("{whole}  ")[..]] {
            match held(list, "s69") {
                (Some(_), out) => assert_eq!(out, intersect_by_meets(list, &grants), "{list:?}"),
                (None, out) => assert!(out.is_empty(), "{list:?}"),
            }
        }
    }

    fn t(s: &str) -> Target {
        Target::parse(s, "resource").unwrap()
    }

    #[test]
    fn parses_scope_and_resource_grants() {
        let g = Grant::parse("policies.destinationLists:write", "g").unwrap();
        assert_eq!(g.target.scope, "policies");
        assert_eq!(g.target.resource.as_deref(), Some("destinationLists"));
        assert_eq!(g.permission, Permission::Write);
        assert_eq!(g.to_string(), "policies.destinationLists:write");
        assert_eq!(
            Grant::parse("reports:read", "g").unwrap().to_string(),
            "reports:read"
        );
    }

    #[test]
    fn refuses_malformed_grants() {
        for bad in [
            "",
            "reports",
            "reports:",
            ":read",
            "reports:admin",
            "reports:READ",
            "1reports:read",
            "a.b.c:read",
            "reports.:read",
            "re ports:read",
            "rep/orts:read",
            &format!("{}:read", "a".repeat(65)),
            "reports:read:write",
            "é:read",
        ] {
            assert!(Grant::parse(bad, "grants[0]").is_err(), "{bad:?}");
        }
        assert!(Grant::parse(&format!("{}:read", "a".repeat(64)), "g").is_ok());
    }

    #[test]
    fn write_covers_read() {
        let g = Grant::parse("reports:write", "g").unwrap();
        assert!(g.covers(&t("reports"), Permission::Read));
        assert!(g.covers(&t("reports"), Permission::Write));
        let r = Grant::parse("reports:read", "g").unwrap();
        assert!(!r.covers(&t("reports"), Permission::Write));
    }

    #[test]
    fn scope_wide_grant_covers_its_resources_but_not_the_reverse() {
        let scope = Grant::parse("deployments:read", "g").unwrap();
        assert!(scope.covers(&t("deployments.networks"), Permission::Read));
        let res = Grant::parse("deployments.networks:write", "g").unwrap();
        assert!(res.covers(&t("deployments.networks"), Permission::Read));
        assert!(!res.covers(&t("deployments"), Permission::Read));
        assert!(!res.covers(&t("deployments.sites"), Permission::Read));
        assert!(!res.covers(&t("Deployments.networks"), Permission::Read));
    }

    #[test]
    fn token_scope_lists_cover_like_grants() {
        let list = "deployments.networks:write reports:read";
        assert!(list_covers(
            list,
            "deployments",
            Some("networks"),
            Permission::Read
        ));
        assert!(list_covers(
            list,
            "reports",
            Some("anything"),
            Permission::Read
        ));
        assert!(!list_covers(list, "reports", None, Permission::Write));
        assert!(!list_covers(list, "deployments", None, Permission::Read));
        assert!(!list_covers("", "reports", None, Permission::Read));
        assert_eq!(split_target("a.b.c"), None);
        assert_eq!(
            split_grant("a.b:write"),
            Some(("a", Some("b"), Permission::Write))
        );
    }

    #[test]
    fn refuses_duplicate_grants_on_one_target() {
        let e = parse_grants(&["reports:read", "reports:write"]).unwrap_err();
        assert_eq!(e.field(), Some("grants[1]"));
        assert!(parse_grants(&["reports:read", "reports.x:write"]).is_ok());
    }

    #[test]
    fn grant_count_is_between_1_and_64() {
        assert!(parse_grants::<&str>(&[]).is_err());
        let many: Vec<String> = (0..65).map(|i| format!("s{i}:read")).collect();
        assert!(parse_grants(&many[..64]).is_ok());
        assert!(parse_grants(&many).is_err());
    }

    #[test]
    fn a_token_scope_is_intersected_with_the_current_grants() {
        let g = |list: &[&str]| parse_grants(list).unwrap();
        let both = "deployments:write reports:read";
        assert_eq!(
            intersect_scope(both, &g(&["deployments:write", "reports:read"])),
            ["deployments:write", "reports:read"]
        );
        assert_eq!(
            intersect_scope(both, &g(&["reports:write"])),
            ["reports:read"],
            "a grant the key lost is gone; write on the key does not widen read"
        );
        assert_eq!(
            intersect_scope(both, &g(&["deployments.networks:read", "reports:read"])),
            ["deployments.networks:read", "reports:read"],
            "narrowed to one resource with the lower permission"
        );
        assert_eq!(
            intersect_scope(
                "deployments:read deployments.networks:write",
                &g(&["deployments:read", "deployments.networks:write"])
            ),
            ["deployments:read", "deployments.networks:write"],
            "meets covered by another are dropped"
        );
        assert_eq!(
            intersect_scope(
                "deployments.regions:read",
                &g(&["deployments.networks:write"])
            ),
            Vec::<String>::new()
        );
    }
}

//! Catalogs: which scopes and resources exist and the highest permission each offers
//! (docs/grants-and-networks.md). A catalog is checked when grants are written, never by
//! `authorize`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::grant::{Grant, Permission, is_identifier};

/// The scopes and resources of the Cisco Secure Access API, compiled in.
const SECURE_ACCESS_JSON: &str = include_str!("../data/secure-access-scopes.json");

/// A map of scope → resource → highest permission offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    scopes: BTreeMap<String, BTreeMap<String, Permission>>,
}

impl Catalog {
    /// The built-in catalog of the Cisco Secure Access API (47 resources).
    pub fn secure_access() -> &'static Catalog {
        static CATALOG: OnceLock<Catalog> = OnceLock::new();
        CATALOG.get_or_init(|| {
            Catalog::from_json(SECURE_ACCESS_JSON).expect("the built-in catalog is valid")
        })
    }

    /// A built-in catalog by name (`"secure_access"`).
    pub fn named(name: &str) -> Result<Catalog> {
        match name {
            "secure_access" => Ok(Catalog::secure_access().clone()),
            _ => Err(Error::invalid(
                "catalog",
                format!("unknown built-in catalog {name:?}; the built-in one is \"secure_access\""),
            )),
        }
    }

    /// A catalog from JSON text: `{"scopes": {"<scope>": {"<resource>": "read"|"write"}}}`.
    pub fn from_json(text: &str) -> Result<Catalog> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| Error::invalid("catalog", format!("is not valid JSON: {e}")))?;
        let scopes = value
            .get("scopes")
            .and_then(|s| s.as_object())
            .ok_or_else(|| Error::invalid("catalog", "must have a \"scopes\" object"))?;
        let mut map = BTreeMap::new();
        for (scope, resources) in scopes {
            let resources = resources.as_object().ok_or_else(|| {
                Error::invalid(
                    format!("catalog.scopes.{scope}"),
                    "must map resources to \"read\" or \"write\"",
                )
            })?;
            let mut inner = BTreeMap::new();
            for (resource, perm) in resources {
                let perm = perm.as_str().unwrap_or("");
                inner.insert(
                    resource.clone(),
                    parse_catalog_permission(scope, resource, perm)?,
                );
            }
            map.insert(scope.clone(), inner);
        }
        Catalog::from_map(map)
    }

    /// A catalog from a map of scope → resource → permission, with every name checked.
    pub fn from_map(scopes: BTreeMap<String, BTreeMap<String, Permission>>) -> Result<Catalog> {
        for (scope, resources) in &scopes {
            if !is_identifier(scope) {
                return Err(Error::invalid(
                    "catalog",
                    format!("scope {scope:?} is not a valid scope name"),
                ));
            }
            if let Some(r) = resources.keys().find(|r| !is_identifier(r)) {
                return Err(Error::invalid(
                    "catalog",
                    format!("resource {scope}.{r} is not a valid resource name"),
                ));
            }
        }
        Ok(Catalog { scopes })
    }

    /// The scopes, each with its resources and their highest permission.
    pub fn scopes(&self) -> &BTreeMap<String, BTreeMap<String, Permission>> {
        &self.scopes
    }

    /// Refuses a grant the catalog does not offer: unknown scope or resource, `write`
    /// on a read-only resource, or scope-wide `write` where no resource offers write.
    pub fn check(&self, grant: &Grant, field: &str) -> Result<()> {
        let scope = &grant.target.scope;
        let Some(resources) = self.scopes.get(scope) else {
            return Err(Error::invalid(
                field,
                format!("{grant}: the catalog has no scope {scope:?}"),
            ));
        };
        let offered = match &grant.target.resource {
            Some(r) => *resources.get(r).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!("{grant}: the catalog has no resource {scope}.{r}"),
                )
            })?,
            None => resources
                .values()
                .copied()
                .max()
                .unwrap_or(Permission::Read),
        };
        if !offered.covers(grant.permission) {
            return Err(Error::invalid(
                field,
                format!("{grant}: {} offers only read", grant.target),
            ));
        }
        Ok(())
    }
}

fn parse_catalog_permission(scope: &str, resource: &str, perm: &str) -> Result<Permission> {
    match perm {
        "read" => Ok(Permission::Read),
        "write" => Ok(Permission::Write),
        _ => Err(Error::invalid(
            format!("catalog.scopes.{scope}.{resource}"),
            "must be \"read\" or \"write\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(c: &Catalog, g: &str) -> Result<()> {
        c.check(&Grant::parse(g, "grants[0]").unwrap(), "grants[0]")
    }

    #[test]
    fn secure_access_has_47_resources() {
        let c = Catalog::secure_access();
        let n: usize = c.scopes().values().map(|r| r.len()).sum();
        assert_eq!(n, 47);
    }

    #[test]
    fn secure_access_accepts_offered_grants() {
        let c = Catalog::secure_access();
        for g in [
            "deployments.networks:write",
            "deployments.regions:read",
            "reports:read",
            "deployments:write",
            "policies.destinationLists:write",
        ] {
            assert!(check(c, g).is_ok(), "{g}");
        }
    }

    #[test]
    fn refuses_unknown_scopes_and_resources_naming_the_grant() {
        let c = Catalog::secure_access();
        let e = check(c, "nosuch:read").unwrap_err();
        assert!(e.message().contains("nosuch:read"), "{e}");
        assert!(check(c, "deployments.nosuch:read").is_err());
        assert!(
            check(c, "policies.destinationlists:write").is_err(),
            "case-sensitive"
        );
    }

    #[test]
    fn refuses_write_on_read_only_resource() {
        let c = Catalog::secure_access();
        let e = check(c, "deployments.regions:write").unwrap_err();
        assert!(e.message().contains("offers only read"), "{e}");
    }

    #[test]
    fn refuses_scope_wide_write_where_nothing_offers_write() {
        let c = Catalog::from_json(
            r#"{"scopes":{"reports":{"a":"read","b":"read"},"x":{"y":"write"}}}"#,
        )
        .unwrap();
        assert!(check(&c, "reports:write").is_err());
        assert!(check(&c, "reports:read").is_ok());
        assert!(check(&c, "x:write").is_ok());
    }

    #[test]
    fn refuses_malformed_catalogs() {
        for bad in [
            "[]",
            "{}",
            r#"{"scopes":[]}"#,
            r#"{"scopes":{"s":{"r":"admin"}}}"#,
            r#"{"scopes":{"1s":{"r":"read"}}}"#,
            r#"{"scopes":{"s":{"r.x":"read"}}}"#,
            r#"{"scopes":{"s":"read"}}"#,
        ] {
            assert!(Catalog::from_json(bad).is_err(), "{bad}");
        }
        assert!(Catalog::named("other").is_err());
    }
}

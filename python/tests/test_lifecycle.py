"""The key lifecycle of docs/keys.md and docs/grants-and-networks.md through the Python surface."""

import threading
from datetime import datetime, timedelta, timezone

import pytest

import keyscope
from conftest import CHEAP, T0


def make(store, name="ci", **kw):
    kw.setdefault("grants", ["reports:read"])
    kw.setdefault("now", T0)
    return store.create_key(name, **kw)


def test_create_returns_key_and_secret(store):
    key, secret = make(store, description="deploys", networks=["64.100.10.7/32"], actor="alice")
    assert len(key.id) == 32 and key.org == "default" and key.name == "ci"
    assert key.networks == ["64.100.10.7"]
    assert key.grants == ["reports:read"]
    assert key.status == "active" and key.enabled and key.version == 1
    assert key.expires_at is None
    assert key.created_at == T0 and key.created_at.tzinfo is not None
    assert key.last_refreshed_at is None and key.last_used_at is None
    assert secret.startswith("kss_") and len(secret) == 53


def test_repr_never_shows_the_secret(store):
    key, secret = make(store)
    assert secret not in repr(key)
    assert repr(key).startswith("ApiKey(id='")


def test_datetimes_round_trip_to_the_millisecond(store):
    expires = datetime(2027, 3, 1, 8, 30, 15, 123999, tzinfo=timezone(timedelta(hours=2)))
    key, _ = make(store, expires_at=expires)
    assert key.expires_at == expires.replace(microsecond=123000)
    assert key.expires_at.tzinfo == timezone.utc


def test_naive_datetime_is_invalid_input(store):
    with pytest.raises(keyscope.InvalidInput) as info:
        make(store, expires_at=datetime(2030, 1, 1))
    assert info.value.field == "expires_at"
    with pytest.raises(keyscope.InvalidInput):
        store.get_key("0" * 32, now=datetime(2030, 1, 1))


def test_expiry_must_be_after_now(store):
    with pytest.raises(keyscope.InvalidInput, match="expires_at"):
        make(store, expires_at=T0)


@pytest.mark.parametrize(
    "name",
    ["", "   ", " lead", "trail ", "a\x00b", "bidi\u202eoverride", "zw\u200bsp", "é" * 256, "x" * (1 << 20)],
)
def test_bad_names_are_refused(store, name):
    with pytest.raises(keyscope.InvalidInput) as info:
        make(store, name=name)
    assert info.value.field == "name"


def test_255_multibyte_characters_are_accepted(store):
    key, _ = make(store, name="🔑" * 255)
    assert key.name == "🔑" * 255


def test_lone_surrogates_are_invalid_input(store):
    with pytest.raises(keyscope.InvalidInput) as info:
        make(store, name="bad\ud800")
    assert info.value.field == "name"


@pytest.mark.parametrize(
    "networks, field",
    [
        ([f"64.100.{i}.0/24" for i in range(11)], "networks"),
        (["64.100.10.0/33"], "networks[0]"),
        (["fe80::1%eth0"], "networks[0]"),
        (["064.100.10.7"], "networks[0]"),
        (["64.100.10.7", "64.100.10.7/32"], "networks[1]"),
        (["192.168.1.0/24"], "networks[0]"),
    ],
)
def test_bad_networks_are_refused(store, networks, field):
    with pytest.raises(keyscope.InvalidInput) as info:
        make(store, networks=networks)
    assert info.value.field == field


def test_host_bits_error_suggests_the_network(store):
    with pytest.raises(keyscope.InvalidInput, match=r"did you mean 64\.100\.10\.0/24"):
        make(store, networks=["64.100.10.5/24"])


def test_private_networks_with_option(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, allow_private_networks=True) as s:
        key, _ = make(s, networks=["10.0.0.0/8"])
        assert key.networks == ["10.0.0.0/8"]


def test_parse_networks_reports_entry_position(store):
    assert store.parse_networks("64.100.10.7, 2001:4860::/32") == ["64.100.10.7", "2001:4860::/32"]
    with pytest.raises(keyscope.InvalidInput) as info:
        keyscope.parse_networks("64.100.10.7, nope")
    assert info.value.field == "networks entry 2"


def test_catalog_refuses_grants_it_does_not_offer(location):
    with keyscope.KeyStore.open(location, argon2=CHEAP, catalog="secure_access") as s:
        make(s, grants=["deployments.networks:write", "reports:read"])
        with pytest.raises(keyscope.InvalidInput, match="deployments.regions:write"):
            make(s, name="b", grants=["deployments.regions:write"])


def test_custom_catalog_dict(location):
    catalog = {"scopes": {"billing": {"invoices": "read"}}}
    with keyscope.KeyStore.open(location, argon2=CHEAP, catalog=catalog) as s:
        make(s, grants=["billing.invoices:read"])
        with pytest.raises(keyscope.InvalidInput):
            make(s, name="b", grants=["billing:write"])


def test_names_unique_per_org(store):
    make(store)
    with pytest.raises(keyscope.Conflict):
        make(store)
    key, _ = make(store.org("acme"))
    assert key.org == "acme"


def test_update_patch_semantics(store):
    key, _ = make(store, description="d", expires_at=T0 + timedelta(days=5))
    same = store.update_key(key.id, name="renamed", now=T0)
    assert (same.name, same.description, same.expires_at, same.version) == (
        "renamed", "d", T0 + timedelta(days=5), 2)
    cleared = store.update_key(key.id, description=None, expires_at=None, now=T0)
    assert cleared.description is None and cleared.expires_at is None
    with pytest.raises(keyscope.InvalidInput, match="name"):
        store.update_key(key.id, name=None)


def test_update_expected_version_conflict(store):
    key, _ = make(store)
    store.update_key(key.id, description="x", expected_version=1)
    with pytest.raises(keyscope.Conflict, match="version"):
        store.update_key(key.id, description="y", expected_version=1)


def test_disable_and_status(store):
    key, _ = make(store, expires_at=T0 + timedelta(hours=1))
    assert store.get_key(key.id, now=T0 + timedelta(hours=1)).status == "expired"
    off = store.update_key(key.id, enabled=False, now=T0)
    assert off.status == "disabled" and not off.enabled


def test_list_filters_search_and_pages(store):
    for i in range(5):
        make(store, name=f"k{i}", description="Nightly" if i % 2 else None)
    make(store, name="soon", expires_at=T0 + timedelta(days=3))
    page = store.list_keys(status="all", limit=2, now=T0)
    names = [k.name for k in page.items]
    while page.next_cursor:
        page = store.list_keys(status="all", limit=2, cursor=page.next_cursor, now=T0)
        names += [k.name for k in page]
    assert names == ["k0", "k1", "k2", "k3", "k4", "soon"]
    assert [k.name for k in store.list_keys(search="NIGHTLY").items] == ["k1", "k3"]
    assert [k.name for k in store.list_keys(status="expiring", now=T0).items] == ["soon"]
    assert [k.name for k in store.list_keys(status="expiring", within=timedelta(days=1), now=T0).items] == []
    with pytest.raises(keyscope.InvalidInput):
        store.list_keys(limit=0)
    with pytest.raises(keyscope.InvalidInput):
        store.list_keys(status="bogus")
    with pytest.raises(keyscope.InvalidInput):
        store.list_keys(status="active", cursor=store.list_keys(limit=1).next_cursor)


def test_refresh_and_grace_limits(store):
    key, old = make(store)
    fresh, new = store.refresh_key(key.id, grace=timedelta(hours=1), actor="ops", now=T0)
    assert fresh.id == key.id and new != old and fresh.version == 2
    assert fresh.last_refreshed_at == T0
    with pytest.raises(keyscope.InvalidInput):
        store.refresh_key(key.id, grace=timedelta(days=7, seconds=1))
    with pytest.raises(keyscope.InvalidInput):
        store.refresh_key(key.id, grace=-1)


def test_delete_keeps_audit(store):
    key, _ = make(store, actor="alice")
    store.update_key(key.id, description="x", actor="bob")
    store.delete_key(key.id, actor="carol")
    with pytest.raises(keyscope.NotFound):
        store.get_key(key.id)
    log = store.audit_log(key_id=key.id).items
    assert [r.action for r in log] == ["delete", "update", "create"]
    assert [r.actor for r in log] == ["carol", "bob", "alice"]
    assert log[1].changes == ["description"]


def test_summary(store):
    make(store, name="never")
    make(store, name="expired", expires_at=T0 + timedelta(seconds=1))
    make(store, name="soon", expires_at=T0 + timedelta(days=10))
    off, _ = make(store, name="off")
    store.update_key(off.id, enabled=False)
    s = store.summary(within=timedelta(days=30), now=T0 + timedelta(seconds=2))
    assert (s.total, s.active, s.expired, s.expiring_soon, s.never_expires, s.disabled) == (4, 2, 1, 1, 2, 1)
    assert store.summary(within=86400, now=T0 + timedelta(seconds=2)).expiring_soon == 0


def test_org_view_is_closed(store):
    key, _ = make(store)
    acme = store.org("acme")
    assert acme.org_name == "acme"
    with pytest.raises(keyscope.NotFound):
        acme.get_key(key.id)
    with pytest.raises(keyscope.NotFound):
        acme.delete_key(key.id)
    assert acme.summary().total == 0
    assert len(acme.list_keys()) == 0
    with pytest.raises(keyscope.InvalidInput):
        acme.org("other")


def test_closed_store_raises_storage(db_path):
    s = keyscope.KeyStore.open(db_path, argon2=CHEAP)
    s.close()
    with pytest.raises(keyscope.StorageError):
        s.summary()


def test_context_manager_closes(db_path):
    with keyscope.KeyStore.open(db_path, argon2=CHEAP) as s:
        make(s)
    with pytest.raises(keyscope.StorageError):
        s.get_key("0" * 32)
    with keyscope.KeyStore.open(db_path, argon2=CHEAP) as again:
        assert again.summary().total == 1


def test_unknown_and_bad_options_are_invalid_input():
    with pytest.raises(keyscope.InvalidInput, match="nope"):
        keyscope.KeyStore.open(":memory:", nope=1)
    with pytest.raises(keyscope.InvalidInput, match="token_ttl"):
        keyscope.KeyStore.open(":memory:", token_ttl=10)
    with pytest.raises(keyscope.InvalidInput, match="catalog"):
        keyscope.KeyStore.open(":memory:", catalog="nope")
    with pytest.raises(keyscope.InvalidInput, match="signing_keys"):
        keyscope.KeyStore.open(":memory:", signing_keys=[("k1", b"short")])


def test_threads_share_a_handle_and_release_the_gil(store):
    def worker(t):
        for i in range(5):
            make(store, name=f"t{t}-{i}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.summary().total == 20

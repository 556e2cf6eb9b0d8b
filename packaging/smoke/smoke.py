"""What a user does first with the installed wheel: open a store, create a key,
exchange it for a token, authorize with it. Writes the key id, its secret and the
token as JSON to OUT for the Node and C steps of packaging/test_dist.sh.

    python smoke.py STORE OUT
"""

import json
import sys

import keyscope


def main() -> None:
    store_path, out = sys.argv[1], sys.argv[2]
    assert keyscope.__file__ and "site-packages" in keyscope.__file__, keyscope.__file__
    with keyscope.KeyStore.open(store_path) as store:
        key, secret = store.create_key("dist-smoke", grants=["reports:read"])
        token = store.issue_token(key.id, secret, client_ip="127.0.0.1")
        principal = store.authorize(token.access_token, "reports", "read", "127.0.0.1")
        assert principal.key_id == key.id, principal
        try:
            store.authorize(token.access_token, "reports", "write", "127.0.0.1")
        except keyscope.KeyscopeError as e:
            assert e.code == "insufficient_scope", e.code
        else:
            raise AssertionError("a read-only key was allowed to write")
    with open(out, "w") as f:
        json.dump({"key_id": key.id, "secret": secret, "token": token.access_token}, f)
    print(f"python: keyscope {keyscope.__version__} from {keyscope.__file__}: "
          f"created {key.name}, exchanged, authorized as {principal.key_name}")


if __name__ == "__main__":
    main()

/* Authorizes an access token against a keyscope store, as a C service would.
 *
 *   make example-c
 *   ./target/authorize <store.db> <token> <resource> <read|write> [client-ip]
 *
 * The keys that verify tokens are the store's own, kept in its database (ES256 by
 * default), or KEYSCOPE_SIGNING_KEYS when it is set, as for every other process
 * sharing the store. A store whose private keys are sealed needs the same
 * KEYSCOPE_KEY_ENCRYPTION_KEY. */
#include <stdio.h>
#include <string.h>

#include "keyscope.h"

int main(int argc, char **argv) {
  if (argc < 5) {
    fprintf(stderr, "usage: %s <store.db> <token> <resource> <read|write> [client-ip]\n", argv[0]);
    return 2;
  }
  keyscope_store *store = NULL;
  keyscope_status st = keyscope_store_open(argv[1], NULL, &store);
  if (st != KEYSCOPE_OK) {
    fprintf(stderr, "cannot open %s: %s (%s)\n", argv[1], keyscope_status_code(st), keyscope_last_error());
    return 1;
  }
  keyscope_permission perm = strcmp(argv[4], "write") == 0 ? KEYSCOPE_WRITE : KEYSCOPE_READ;
  keyscope_principal *p = NULL;
  st = keyscope_store_authorize(store, argv[2], argv[3], perm, argc > 5 ? argv[5] : NULL, NULL, &p);
  if (st == KEYSCOPE_OK) {
    printf("allowed: %s %s for key %s (%s, org %s)\n", argv[4], argv[3], keyscope_principal_key_name(p),
           keyscope_principal_key_id(p), keyscope_principal_org(p));
  } else {
    printf("refused: %s (%s)\n", keyscope_status_code(st), keyscope_last_error());
  }
  keyscope_principal_free(p);
  keyscope_store_close(store);
  return st == KEYSCOPE_OK ? 0 : 3;
}

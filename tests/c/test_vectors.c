/* Replays the shared vectors of core/tests/vectors (as the Rust, Python and Node
 * suites do), from the tab-separated form core/tests/vectors/flatten.py writes.
 * Usage: test_vectors <vectors.tsv> */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyscope.h"

static int failures = 0, cases = 0;

static void fail(const char *what, const char *value) {
  fprintf(stderr, "vector failed: %s %s (last error: %s)\n", what, value, keyscope_last_error());
  failures++;
}

/* Unescapes \\ \t \n \xHH in place. */
static void unescape(char *s) {
  char *o = s;
  for (char *p = s; *p; p++) {
    if (*p != '\\') { *o++ = *p; continue; }
    p++;
    if (*p == 't') *o++ = '\t';
    else if (*p == 'n') *o++ = '\n';
    else if (*p == 'x') { char hex[3] = {p[1], p[2], 0}; *o++ = (char)strtol(hex, NULL, 16); p += 2; }
    else *o++ = *p;
  }
  *o = 0;
}

static int split(char *line, char **fields, int max) {
  int n = 0;
  char *p = line;
  while (n < max) {
    fields[n++] = p;
    char *tab = strchr(p, '\t');
    if (!tab) break;
    *tab = 0;
    p = tab + 1;
  }
  for (int i = 0; i < n; i++) unescape(fields[i]);
  return n;
}

static keyscope_status create(keyscope_store *s, const char *name, const char *grant, const char *network,
                              keyscope_created_key **out) {
  keyscope_key_params *p = NULL;
  if (keyscope_key_params_new(&p) != KEYSCOPE_OK) return KEYSCOPE_INTERNAL;
  keyscope_status st = keyscope_key_params_set_name(p, name);
  if (st == KEYSCOPE_OK) st = keyscope_key_params_add_grant(p, grant);
  if (st == KEYSCOPE_OK && network) st = keyscope_key_params_add_network(p, network);
  if (st == KEYSCOPE_OK) st = keyscope_store_create_key(s, p, NULL, out);
  keyscope_key_params_free(p);
  return st;
}

int main(int argc, char **argv) {
  FILE *f = fopen(argc > 1 ? argv[1] : "vectors.tsv", "r");
  if (!f) { perror("vectors"); return 1; }
  keyscope_options *o = NULL;
  keyscope_store *s = NULL, *tokens = NULL;
  if (keyscope_options_new(&o) != KEYSCOPE_OK || keyscope_options_set_argon2(o, 64, 1, 1) != KEYSCOPE_OK ||
      keyscope_store_open(":memory:", o, &s) != KEYSCOPE_OK) {
    fprintf(stderr, "setup: %s\n", keyscope_last_error());
    return 1;
  }
  keyscope_options_free(o);
  int64_t now = 0;
  char resource[64] = "", permission[16] = "";
  static char line[65536];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    char *fl[6] = {0};
    int nf = split(line, fl, 6);
    cases++;
    char name[32];
    snprintf(name, sizeof name, "v%d", n++);
    keyscope_created_key *c = NULL;
    if (strcmp(fl[0], "name") == 0 || strcmp(fl[0], "grant") == 0) {
      int is_name = fl[0][0] == 'n';
      keyscope_status st = create(s, is_name ? fl[2] : name, is_name ? "reports:read" : fl[2], NULL, &c);
      if ((strcmp(fl[1], "valid") == 0) != (st == KEYSCOPE_OK)) fail(fl[0], fl[2]);
      if (st != KEYSCOPE_OK && st != KEYSCOPE_INVALID_INPUT) fail("unexpected status", fl[2]);
    } else if (strcmp(fl[0], "network") == 0) {
      keyscope_status st = create(s, name, "reports:read", fl[2], &c);
      if (strcmp(fl[1], "valid") == 0) {
        if (st != KEYSCOPE_OK || nf < 4 || strcmp(keyscope_key_network(keyscope_created_key_key(c), 0), fl[3]) != 0)
          fail("network", fl[2]);
      } else if (st != KEYSCOPE_INVALID_INPUT) {
        fail("network", fl[2]);
      }
    } else if (strcmp(fl[0], "secret") == 0) {
      if (keyscope_secret_is_well_formed(fl[2], fl[3]) != (strcmp(fl[1], "valid") == 0)) fail("secret", fl[2]);
    } else if (strcmp(fl[0], "token-setup") == 0) {
      uint8_t key[32];
      for (int i = 0; i < 32; i++) { char hex[3] = {fl[2][2 * i], fl[2][2 * i + 1], 0}; key[i] = (uint8_t)strtol(hex, NULL, 16); }
      now = strtoll(fl[3], NULL, 10);
      snprintf(resource, sizeof resource, "%s", fl[4]);
      snprintf(permission, sizeof permission, "%s", fl[5]);
      if (keyscope_options_new(&o) != KEYSCOPE_OK || keyscope_options_add_signing_key(o, fl[1], key, sizeof key) != KEYSCOPE_OK ||
          keyscope_store_open(":memory:", o, &tokens) != KEYSCOPE_OK) fail("token setup", fl[1]);
      keyscope_options_free(o);
    } else if (strcmp(fl[0], "token") == 0) {
      keyscope_principal *p = NULL;
      keyscope_permission perm = strcmp(permission, "write") == 0 ? KEYSCOPE_WRITE : KEYSCOPE_READ;
      keyscope_status st = keyscope_store_authorize(tokens, fl[2], resource, perm, NULL, &now, &p);
      if (strcmp(keyscope_status_code(st), fl[1]) != 0) fail(fl[1], fl[2]);
      keyscope_principal_free(p);
    } else {
      fail("unknown vector kind", fl[0]);
    }
    keyscope_created_key_free(c);
  }
  fclose(f);
  keyscope_store_close(tokens);
  keyscope_store_close(s);
  if (failures) { fprintf(stderr, "%d of %d vectors failed\n", failures, cases); return 1; }
  printf("c vectors ok (%d)\n", cases);
  return 0;
}

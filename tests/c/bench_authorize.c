/* keyscope_store_authorize from C: median time per call on a valid token with warm
 * state (same token, three grants, three networks), and on tokens seen for the first
 * time (10 000 of them, cycled: more than the handle remembers). Run: make bench-c */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyscope.h"

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(void) {
  keyscope_store *store = NULL;
  keyscope_key_params *p = NULL;
  keyscope_created_key *c = NULL;
  keyscope_token *t = NULL;
  keyscope_options *o = NULL;
  /* HS256 with a fixed key, like the other harnesses (a store's own keys are ES256). */
  uint8_t signing[32];
  memset(signing, 'k', sizeof signing);
  if (keyscope_options_new(&o) != KEYSCOPE_OK || keyscope_options_add_signing_key(o, "k1", signing, sizeof signing) != KEYSCOPE_OK ||
      keyscope_store_open(":memory:", o, &store) != KEYSCOPE_OK || keyscope_key_params_new(&p) != KEYSCOPE_OK ||
      keyscope_key_params_set_name(p, "bench") != KEYSCOPE_OK ||
      keyscope_key_params_add_grant(p, "deployments.networks:write") != KEYSCOPE_OK ||
      keyscope_key_params_add_grant(p, "reports:read") != KEYSCOPE_OK ||
      keyscope_key_params_add_grant(p, "policies:read") != KEYSCOPE_OK ||
      keyscope_key_params_add_network(p, "64.100.10.0/24") != KEYSCOPE_OK ||
      keyscope_key_params_add_network(p, "2001:4860::/32") != KEYSCOPE_OK ||
      keyscope_key_params_add_network(p, "8.8.8.0/24") != KEYSCOPE_OK ||
      keyscope_store_create_key(store, p, NULL, &c) != KEYSCOPE_OK ||
      keyscope_store_issue_token(store, keyscope_key_id(keyscope_created_key_key(c)), keyscope_created_key_secret(c),
                                 "64.100.10.7", NULL, NULL, &t) != KEYSCOPE_OK) {
    fprintf(stderr, "setup failed: %s\n", keyscope_last_error());
    return 1;
  }
  const char *token = keyscope_token_access_token(t);
  enum { ROUNDS = 15, N = 200000 };
  double per_call[ROUNDS];
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (int i = 0; i < N; i++) {
      keyscope_principal *pr = NULL;
      if (keyscope_store_authorize(store, token, "deployments.networks", KEYSCOPE_WRITE, "64.100.10.7", NULL, &pr) !=
          KEYSCOPE_OK) {
        fprintf(stderr, "authorize failed: %s\n", keyscope_last_error());
        return 1;
      }
      keyscope_principal_free(pr);
    }
    per_call[r] = (now_ns() - start) / N;
  }
  qsort(per_call, ROUNDS, sizeof per_call[0], cmp);
  printf("keyscope_store_authorize (C, repeat token, incl. principal free)  %.2f µs median\n", per_call[ROUNDS / 2] / 1000);

  enum { FRESH = 10000 };
  static char *fresh[FRESH];
  for (int i = 0; i < FRESH; i++) {
    keyscope_token *f = NULL;
    if (keyscope_store_issue_token(store, keyscope_key_id(keyscope_created_key_key(c)), keyscope_created_key_secret(c),
                                   "64.100.10.7", NULL, NULL, &f) != KEYSCOPE_OK) {
      fprintf(stderr, "issue failed: %s\n", keyscope_last_error());
      return 1;
    }
    fresh[i] = strdup(keyscope_token_access_token(f));
    keyscope_token_free(f);
  }
  for (int r = 0; r < ROUNDS; r++) {
    double start = now_ns();
    for (int i = 0; i < FRESH; i++) {
      keyscope_principal *pr = NULL;
      if (keyscope_store_authorize(store, fresh[i], "deployments.networks", KEYSCOPE_WRITE, "64.100.10.7", NULL, &pr) !=
          KEYSCOPE_OK) {
        fprintf(stderr, "authorize failed: %s\n", keyscope_last_error());
        return 1;
      }
      keyscope_principal_free(pr);
    }
    per_call[r] = (now_ns() - start) / FRESH;
  }
  qsort(per_call, ROUNDS, sizeof per_call[0], cmp);
  printf("keyscope_store_authorize (C, first sight, incl. principal free)  %.2f µs median\n", per_call[ROUNDS / 2] / 1000);
  for (int i = 0; i < FRESH; i++) free(fresh[i]);
  keyscope_token_free(t);
  keyscope_created_key_free(c);
  keyscope_key_params_free(p);
  keyscope_store_close(store);
  keyscope_options_free(o);
  return 0;
}

/* Interop worker in C: creates keys, then authorizes the given tokens in a loop,
 * logging "<start ms>\t<token index>\t<status code>" per call.
 * Usage: c_worker <db> <tokens file> <seconds> <keys to create> <log file> */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyscope.h"

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv) {
  if (argc < 6) return 2;
  keyscope_options *o = NULL;
  keyscope_store *s = NULL;
  if (keyscope_options_new(&o) || keyscope_options_set_argon2(o, 64, 1, 1) || keyscope_store_open(argv[1], o, &s)) {
    fprintf(stderr, "open: %s\n", keyscope_last_error());
    return 1;
  }
  keyscope_options_free(o);
  static char tokens[64][2048];
  int n = 0;
  FILE *f = fopen(argv[2], "r");
  while (n < 64 && f && fgets(tokens[n], sizeof tokens[n], f)) {
    tokens[n][strcspn(tokens[n], "\n")] = 0;
    n++;
  }
  if (f) fclose(f);
  FILE *log = fopen(argv[5], "w");
  int creates = atoi(argv[4]);
  long long end = now_ms() + atoll(argv[3]) * 1000;
  int created = 0;
  for (long long i = 0; now_ms() < end; i++) {
    if (created < creates && i % 50 == 0) {
      keyscope_key_params *p = NULL;
      keyscope_created_key *c = NULL;
      char name[64];
      snprintf(name, sizeof name, "c-%d", created);
      if (keyscope_key_params_new(&p) || keyscope_key_params_set_name(p, name) ||
          keyscope_key_params_add_grant(p, "reports:read") || keyscope_store_create_key(s, p, NULL, &c)) {
        fprintf(stderr, "create %s: %s\n", name, keyscope_last_error());
        return 1;
      }
      keyscope_created_key_free(c);
      keyscope_key_params_free(p);
      created++;
    }
    int t = (int)(i % n);
    long long start = now_ms();
    keyscope_principal *pr = NULL;
    keyscope_status st = keyscope_store_authorize(s, tokens[t], "reports", KEYSCOPE_READ, NULL, NULL, &pr);
    keyscope_principal_free(pr);
    fprintf(log, "%lld\t%d\t%s\n", start, t, keyscope_status_code(st));
  }
  while (created < creates) { /* finish the creates if the loop was short */
    keyscope_key_params *p = NULL;
    keyscope_created_key *c = NULL;
    char name[64];
    snprintf(name, sizeof name, "c-%d", created++);
    if (keyscope_key_params_new(&p) || keyscope_key_params_set_name(p, name) ||
        keyscope_key_params_add_grant(p, "reports:read") || keyscope_store_create_key(s, p, NULL, &c)) return 1;
    keyscope_created_key_free(c);
    keyscope_key_params_free(p);
  }
  fclose(log);
  keyscope_store_close(s);
  return 0;
}

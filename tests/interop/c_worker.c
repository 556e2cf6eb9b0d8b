/* Interop worker in C, one process with its own store handle (a "host").
 *
 *   c_worker load <store> <dir> <seconds> <keys to create>
 *     Creates keys c-0.., disables the keys listed in <dir>/c_disables.txt one by one
 *     (logging "<id>\t<ms after commit>" to <dir>/c.events), takes part in the
 *     contested-name round of <dir>/contest.txt (first line: start time in ms, then one
 *     name per line; logs "<name>\t<code>\t<id or ->" to <dir>/c.contest), and
 *     authorizes the tokens of <dir>/tokens.txt in a loop the whole time, logging
 *     "<start ms>\t<token index>\t<code>" per call to <dir>/c.log.
 *
 *   c_worker watch <store> <tokens file> <seconds> <out file>
 *     Authorizes every token still accepted, over and over, and writes
 *     "<token index>\t<unix time in us>\t<code>" when a token is first refused; stops
 *     when every token is refused or after <seconds>. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyscope.h"

#define MAX_TOKENS 1024
#define MAX_NAMES 256

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long long now_ms(void) { return now_us() / 1000; }

static void sleep_us(long us) {
  struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
  nanosleep(&ts, NULL);
}

static void sleep_ms(long ms) { sleep_us(ms * 1000); }

static char tokens[MAX_TOKENS][2048];

static int read_lines(const char *path, char (*out)[2048], int max) {
  int n = 0;
  FILE *f = fopen(path, "r");
  while (n < max && f && fgets(out[n], sizeof out[n], f)) {
    out[n][strcspn(out[n], "\n")] = 0;
    if (out[n][0]) n++;
  }
  if (f) fclose(f);
  return n;
}

static keyscope_store *open_store(const char *path) {
  keyscope_options *o = NULL;
  keyscope_store *s = NULL;
  if (keyscope_options_new(&o) || keyscope_options_set_argon2(o, 64, 1, 1) || keyscope_store_open(path, o, &s)) {
    fprintf(stderr, "c_worker: open: %s\n", keyscope_last_error());
    exit(1);
  }
  keyscope_options_free(o);
  return s;
}

/* Creates a key named `name`; returns the status and copies the new id into `id`. */
static keyscope_status create(keyscope_store *s, const char *name, char *id, size_t id_len) {
  keyscope_key_params *p = NULL;
  keyscope_created_key *c = NULL;
  keyscope_status st = keyscope_key_params_new(&p);
  if (st == KEYSCOPE_OK) st = keyscope_key_params_set_name(p, name);
  if (st == KEYSCOPE_OK) st = keyscope_key_params_add_grant(p, "reports:read");
  if (st == KEYSCOPE_OK) st = keyscope_store_create_key(s, p, NULL, &c);
  if (st == KEYSCOPE_OK && id) snprintf(id, id_len, "%s", keyscope_key_id(keyscope_created_key_key(c)));
  keyscope_created_key_free(c);
  keyscope_key_params_free(p);
  return st;
}

static int must_create(keyscope_store *s, int i) {
  char name[64];
  snprintf(name, sizeof name, "c-%d", i);
  keyscope_status st = create(s, name, NULL, 0);
  if (st != KEYSCOPE_OK) {
    fprintf(stderr, "c_worker: create %s: %s (%s)\n", name, keyscope_status_code(st), keyscope_last_error());
    exit(1);
  }
  return 1;
}

static void disable(keyscope_store *s, const char *id, FILE *events) {
  keyscope_key_params *p = NULL;
  keyscope_key *k = NULL;
  keyscope_status st = keyscope_key_params_new(&p);
  if (st == KEYSCOPE_OK) st = keyscope_key_params_set_enabled(p, false);
  if (st == KEYSCOPE_OK) st = keyscope_store_update_key(s, id, p, NULL, &k);
  if (st != KEYSCOPE_OK) {
    fprintf(stderr, "c_worker: disable %s: %s (%s)\n", id, keyscope_status_code(st), keyscope_last_error());
    exit(1);
  }
  fprintf(events, "%s\t%lld\n", id, now_ms());
  keyscope_key_free(k);
  keyscope_key_params_free(p);
}

static int load(const char *db, const char *dir, long long seconds, int creates) {
  static char disables[MAX_TOKENS][2048], contest[MAX_NAMES + 1][2048];
  char path[4096];
  snprintf(path, sizeof path, "%s/tokens.txt", dir);
  int n = read_lines(path, tokens, MAX_TOKENS);
  snprintf(path, sizeof path, "%s/c_disables.txt", dir);
  int n_disables = read_lines(path, disables, MAX_TOKENS);
  snprintf(path, sizeof path, "%s/contest.txt", dir);
  int n_contest = read_lines(path, contest, MAX_NAMES + 1) - 1;
  long long contest_at = n_contest >= 0 ? atoll(contest[0]) : 0;
  if (n == 0) return 2;

  keyscope_store *s = open_store(db);
  snprintf(path, sizeof path, "%s/c.log", dir);
  FILE *log = fopen(path, "w");
  snprintf(path, sizeof path, "%s/c.events", dir);
  FILE *events = fopen(path, "w");
  if (!log || !events) return 1;

  long long start = now_ms(), end = start + seconds * 1000;
  long long disable_every = n_disables ? seconds * 1000 * 6 / 10 / n_disables : 0;
  long long next_disable = start + 300;
  int created = 0, disabled = 0;
  for (long long i = 0; now_ms() < end; i++) {
    if (disabled < n_disables && now_ms() >= next_disable) {
      disable(s, disables[disabled++], events);
      next_disable += disable_every;
    }
    if (n_contest > 0 && now_ms() >= contest_at - 50) { /* the contested names, at the agreed instant */
      while (now_ms() < contest_at) sleep_ms(1);
      snprintf(path, sizeof path, "%s/c.contest", dir);
      FILE *out = fopen(path, "w");
      if (!out) return 1;
      for (int k = 1; k <= n_contest; k++) {
        char id[128] = "-";
        keyscope_status st = create(s, contest[k], id, sizeof id);
        fprintf(out, "%s\t%s\t%s\n", contest[k], st == KEYSCOPE_OK ? "ok" : keyscope_status_code(st), id);
      }
      fclose(out);
      n_contest = 0;
    }
    if (created < creates && i % 50 == 0) created += must_create(s, created);
    int t = (int)(i % n);
    long long at = now_ms();
    keyscope_principal *pr = NULL;
    keyscope_status st = keyscope_store_authorize(s, tokens[t], "reports", KEYSCOPE_READ, NULL, NULL, &pr);
    keyscope_principal_free(pr);
    fprintf(log, "%lld\t%d\t%s\n", at, t, keyscope_status_code(st));
    if (i % 20 == 19) sleep_ms(1);
  }
  while (created < creates) created += must_create(s, created); /* finish if the loop was short */
  while (disabled < n_disables) disable(s, disables[disabled++], events);
  fclose(log);
  fclose(events);
  keyscope_store_close(s);
  return n_contest > 0 ? 3 : 0; /* the run must have been long enough for the contest */
}

static int watch(const char *db, const char *tokens_file, long long seconds, const char *out_file) {
  int n = read_lines(tokens_file, tokens, MAX_TOKENS);
  static char refused[MAX_TOKENS];
  keyscope_store *s = open_store(db);
  FILE *out = fopen(out_file, "w");
  if (!out || n == 0) return 1;
  /* Tell the driver that the handle is open and its state loaded. */
  printf("ready\n");
  fflush(stdout);
  long long end = now_us() + seconds * 1000000;
  int left = n;
  while (left > 0 && now_us() < end) {
    for (int t = 0; t < n; t++) {
      if (refused[t]) continue;
      keyscope_principal *pr = NULL;
      keyscope_status st = keyscope_store_authorize(s, tokens[t], "reports", KEYSCOPE_READ, NULL, NULL, &pr);
      keyscope_principal_free(pr);
      if (st != KEYSCOPE_OK) {
        fprintf(out, "%d\t%lld\t%s\n", t, now_us(), keyscope_status_code(st));
        fflush(out);
        refused[t] = 1;
        left--;
      }
    }
    sleep_us(200); /* a pass costs microseconds; leave the CPU to the others */
  }
  fclose(out);
  keyscope_store_close(s);
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 6 && strcmp(argv[1], "load") == 0) return load(argv[2], argv[3], atoll(argv[4]), atoi(argv[5]));
  if (argc == 6 && strcmp(argv[1], "watch") == 0) return watch(argv[2], argv[3], atoll(argv[4]), argv[5]);
  fprintf(stderr, "usage: c_worker load <store> <dir> <seconds> <creates> | watch <store> <tokens> <seconds> <out>\n");
  return 2;
}

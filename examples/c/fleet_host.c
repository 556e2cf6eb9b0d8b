/* A C service on one host of a fleet: it opens the shared store once and keeps the
 * handle, so revocations made on other hosts reach it while it runs.
 *
 *   ./fleet_host <store URL or path>      (commands on stdin, one per line)
 *
 *   authorize <token> <resource> <read|write> <client-ip>
 *       -> "allowed: ..." or "refused: <code> (<reason>)"
 *   watch <token> <resource> <read|write> <client-ip> <timeout ms>
 *       -> "watching", then, once the token stops being accepted,
 *          "refused <code> <unix time in microseconds>" (or "timeout")
 *
 * make demo-fleet runs three hosts like this one (Python, Node, C) on one database. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "keyscope.h"

static long long now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s <store URL or path>\n", argv[0]);
    return 2;
  }
  keyscope_store *store = NULL;
  keyscope_status st = keyscope_store_open(argv[1], NULL, &store);
  if (st != KEYSCOPE_OK) {
    fprintf(stderr, "cannot open the store: %s (%s)\n", keyscope_status_code(st), keyscope_last_error());
    return 1;
  }
  printf("ready\n");
  fflush(stdout);
  static char line[16384];
  while (fgets(line, sizeof line, stdin)) {
    char *cmd = strtok(line, " \n"), *token = strtok(NULL, " \n"), *resource = strtok(NULL, " \n");
    char *perm = strtok(NULL, " \n"), *ip = strtok(NULL, " \n"), *timeout = strtok(NULL, " \n");
    if (!cmd || !token || !resource || !perm || !ip) {
      printf("error: usage: authorize|watch <token> <resource> <read|write> <client-ip> [timeout ms]\n");
      fflush(stdout);
      continue;
    }
    int permission = strcmp(perm, "write") == 0 ? KEYSCOPE_WRITE : KEYSCOPE_READ;
    keyscope_principal *p = NULL;
    if (strcmp(cmd, "authorize") == 0) {
      st = keyscope_store_authorize(store, token, resource, permission, ip, NULL, &p);
      if (st == KEYSCOPE_OK)
        printf("allowed: %s %s for key %s (%s)\n", perm, resource, keyscope_principal_key_name(p),
               keyscope_principal_key_id(p));
      else
        printf("refused: %s (%s)\n", keyscope_status_code(st), keyscope_last_error());
      keyscope_principal_free(p);
    } else if (strcmp(cmd, "watch") == 0 && timeout) {
      printf("watching\n");
      fflush(stdout);
      long long end = now_us() + atoll(timeout) * 1000;
      for (;;) { /* authorize answers from memory: the loop costs no I/O */
        st = keyscope_store_authorize(store, token, resource, permission, ip, NULL, &p);
        long long at = now_us();
        keyscope_principal_free(p);
        p = NULL;
        if (st != KEYSCOPE_OK) {
          printf("refused %s %lld\n", keyscope_status_code(st), at);
          break;
        }
        if (at > end) {
          printf("timeout\n");
          break;
        }
        struct timespec pause = {0, 100000}; /* 0.1 ms: leave the CPU to the other hosts */
        nanosleep(&pause, NULL);
      }
    } else {
      printf("error: unknown command %s\n", cmd);
    }
    fflush(stdout);
  }
  keyscope_store_close(store);
  return 0;
}

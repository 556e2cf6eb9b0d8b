/* The C surface of keyscope: every function, NULL in every pointer argument,
 * non-UTF-8 text, every error path, and authorize from several threads at once.
 * Built and run by `make test-c` twice: with -fsanitize=address,undefined and under
 * valgrind --leak-check=full. Usage: test_keyscope <scratch directory> */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keyscope.h"

static int failures = 0;
#define CHECK(cond)                                                              \
  do {                                                                           \
    if (!(cond)) {                                                               \
      fprintf(stderr, "%s:%d: CHECK(%s) failed; last error: %s\n", __FILE__,     \
              __LINE__, #cond, keyscope_last_error());                           \
      failures++;                                                                \
    }                                                                            \
  } while (0)
#define CHECK_STATUS(call, expected) CHECK((call) == (expected))
#define OK(call) CHECK_STATUS(call, KEYSCOPE_OK)

static const int64_t T0 = 1800000000; /* 2027-01-15 */
static const char *BAD_UTF8 = "bad\xff\xfe";

static keyscope_options *cheap_options(void) {
  keyscope_options *o = NULL;
  OK(keyscope_options_new(&o));
  OK(keyscope_options_set_argon2(o, 64, 1, 1));
  static const uint8_t secret[32] = {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
                                     7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7};
  OK(keyscope_options_add_signing_key(o, "k1", secret, sizeof secret));
  return o;
}

static keyscope_key_params *params(const char *name) {
  keyscope_key_params *p = NULL;
  OK(keyscope_key_params_new(&p));
  OK(keyscope_key_params_set_name(p, name));
  OK(keyscope_key_params_add_grant(p, "deployments.networks:write"));
  OK(keyscope_key_params_add_grant(p, "reports:read"));
  OK(keyscope_key_params_add_network(p, "64.100.10.0/24"));
  return p;
}

static void test_status_texts(void) {
  for (int s = KEYSCOPE_OK; s <= KEYSCOPE_INTERNAL; s++) {
    CHECK(keyscope_status_str((keyscope_status)s) != NULL);
    CHECK(strlen(keyscope_status_code((keyscope_status)s)) > 0);
  }
  CHECK(strcmp(keyscope_status_code(KEYSCOPE_NOT_FOUND), "not_found") == 0);
  CHECK(strcmp(keyscope_status_code(KEYSCOPE_INSUFFICIENT_SCOPE), "insufficient_scope") == 0);
  CHECK(strcmp(KEYSCOPE_VERSION, "0.0.0") != 0);
}

/* Values outside an enum, as C may pass them: the unknown texts, or INVALID_INPUT. */
static void test_out_of_range_enums(keyscope_store *store) {
  const int bad[] = {-1, 16, 99, -2147483647 - 1, 2147483647};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    CHECK(strcmp(keyscope_status_str(bad[i]), "unknown status") == 0);
    CHECK(strcmp(keyscope_status_code(bad[i]), "unknown") == 0);
  }
  CHECK(strcmp(keyscope_status_code(KEYSCOPE_OK), "ok") == 0);
  CHECK(strcmp(keyscope_status_code(KEYSCOPE_INTERNAL), "internal") == 0);
  keyscope_principal *pr = NULL;
  CHECK_STATUS(keyscope_store_authorize(store, "x.y.z", "reports", 2, NULL, NULL, &pr), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "KEYSCOPE_READ") != NULL);
  CHECK_STATUS(keyscope_store_authorize(store, "x.y.z", "reports", -1, NULL, NULL, &pr), KEYSCOPE_INVALID_INPUT);
  CHECK(pr == NULL);
  keyscope_key_list *list = NULL;
  CHECK_STATUS(keyscope_store_list_keys(store, 5, NULL, 50, NULL, -1, NULL, &list), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_list_keys(store, -1, NULL, 50, NULL, -1, NULL, &list), KEYSCOPE_INVALID_INPUT);
  CHECK(list == NULL);
  OK(keyscope_store_list_keys(store, KEYSCOPE_FILTER_DISABLED, NULL, 50, NULL, -1, NULL, &list));
  keyscope_key_list_free(list);
}

static void test_null_and_bad_text(keyscope_store *store) {
  keyscope_store *s = NULL;
  keyscope_key *key = NULL;
  keyscope_options *o = NULL;
  keyscope_key_params *p = NULL;
  CHECK_STATUS(keyscope_store_open(NULL, NULL, &s), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_open(":memory:", NULL, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_open(BAD_UTF8, NULL, &s), KEYSCOPE_INVALID_INPUT);
  CHECK(s == NULL);
  CHECK(strstr(keyscope_last_error(), "UTF-8") != NULL);
  CHECK_STATUS(keyscope_options_new(NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_set_token_ttl(NULL, 60), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_set_issuer(NULL, "x"), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_new(&o));
  CHECK_STATUS(keyscope_options_set_issuer(o, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_set_catalog_name(o, "nope"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_set_catalog_json(o, "{"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_add_signing_key(o, "k", NULL, 32), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_set_token_ttl(o, 10)); /* refused when opening */
  CHECK_STATUS(keyscope_store_open(":memory:", o, &s), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "token_ttl") != NULL);
  keyscope_options_free(o);
  CHECK_STATUS(keyscope_key_params_new(NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_key_params_set_name(NULL, "x"), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_key_params_new(&p));
  CHECK_STATUS(keyscope_key_params_set_name(p, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_key_params_add_grant(p, BAD_UTF8), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_key_params_set_expires_at(p, INT64_MAX), KEYSCOPE_INVALID_INPUT);
  keyscope_created_key *created = NULL;
  CHECK_STATUS(keyscope_store_create_key(store, p, NULL, &created), KEYSCOPE_INVALID_INPUT); /* no name */
  CHECK_STATUS(keyscope_store_create_key(NULL, p, NULL, &created), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_create_key(store, NULL, NULL, &created), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_create_key(store, p, NULL, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK(created == NULL);
  keyscope_key_params_free(p);
  CHECK_STATUS(keyscope_store_get_key(store, NULL, NULL, &key), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_get_key(store, BAD_UTF8, NULL, &key), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_get_key(store, "00000000000000000000000000000000", NULL, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_get_key(store, "00000000000000000000000000000000", NULL, &key), KEYSCOPE_NOT_FOUND);
  CHECK(key == NULL);
  keyscope_summary sm;
  CHECK_STATUS(keyscope_store_summary(store, -1, NULL, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_summary(NULL, -1, NULL, &sm), KEYSCOPE_INVALID_INPUT);
  keyscope_principal *pr = NULL;
  CHECK_STATUS(keyscope_store_authorize(store, NULL, "reports", KEYSCOPE_READ, NULL, NULL, &pr), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_authorize(store, "x.y.z", NULL, KEYSCOPE_READ, NULL, NULL, &pr), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_authorize(store, "x.y.z", "reports", KEYSCOPE_READ, NULL, NULL, &pr), KEYSCOPE_INVALID_TOKEN);
  CHECK_STATUS(keyscope_store_authorize(store, "x.y.z", "reports", KEYSCOPE_READ, BAD_UTF8, NULL, &pr), KEYSCOPE_INVALID_INPUT);
  CHECK(pr == NULL);
  keyscope_token *tok = NULL;
  CHECK_STATUS(keyscope_store_issue_token(store, NULL, "s", NULL, NULL, NULL, &tok), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_issue_token(store, "00000000000000000000000000000000", "kss_x", NULL, NULL, NULL, &tok), KEYSCOPE_INVALID_CREDENTIALS);
  keyscope_http_response *r = NULL;
  CHECK_STATUS(keyscope_store_token_endpoint(store, NULL, NULL, NULL, 5, NULL, NULL, &r), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_delete_key(store, NULL, NULL, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_org(store, "bad org", &s), KEYSCOPE_INVALID_INPUT);
  /* Accessors and frees take NULL. */
  CHECK(keyscope_key_id(NULL) == NULL);
  CHECK(keyscope_key_grant_count(NULL) == 0);
  CHECK(keyscope_key_list_item(NULL, 0) == NULL);
  CHECK(keyscope_created_key_secret(NULL) == NULL);
  CHECK(keyscope_principal_key_id(NULL) == NULL);
  CHECK(keyscope_token_access_token(NULL) == NULL);
  CHECK(keyscope_http_response_status(NULL) == 0);
  CHECK(keyscope_audit_record_action(NULL) == NULL);
  keyscope_key_free(NULL);
  keyscope_created_key_free(NULL);
  keyscope_key_list_free(NULL);
  keyscope_audit_list_free(NULL);
  keyscope_token_free(NULL);
  keyscope_principal_free(NULL);
  keyscope_http_response_free(NULL);
  keyscope_options_free(NULL);
  keyscope_key_params_free(NULL);
  keyscope_store_close(NULL);
}

static void test_lifecycle(keyscope_store *store) {
  keyscope_key_params *p = params("ci-deployer");
  OK(keyscope_key_params_set_description(p, "deploys"));
  OK(keyscope_key_params_set_expires_at(p, T0 + 90 * 86400));
  OK(keyscope_key_params_set_actor(p, "admin"));
  int64_t now = T0;
  keyscope_created_key *created = NULL;
  OK(keyscope_store_create_key(store, p, &now, &created));
  const keyscope_key *k = keyscope_created_key_key(created);
  CHECK(strlen(keyscope_key_id(k)) == 32);
  CHECK(strcmp(keyscope_key_org(k), "default") == 0);
  CHECK(strcmp(keyscope_key_name(k), "ci-deployer") == 0);
  CHECK(strcmp(keyscope_key_description(k), "deploys") == 0);
  CHECK(keyscope_key_expires_at(k) == T0 + 90 * 86400);
  CHECK(keyscope_key_enabled(k));
  CHECK(keyscope_key_status(k) == KEYSCOPE_KEY_IS_ACTIVE);
  CHECK(keyscope_key_version(k) == 1);
  CHECK(keyscope_key_created_at(k) == T0 && keyscope_key_updated_at(k) == T0);
  CHECK(keyscope_key_last_refreshed_at(k) == KEYSCOPE_NO_TIME);
  CHECK(keyscope_key_last_used_at(k) == KEYSCOPE_NO_TIME);
  CHECK(keyscope_key_grant_count(k) == 2 && strcmp(keyscope_key_grant(k, 1), "reports:read") == 0);
  CHECK(keyscope_key_grant(k, 2) == NULL);
  CHECK(keyscope_key_network_count(k) == 1 && strcmp(keyscope_key_network(k, 0), "64.100.10.0/24") == 0);
  CHECK(keyscope_key_network(k, 1) == NULL);
  CHECK(strncmp(keyscope_created_key_secret(created), "kss_", 4) == 0);
  char id[33];
  snprintf(id, sizeof id, "%s", keyscope_key_id(k));

  /* Duplicate name: conflict; bad network: the error names it and suggests the fix. */
  keyscope_created_key *dup = NULL;
  CHECK_STATUS(keyscope_store_create_key(store, p, &now, &dup), KEYSCOPE_CONFLICT);
  keyscope_key_params_free(p);
  p = params("bad-net");
  OK(keyscope_key_params_add_network(p, "64.100.10.5/24"));
  CHECK_STATUS(keyscope_store_create_key(store, p, &now, &dup), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "64.100.10.0/24") != NULL);
  keyscope_key_params_free(p);
  CHECK(dup == NULL);

  /* get, list, update, summary */
  keyscope_key *got = NULL;
  OK(keyscope_store_get_key(store, id, &now, &got));
  CHECK(strcmp(keyscope_key_id(got), id) == 0);
  keyscope_key_free(got);
  keyscope_key_list *list = NULL;
  OK(keyscope_store_list_keys(store, KEYSCOPE_FILTER_ALL, NULL, 50, NULL, -1, &now, &list));
  CHECK(keyscope_key_list_len(list) == 1);
  CHECK(keyscope_key_list_next_cursor(list) == NULL);
  CHECK(strcmp(keyscope_key_name(keyscope_key_list_item(list, 0)), "ci-deployer") == 0);
  CHECK(keyscope_key_list_item(list, 1) == NULL);
  keyscope_key_list_free(list);
  CHECK_STATUS(keyscope_store_list_keys(store, KEYSCOPE_FILTER_ALL, NULL, 0, NULL, -1, NULL, &list), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_store_list_keys(store, KEYSCOPE_FILTER_EXPIRING, "DEPLOY", 10, NULL, 100 * 86400, &now, &list));
  CHECK(keyscope_key_list_len(list) == 1);
  keyscope_key_list_free(list);

  keyscope_key_params *u = NULL;
  OK(keyscope_key_params_new(&u));
  OK(keyscope_key_params_clear_description(u));
  OK(keyscope_key_params_clear_expires_at(u));
  OK(keyscope_key_params_set_expected_version(u, 1));
  OK(keyscope_key_params_set_actor(u, "admin"));
  keyscope_key *updated = NULL;
  OK(keyscope_store_update_key(store, id, u, &now, &updated));
  CHECK(keyscope_key_description(updated) == NULL);
  CHECK(keyscope_key_expires_at(updated) == KEYSCOPE_NO_TIME);
  CHECK(keyscope_key_version(updated) == 2);
  keyscope_key_free(updated);
  CHECK_STATUS(keyscope_store_update_key(store, id, u, &now, NULL), KEYSCOPE_CONFLICT); /* stale version */
  keyscope_key_params_free(u);
  OK(keyscope_key_params_new(&u));
  OK(keyscope_key_params_set_enabled(u, true));
  OK(keyscope_store_update_key(store, id, u, &now, NULL)); /* out is optional */
  keyscope_key_params_free(u);

  keyscope_summary sm;
  OK(keyscope_store_summary(store, -1, &now, &sm));
  CHECK(sm.total == 1 && sm.active == 1 && sm.never_expires == 1 && sm.expired == 0 && sm.disabled == 0);

  /* refresh, audit, delete */
  keyscope_created_key *fresh = NULL;
  CHECK_STATUS(keyscope_store_refresh_key(store, id, 8 * 86400, NULL, &now, &fresh), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_store_refresh_key(store, id, 0, "admin", &now, &fresh));
  CHECK(strcmp(keyscope_created_key_secret(fresh), keyscope_created_key_secret(created)) != 0);
  CHECK(keyscope_key_last_refreshed_at(keyscope_created_key_key(fresh)) == T0);
  keyscope_created_key_free(fresh);
  keyscope_created_key_free(created);
  OK(keyscope_store_delete_key(store, id, "admin", &now));
  CHECK_STATUS(keyscope_store_delete_key(store, id, NULL, &now), KEYSCOPE_NOT_FOUND);
  keyscope_audit_list *log = NULL;
  OK(keyscope_store_audit_log(store, id, 2, NULL, &log));
  CHECK(keyscope_audit_list_len(log) == 2);
  const keyscope_audit_record *rec = keyscope_audit_list_item(log, 0);
  CHECK(strcmp(keyscope_audit_record_action(rec), "delete") == 0);
  CHECK(strcmp(keyscope_audit_record_actor(rec), "admin") == 0);
  CHECK(strcmp(keyscope_audit_record_key_id(rec), id) == 0);
  CHECK(strcmp(keyscope_audit_record_key_name(rec), "ci-deployer") == 0);
  CHECK(keyscope_audit_record_at(rec) == T0);
  CHECK(keyscope_audit_record_change_count(rec) == 0);
  const keyscope_audit_record *rec2 = keyscope_audit_list_item(log, 1);
  CHECK(strcmp(keyscope_audit_record_action(rec2), "refresh") == 0);
  CHECK(strcmp(keyscope_audit_record_change(rec2, 0), "secret") == 0);
  CHECK(keyscope_audit_record_change(rec2, 1) == NULL);
  const char *cursor = keyscope_audit_list_next_cursor(log);
  CHECK(cursor != NULL);
  keyscope_audit_list *older = NULL;
  OK(keyscope_store_audit_log(store, id, 50, cursor, &older));
  CHECK(keyscope_audit_list_len(older) == 3);
  keyscope_audit_list_free(older);
  keyscope_audit_list_free(log);
}

struct shared {
  keyscope_store *store;
  const char *token;
  int ok;
};

static void *authorize_many(void *arg) {
  struct shared *sh = arg;
  int64_t now = T0 + 10;
  for (int i = 0; i < 200; i++) {
    keyscope_principal *p = NULL;
    if (keyscope_store_authorize(sh->store, sh->token, "deployments.networks", KEYSCOPE_WRITE,
                                 "64.100.10.7", &now, &p) == KEYSCOPE_OK) {
      __atomic_add_fetch(&sh->ok, 1, __ATOMIC_RELAXED);
    }
    keyscope_principal_free(p);
  }
  return NULL;
}

static void test_tokens(keyscope_store *store) {
  keyscope_key_params *p = params("svc");
  int64_t now = T0;
  keyscope_created_key *created = NULL;
  OK(keyscope_store_create_key(store, p, &now, &created));
  keyscope_key_params_free(p);
  const char *id = keyscope_key_id(keyscope_created_key_key(created));
  const char *secret = keyscope_created_key_secret(created);

  keyscope_token *tok = NULL;
  CHECK_STATUS(keyscope_store_issue_token(store, id, secret, "8.8.8.8", NULL, &now, &tok), KEYSCOPE_NETWORK_DENIED);
  CHECK_STATUS(keyscope_store_issue_token(store, id, secret, "64.100.10.7", "admin:write", &now, &tok), KEYSCOPE_INVALID_SCOPE);
  CHECK_STATUS(keyscope_store_issue_token(store, id, "kss_wrong", "64.100.10.7", NULL, &now, &tok), KEYSCOPE_INVALID_CREDENTIALS);
  CHECK(tok == NULL);
  OK(keyscope_store_issue_token(store, id, secret, "64.100.10.7", NULL, &now, &tok));
  CHECK(strcmp(keyscope_token_type(tok), "Bearer") == 0);
  CHECK(keyscope_token_expires_in(tok) == 3600);
  CHECK(keyscope_token_expires_at(tok) == T0 + 3600);
  CHECK(strcmp(keyscope_token_scope(tok), "deployments.networks:write reports:read") == 0);
  const char *token = keyscope_token_access_token(tok);

  keyscope_principal *pr = NULL;
  OK(keyscope_store_authorize(store, token, "deployments.networks", KEYSCOPE_WRITE, "::ffff:64.100.10.7", &now, &pr));
  CHECK(strcmp(keyscope_principal_key_id(pr), id) == 0);
  CHECK(strcmp(keyscope_principal_key_name(pr), "svc") == 0);
  CHECK(strcmp(keyscope_principal_org(pr), "default") == 0);
  CHECK(keyscope_principal_scope_count(pr) == 2);
  CHECK(strcmp(keyscope_principal_scope(pr, 0), "deployments.networks:write") == 0);
  CHECK(keyscope_principal_scope(pr, 2) == NULL);
  CHECK(strlen(keyscope_principal_token_id(pr)) > 0);
  CHECK(keyscope_principal_expires_at(pr) == T0 + 3600);
  keyscope_principal_free(pr);
  pr = NULL;
  CHECK_STATUS(keyscope_store_authorize(store, token, "reports", KEYSCOPE_WRITE, "64.100.10.7", &now, &pr), KEYSCOPE_INSUFFICIENT_SCOPE);
  CHECK_STATUS(keyscope_store_authorize(store, token, "reports", KEYSCOPE_READ, "1.1.1.1", &now, &pr), KEYSCOPE_NETWORK_DENIED);
  CHECK_STATUS(keyscope_store_authorize(store, token, "reports", KEYSCOPE_READ, NULL, &now, &pr), KEYSCOPE_NETWORK_DENIED);
  int64_t later = T0 + 3600;
  CHECK_STATUS(keyscope_store_authorize(store, token, "reports", KEYSCOPE_READ, "64.100.10.7", &later, &pr), KEYSCOPE_TOKEN_EXPIRED);
  CHECK(pr == NULL);

  /* Several threads at once on one handle. */
  struct shared sh = {store, token, 0};
  pthread_t threads[4];
  for (int i = 0; i < 4; i++) pthread_create(&threads[i], NULL, authorize_many, &sh);
  for (int i = 0; i < 4; i++) pthread_join(threads[i], NULL);
  CHECK(sh.ok == 800);

  /* Org views. */
  keyscope_store *acme = NULL;
  OK(keyscope_store_org(store, "acme", &acme));
  CHECK_STATUS(keyscope_store_authorize(acme, token, "reports", KEYSCOPE_READ, "64.100.10.7", &now, &pr), KEYSCOPE_INVALID_TOKEN);
  keyscope_token *t2 = NULL;
  CHECK_STATUS(keyscope_store_issue_token(acme, id, secret, "64.100.10.7", NULL, &now, &t2), KEYSCOPE_INVALID_CREDENTIALS);
  keyscope_summary sm;
  OK(keyscope_store_summary(acme, -1, &now, &sm));
  CHECK(sm.total == 0);
  keyscope_store_close(acme);

  /* Token endpoint. */
  keyscope_http_response *r = NULL;
  const char *form = "grant_type=client_credentials";
  char body[256];
  snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s", id, secret);
  OK(keyscope_store_token_endpoint(store, NULL, "application/x-www-form-urlencoded", (const uint8_t *)body, strlen(body), "64.100.10.7", &now, &r));
  CHECK(keyscope_http_response_status(r) == 200);
  CHECK(strstr(keyscope_http_response_body(r), "\"access_token\"") != NULL);
  int saw_no_store = 0;
  for (size_t i = 0; i < keyscope_http_response_header_count(r); i++) {
    if (strcmp(keyscope_http_response_header_name(r, i), "Cache-Control") == 0 &&
        strcmp(keyscope_http_response_header_value(r, i), "no-store") == 0) saw_no_store = 1;
  }
  CHECK(saw_no_store);
  CHECK(keyscope_http_response_header_name(r, 99) == NULL);
  keyscope_http_response_free(r);
  OK(keyscope_store_token_endpoint(store, NULL, "application/x-www-form-urlencoded", (const uint8_t *)form, strlen(form), "64.100.10.7", &now, &r));
  CHECK(keyscope_http_response_status(r) == 401);
  keyscope_http_response_free(r);
  OK(keyscope_store_token_endpoint(store, NULL, NULL, NULL, 0, NULL, &now, &r));
  CHECK(keyscope_http_response_status(r) == 400);
  keyscope_http_response_free(r);

  /* Refresh revokes; delete revokes. */
  keyscope_created_key *fresh = NULL;
  OK(keyscope_store_refresh_key(store, id, 0, NULL, &now, &fresh));
  CHECK_STATUS(keyscope_store_authorize(store, token, "reports", KEYSCOPE_READ, "64.100.10.7", &now, &pr), KEYSCOPE_TOKEN_REVOKED);
  keyscope_created_key_free(fresh);
  keyscope_token_free(tok);
  keyscope_created_key_free(created);
}

/* Every option setter, each with an effect the test can see. */
static void test_options(void) {
  keyscope_options *o = cheap_options();
  OK(keyscope_options_set_secret_prefix(o, "acme"));
  OK(keyscope_options_set_allow_private_networks(o, true));
  OK(keyscope_options_set_catalog_json(o, "{\"scopes\": {\"reports\": {\"daily\": \"read\"}}}"));
  OK(keyscope_options_set_audience(o, "reports-api"));
  OK(keyscope_options_set_issuer(o, "acme-issuer"));
  OK(keyscope_options_set_leeway(o, 30));
  OK(keyscope_options_set_max_failed_exchanges_per_minute(o, 1));
  OK(keyscope_options_set_revocation_staleness(o, 0.5));
  OK(keyscope_options_add_trusted_proxy(o, "10.0.0.0/8"));
  OK(keyscope_options_set_busy_timeout_ms(o, 2000));
  OK(keyscope_options_set_token_ttl(o, 600));
  keyscope_store *s = NULL;
  OK(keyscope_store_open(":memory:", o, &s));
  keyscope_options_free(o);

  keyscope_key_params *p = NULL;
  OK(keyscope_key_params_new(&p));
  OK(keyscope_key_params_set_name(p, "opts"));
  OK(keyscope_key_params_add_grant(p, "reports:write")); /* the catalog offers only read */
  keyscope_created_key *c = NULL;
  CHECK_STATUS(keyscope_store_create_key(s, p, NULL, &c), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_key_params_clear_grants(p));
  OK(keyscope_key_params_add_grant(p, "reports.daily:read"));
  OK(keyscope_key_params_add_network(p, "10.1.0.0/16")); /* private: allowed by the option */
  OK(keyscope_store_create_key(s, p, NULL, &c));
  keyscope_key_params_free(p);
  const char *id = keyscope_key_id(keyscope_created_key_key(c));
  CHECK(strncmp(keyscope_created_key_secret(c), "acme_", 5) == 0);

  int64_t now = T0;
  keyscope_token *t = NULL;
  CHECK_STATUS(keyscope_store_issue_token(s, id, "acme_wrong", "10.1.2.3", NULL, &now, &t), KEYSCOPE_INVALID_CREDENTIALS);
  OK(keyscope_store_issue_token(s, id, keyscope_created_key_secret(c), "10.1.2.3", NULL, &now, &t));
  CHECK(keyscope_token_expires_in(t) == 600);
  keyscope_principal *pr = NULL;
  int64_t late = T0 + 600 + 20; /* within the 30 s leeway */
  OK(keyscope_store_authorize(s, keyscope_token_access_token(t), "reports.daily", KEYSCOPE_READ, "10.1.2.3", &late, &pr));
  keyscope_principal_free(pr);
  pr = NULL;

  /* The store's trusted proxy is used by the token endpoint's caller, not here; an
   * update that clears the networks makes the key usable from anywhere. */
  keyscope_key_params *u = NULL;
  OK(keyscope_key_params_new(&u));
  OK(keyscope_key_params_clear_networks(u));
  keyscope_key *k = NULL;
  OK(keyscope_store_update_key(s, id, u, &now, &k));
  CHECK(keyscope_key_network_count(k) == 0);
  keyscope_key_free(k);
  keyscope_key_params_free(u);

  /* Another store with another audience refuses the token. */
  keyscope_options *o2 = cheap_options();
  keyscope_store *other = NULL;
  OK(keyscope_store_open(":memory:", o2, &other));
  keyscope_options_free(o2);
  CHECK_STATUS(keyscope_store_authorize(other, keyscope_token_access_token(t), "reports", KEYSCOPE_READ, NULL, &now, &pr), KEYSCOPE_INVALID_TOKEN);
  keyscope_store_close(other);
  keyscope_token_free(t);
  keyscope_created_key_free(c);
  keyscope_store_close(s);
}

/* Two handles on one store: a file in `dir`, or the PostgreSQL URL `shared`. */
static void test_closed_store(const char *dir, const char *shared) {
  char path[512];
  if (shared) {
    snprintf(path, sizeof path, "%s", shared);
  } else {
    snprintf(path, sizeof path, "%s/closed.db", dir);
    remove(path);
  }
  keyscope_options *o = cheap_options();
  keyscope_store *a = NULL, *b = NULL;
  OK(keyscope_store_open(path, o, &a));
  OK(keyscope_store_open(path, o, &b));
  keyscope_options_free(o);
  keyscope_key_params *p = params("persisted");
  keyscope_created_key *c = NULL;
  OK(keyscope_store_create_key(a, p, NULL, &c));
  keyscope_key *k = NULL;
  OK(keyscope_store_get_key(b, keyscope_key_id(keyscope_created_key_key(c)), NULL, &k));
  keyscope_key_free(k);
  keyscope_created_key_free(c);
  keyscope_key_params_free(p);
  keyscope_store_close(a);
  keyscope_store_close(b);
}

/* clear_grants forgets the grants added so far: an update then leaves the key's. */
static void test_clear_grants(keyscope_store *store) {
  keyscope_key_params *p = params("clear-grants");
  int64_t now = T0;
  keyscope_created_key *c = NULL;
  OK(keyscope_store_create_key(store, p, &now, &c));
  keyscope_key_params_free(p);
  const char *id = keyscope_key_id(keyscope_created_key_key(c));
  keyscope_key_params *u = NULL;
  OK(keyscope_key_params_new(&u));
  OK(keyscope_key_params_add_grant(u, "audit:read"));
  OK(keyscope_key_params_clear_grants(u));
  OK(keyscope_key_params_set_description(u, "d2"));
  keyscope_key *updated = NULL;
  OK(keyscope_store_update_key(store, id, u, &now, &updated));
  keyscope_key_params_free(u);
  CHECK(strcmp(keyscope_key_description(updated), "d2") == 0);
  CHECK(keyscope_key_grant_count(updated) == 2);
  CHECK(strcmp(keyscope_key_grant(updated, 0), "deployments.networks:write") == 0);
  keyscope_key_free(updated);
  OK(keyscope_store_delete_key(store, id, NULL, &now));
  keyscope_created_key_free(c);
}

/* PostgreSQL-only options are refused on SQLite, and checked on PostgreSQL. */
static void test_store_options(void) {
  keyscope_options *o = NULL;
  OK(keyscope_options_new(&o));
  OK(keyscope_options_set_offline_grace(o, 10));
  OK(keyscope_options_set_schema(o, "fleet"));
  keyscope_store *s = NULL;
  CHECK_STATUS(keyscope_store_open(":memory:", o, &s), KEYSCOPE_INVALID_INPUT);
  keyscope_options_free(o);
  OK(keyscope_options_new(&o));
  OK(keyscope_options_set_pool_size(o, 2));
  CHECK_STATUS(keyscope_store_open(":memory:", o, &s), KEYSCOPE_INVALID_INPUT);
  keyscope_options_free(o);
  OK(keyscope_options_new(&o));
  OK(keyscope_options_set_listen(o, false));
  CHECK_STATUS(keyscope_store_open(":memory:", o, &s), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_set_offline_grace(o, 3601));
  CHECK_STATUS(keyscope_store_open("postgresql://127.0.0.1/x", o, &s), KEYSCOPE_INVALID_INPUT);
  keyscope_options_free(o);
  CHECK(s == NULL);
}

/* argv: a directory for files; optionally a PostgreSQL URL for the main store and
 * another for the two-handle test (make test runs the suite on both backends). */
int main(int argc, char **argv) {
  const char *dir = argc > 1 ? argv[1] : ".";
  const char *location = argc > 2 ? argv[2] : ":memory:";
  const char *shared = argc > 3 ? argv[3] : NULL;
  keyscope_options *o = cheap_options();
  keyscope_store *store = NULL;
  OK(keyscope_store_open(location, o, &store));
  keyscope_options_free(o);
  test_status_texts();
  test_out_of_range_enums(store);
  test_null_and_bad_text(store);
  test_lifecycle(store);
  test_tokens(store);
  test_options();
  test_store_options();
  test_closed_store(dir, shared);
  test_clear_grants(store);
  keyscope_store_close(store);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  puts("c tests ok");
  return 0;
}

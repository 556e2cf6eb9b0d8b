/* The C surface of keyscope: every function, NULL in every pointer argument,
 * non-UTF-8 text, every error path, authorize from several threads at once, the
 * HTTP routes, signing-key rotation and retirement, and token revocation.
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

/* A store with its own signing keys (ES256 unless told): no signing_keys option. */
static keyscope_store *open_own_keys(const char *location, const char *issuer, const char *alg) {
  keyscope_options *o = NULL;
  OK(keyscope_options_new(&o));
  OK(keyscope_options_set_argon2(o, 64, 1, 1));
  if (issuer) OK(keyscope_options_set_issuer(o, issuer));
  if (alg) OK(keyscope_options_set_token_alg(o, alg));
  keyscope_store *s = NULL;
  OK(keyscope_store_open(location, o, &s));
  keyscope_options_free(o);
  return s;
}

/* The value of a JSON string field in compact JSON text ("" when absent). */
static void json_field(const char *json, const char *field, char *out, size_t cap) {
  char pattern[64];
  snprintf(pattern, sizeof pattern, "\"%s\":\"", field);
  out[0] = 0;
  const char *p = json ? strstr(json, pattern) : NULL;
  if (!p) return;
  p += strlen(pattern);
  size_t n = 0;
  while (p[n] && p[n] != '"' && n + 1 < cap) n++;
  memcpy(out, p, n);
  out[n] = 0;
}

static const char *header_of(const keyscope_http_response *r, const char *name) {
  for (size_t i = 0; i < keyscope_http_response_header_count(r); i++)
    if (strcmp(keyscope_http_response_header_name(r, i), name) == 0) return keyscope_http_response_header_value(r, i);
  return NULL;
}

/* One request through keyscope_store_handle_http, from 64.100.10.7 at T0. */
static keyscope_http_response *serve(keyscope_store *s, const char *method, const char *path,
                                     const char *content_type, const char *body) {
  keyscope_http_request *req = NULL;
  OK(keyscope_http_request_new(&req));
  OK(keyscope_http_request_set_method(req, method));
  OK(keyscope_http_request_set_path(req, path));
  OK(keyscope_http_request_add_header(req, "Accept", "application/json"));
  if (content_type) OK(keyscope_http_request_add_header(req, "Content-Type", content_type));
  if (body) OK(keyscope_http_request_set_body(req, (const uint8_t *)body, strlen(body)));
  OK(keyscope_http_request_set_client_ip(req, "64.100.10.7"));
  OK(keyscope_http_request_set_now(req, T0));
  keyscope_http_response *r = NULL;
  OK(keyscope_store_handle_http(s, req, &r));
  keyscope_http_request_free(req);
  return r;
}

static keyscope_created_key *create(keyscope_store *s, const char *name) {
  keyscope_key_params *p = params(name);
  int64_t now = T0;
  keyscope_created_key *c = NULL;
  OK(keyscope_store_create_key(s, p, &now, &c));
  keyscope_key_params_free(p);
  return c;
}

/* A token for `c` (the caller frees it); NULL on failure. */
static keyscope_token *issue(keyscope_store *s, const keyscope_created_key *c) {
  int64_t now = T0;
  keyscope_token *t = NULL;
  OK(keyscope_store_issue_token(s, keyscope_key_id(keyscope_created_key_key(c)), keyscope_created_key_secret(c),
                                "64.100.10.7", NULL, &now, &t));
  return t;
}

static keyscope_status authorize_at(keyscope_store *s, const char *token, int64_t at) {
  keyscope_principal *p = NULL;
  keyscope_status st = keyscope_store_authorize(s, token, "reports", KEYSCOPE_READ, "64.100.10.7", &at, &p);
  keyscope_principal_free(p);
  return st;
}

/* handle_http: health, the JWK Set, metadata, a token, introspection, revocation,
 * 404/405/413, and the request builder's NULL and invalid pieces. */
static void test_handle_http(keyscope_store *es, keyscope_store *fixed) {
  int64_t now = T0;
  keyscope_http_response *r = serve(es, "GET", "/auth/healthz", NULL, NULL); /* issuer's path */
  CHECK(keyscope_http_response_status(r) == 200);
  CHECK(strcmp(keyscope_http_response_body(r), "{\"status\":\"ok\"}") == 0);
  CHECK(keyscope_http_response_body_len(r) == strlen(keyscope_http_response_body(r)));
  CHECK(header_of(r, "Content-Type") != NULL);
  keyscope_http_response_free(r);
  r = serve(es, "GET", "/auth/healthz?probe=1", NULL, NULL); /* the query is not the path */
  CHECK(keyscope_http_response_status(r) == 200);
  keyscope_http_response_free(r);
  r = serve(fixed, "GET", "/healthz", NULL, NULL); /* issuer "keyscope": routes from / */
  CHECK(keyscope_http_response_status(r) == 200);
  keyscope_http_response_free(r);

  /* The JWK Set, as keyscope_store_jwks gives it, with the current key. */
  keyscope_signing_key_list *keys = NULL;
  OK(keyscope_store_signing_keys(es, &now, &keys));
  const char *current = keyscope_signing_key_kid(keyscope_signing_key_list_item(keys, 0));
  char *jwks = NULL;
  OK(keyscope_store_jwks(es, &now, &jwks));
  r = serve(es, "GET", "/auth/.well-known/jwks.json", NULL, NULL);
  CHECK(keyscope_http_response_status(r) == 200);
  CHECK(strcmp(keyscope_http_response_body(r), jwks) == 0);
  CHECK(strstr(jwks, "\"keys\":[") != NULL && strstr(jwks, current) != NULL);
  CHECK(header_of(r, "Cache-Control") && strcmp(header_of(r, "Cache-Control"), "public, max-age=300") == 0);
  keyscope_http_response_free(r);
  keyscope_string_free(jwks);
  keyscope_signing_key_list_free(keys);

  /* Metadata (RFC 8414) for an https issuer; none for the issuer "keyscope". */
  char *meta = NULL;
  OK(keyscope_store_metadata(es, &meta));
  CHECK(strstr(meta, "\"issuer\":\"https://auth.example.com/auth\"") != NULL);
  CHECK(strstr(meta, "\"token_endpoint\":\"https://auth.example.com/auth/auth/v2/token\"") != NULL);
  r = serve(es, "GET", "/.well-known/oauth-authorization-server/auth", NULL, NULL);
  CHECK(keyscope_http_response_status(r) == 200);
  CHECK(strcmp(keyscope_http_response_body(r), meta) == 0);
  keyscope_http_response_free(r);
  keyscope_string_free(meta);
  meta = NULL;
  CHECK_STATUS(keyscope_store_metadata(fixed, &meta), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "issuer") != NULL);
  CHECK(meta == NULL);
  r = serve(fixed, "GET", "/.well-known/oauth-authorization-server", NULL, NULL);
  CHECK(keyscope_http_response_status(r) == 404);
  keyscope_http_response_free(r);

  /* A token from the token endpoint, then authorize, introspect and revoke it. */
  keyscope_created_key *c = create(es, "http-svc");
  const char *id = keyscope_key_id(keyscope_created_key_key(c));
  const char *secret = keyscope_created_key_secret(c);
  const char *form_type = "application/x-www-form-urlencoded";
  char body[8192];
  snprintf(body, sizeof body, "grant_type=client_credentials&client_id=%s&client_secret=%s", id, secret);
  r = serve(es, "POST", "/auth/auth/v2/token", form_type, body);
  CHECK(keyscope_http_response_status(r) == 200);
  CHECK(header_of(r, "Cache-Control") && strcmp(header_of(r, "Cache-Control"), "no-store") == 0);
  char token[4096];
  json_field(keyscope_http_response_body(r), "access_token", token, sizeof token);
  keyscope_http_response_free(r);
  CHECK(strlen(token) > 100);
  OK(authorize_at(es, token, T0 + 10));
  snprintf(body, sizeof body, "token=%s&client_id=%s&client_secret=%s", token, id, secret);
  r = serve(es, "POST", "/auth/auth/v2/introspect", form_type, body);
  CHECK(keyscope_http_response_status(r) == 200);
  CHECK(strstr(keyscope_http_response_body(r), "\"active\":true") != NULL);
  keyscope_http_response_free(r);
  r = serve(es, "POST", "/auth/auth/v2/revoke", form_type, body);
  CHECK(keyscope_http_response_status(r) == 200);
  keyscope_http_response_free(r);
  CHECK_STATUS(authorize_at(es, token, T0 + 10), KEYSCOPE_TOKEN_REVOKED);
  r = serve(es, "POST", "/auth/auth/v2/introspect", form_type, body);
  CHECK(strstr(keyscope_http_response_body(r), "\"active\":false") != NULL);
  keyscope_http_response_free(r);
  r = serve(es, "POST", "/auth/auth/v2/token", form_type, "grant_type=client_credentials");
  CHECK(keyscope_http_response_status(r) == 401);
  keyscope_http_response_free(r);
  keyscope_created_key_free(c);

  /* Unknown route 404; known route, other method, 405 with Allow; too large 413. */
  r = serve(es, "GET", "/auth/nope", NULL, NULL);
  CHECK(keyscope_http_response_status(r) == 404);
  CHECK(strstr(keyscope_http_response_body(r), "not_found") != NULL);
  keyscope_http_response_free(r);
  r = serve(es, "GET", "/auth/auth/v2/token", NULL, NULL);
  CHECK(keyscope_http_response_status(r) == 405);
  CHECK(header_of(r, "Allow") && strcmp(header_of(r, "Allow"), "POST") == 0);
  keyscope_http_response_free(r);
  r = serve(es, "POST", "/auth/healthz", NULL, NULL);
  CHECK(keyscope_http_response_status(r) == 405);
  CHECK(header_of(r, "Allow") && strcmp(header_of(r, "Allow"), "GET") == 0);
  keyscope_http_response_free(r);
  size_t big_len = 64 * 1024 + 1;
  char *big = malloc(big_len + 1);
  CHECK(big != NULL);
  if (big) {
    memset(big, 'a', big_len);
    big[big_len] = 0;
    r = serve(es, "POST", "/auth/auth/v2/token", form_type, big);
    CHECK(keyscope_http_response_status(r) == 413);
    keyscope_http_response_free(r);
    free(big);
  }

  /* The builder: NULL and invalid pieces are refused, optional ones cleared. */
  keyscope_http_request *req = NULL;
  CHECK_STATUS(keyscope_http_request_new(NULL), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_http_request_new(&req));
  r = NULL;
  CHECK_STATUS(keyscope_store_handle_http(es, req, &r), KEYSCOPE_INVALID_INPUT); /* no method */
  CHECK(strstr(keyscope_last_error(), "method") != NULL);
  CHECK_STATUS(keyscope_http_request_set_method(NULL, "GET"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_method(req, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_method(req, BAD_UTF8), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "UTF-8") != NULL);
  OK(keyscope_http_request_set_method(req, "GET"));
  CHECK_STATUS(keyscope_store_handle_http(es, req, &r), KEYSCOPE_INVALID_INPUT); /* no path */
  CHECK(strstr(keyscope_last_error(), "path") != NULL);
  CHECK_STATUS(keyscope_http_request_set_path(NULL, "/healthz"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_path(req, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_path(req, BAD_UTF8), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_http_request_set_path(req, "/auth/healthz"));
  CHECK_STATUS(keyscope_http_request_add_header(NULL, "Accept", "*/*"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_add_header(req, NULL, "*/*"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_add_header(req, "Accept", NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_add_header(req, BAD_UTF8, "*/*"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_add_header(req, "Accept", BAD_UTF8), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_http_request_add_header(req, "X-Forwarded-For", "1.1.1.1"));
  OK(keyscope_http_request_add_header(req, "X-Forwarded-For", "2.2.2.2")); /* names repeat */
  CHECK_STATUS(keyscope_http_request_set_body(NULL, (const uint8_t *)"x", 1), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_body(req, NULL, 1), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_http_request_set_body(req, (const uint8_t *)"x\0y", 3)); /* bytes, NUL included */
  OK(keyscope_http_request_set_body(req, NULL, 0));
  CHECK_STATUS(keyscope_http_request_set_client_ip(NULL, "64.100.10.7"), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_client_ip(req, BAD_UTF8), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_http_request_set_client_ip(req, "not an address")); /* no client address */
  OK(keyscope_http_request_set_client_ip(req, NULL));
  CHECK_STATUS(keyscope_http_request_set_now(NULL, T0), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_http_request_set_now(req, INT64_MAX), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_http_request_set_now(req, T0));
  OK(keyscope_http_request_set_now(req, KEYSCOPE_NO_TIME)); /* the clock again */
  CHECK_STATUS(keyscope_store_handle_http(NULL, req, &r), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_handle_http(es, NULL, &r), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_handle_http(es, req, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK(r == NULL);
  for (int i = 0; i < 2; i++) { /* a request may be served more than once */
    OK(keyscope_store_handle_http(es, req, &r));
    CHECK(keyscope_http_response_status(r) == 200);
    keyscope_http_response_free(r);
    r = NULL;
  }
  keyscope_http_request_free(req);
  keyscope_http_request_free(NULL);
  CHECK(keyscope_http_response_body(NULL) == NULL);
  CHECK(keyscope_http_response_body_len(NULL) == 0);
  CHECK(keyscope_http_response_header_count(NULL) == 0);
  CHECK(keyscope_http_response_header_value(NULL, 0) == NULL);
  char *text = NULL;
  CHECK_STATUS(keyscope_store_jwks(NULL, NULL, &text), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_jwks(es, NULL, NULL), KEYSCOPE_INVALID_INPUT);
  int64_t bad_now = INT64_MAX;
  CHECK_STATUS(keyscope_store_jwks(es, &bad_now, &text), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_metadata(NULL, &text), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_metadata(es, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK(text == NULL);
  OK(keyscope_store_jwks(fixed, NULL, &text)); /* HS256 keys are never published */
  CHECK(strcmp(text, "{\"keys\":[]}") == 0);
  keyscope_string_free(text);
  keyscope_string_free(NULL);
}

static const keyscope_signing_key *in_state(const keyscope_signing_key_list *l, const char *state) {
  for (size_t i = 0; i < keyscope_signing_key_list_len(l); i++)
    if (strcmp(keyscope_signing_key_state(keyscope_signing_key_list_item(l, i)), state) == 0)
      return keyscope_signing_key_list_item(l, i);
  return NULL;
}

static int has_kid(const keyscope_signing_key_list *l, const char *kid) {
  for (size_t i = 0; i < keyscope_signing_key_list_len(l); i++)
    if (strcmp(keyscope_signing_key_kid(keyscope_signing_key_list_item(l, i)), kid) == 0) return 1;
  return 0;
}

/* Signing keys: list, rotate, retire (gracefully and at once), on a view, and with
 * the keys of the signing_keys option. */
static void test_signing_keys(keyscope_store *es, keyscope_store *fixed) {
  int64_t now = T0;
  keyscope_signing_key_list *l = NULL;
  OK(keyscope_store_signing_keys(es, &now, &l));
  CHECK(keyscope_signing_key_list_len(l) == 2);
  const keyscope_signing_key *cur = keyscope_signing_key_list_item(l, 0);
  const keyscope_signing_key *next = keyscope_signing_key_list_item(l, 1);
  CHECK(keyscope_signing_key_list_item(l, 2) == NULL);
  CHECK(strcmp(keyscope_signing_key_state(cur), "current") == 0);
  CHECK(strcmp(keyscope_signing_key_state(next), "next") == 0);
  CHECK(strcmp(keyscope_signing_key_alg(cur), "ES256") == 0);
  CHECK(keyscope_signing_key_created_at(cur) > 0);
  CHECK(keyscope_signing_key_retired_at(cur) == KEYSCOPE_NO_TIME);
  CHECK(strstr(keyscope_signing_key_public_jwk(cur), "\"kty\":\"EC\"") != NULL);
  CHECK(strstr(keyscope_signing_key_public_jwk(cur), keyscope_signing_key_kid(cur)) != NULL);
  char c0[128], n0[128];
  snprintf(c0, sizeof c0, "%s", keyscope_signing_key_kid(cur));
  snprintf(n0, sizeof n0, "%s", keyscope_signing_key_kid(next));
  keyscope_signing_key_list_free(l);

  /* A token signed by c0 keeps working after a rotation, until c0 is retired at once. */
  keyscope_created_key *c = create(es, "signed-svc");
  keyscope_token *old = issue(es, c);
  const char *old_token = keyscope_token_access_token(old);
  keyscope_signing_key *k = NULL;
  OK(keyscope_store_rotate_signing_key(es, NULL, "admin", &now, &k));
  CHECK(strcmp(keyscope_signing_key_kid(k), n0) == 0);
  CHECK(strcmp(keyscope_signing_key_state(k), "current") == 0);
  keyscope_signing_key_free(k);
  OK(keyscope_store_signing_keys(es, &now, &l));
  CHECK(keyscope_signing_key_list_len(l) == 3);
  CHECK(in_state(l, "retired") && strcmp(keyscope_signing_key_kid(in_state(l, "retired")), c0) == 0);
  CHECK(keyscope_signing_key_retired_at(in_state(l, "retired")) == T0);
  CHECK(in_state(l, "next") && strcmp(keyscope_signing_key_alg(in_state(l, "next")), "ES256") == 0);
  keyscope_signing_key_list_free(l);
  OK(authorize_at(es, old_token, T0 + 10));

  OK(keyscope_store_rotate_signing_key(es, "EdDSA", NULL, &now, NULL)); /* out is optional */
  OK(keyscope_store_signing_keys(es, &now, &l));
  const keyscope_signing_key *ed = in_state(l, "next");
  CHECK(ed && strcmp(keyscope_signing_key_alg(ed), "EdDSA") == 0);
  CHECK(ed && strstr(keyscope_signing_key_public_jwk(ed), "\"kty\":\"OKP\"") != NULL);
  keyscope_signing_key_list_free(l);
  k = NULL;
  CHECK_STATUS(keyscope_store_rotate_signing_key(es, "ES512", NULL, &now, &k), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "ES256") != NULL);
  CHECK_STATUS(keyscope_store_rotate_signing_key(es, BAD_UTF8, NULL, &now, &k), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_rotate_signing_key(es, NULL, BAD_UTF8, &now, &k), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_rotate_signing_key(NULL, NULL, NULL, &now, &k), KEYSCOPE_INVALID_INPUT);
  CHECK(k == NULL);

  OK(keyscope_store_retire_signing_key(es, c0, false, "admin", &now)); /* already retired */
  OK(authorize_at(es, old_token, T0 + 10));
  OK(keyscope_store_retire_signing_key(es, c0, true, "admin", &now));
  CHECK_STATUS(authorize_at(es, old_token, T0 + 10), KEYSCOPE_INVALID_TOKEN);
  char *jwks = NULL;
  OK(keyscope_store_jwks(es, &now, &jwks));
  CHECK(strstr(jwks, c0) == NULL && strstr(jwks, n0) != NULL);
  keyscope_string_free(jwks);
  OK(keyscope_store_signing_keys(es, &now, &l));
  CHECK(!has_kid(l, c0));
  keyscope_signing_key_list_free(l);
  CHECK_STATUS(keyscope_store_retire_signing_key(es, "no-such-kid", false, NULL, &now), KEYSCOPE_NOT_FOUND);
  CHECK_STATUS(keyscope_store_retire_signing_key(es, NULL, false, NULL, &now), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_retire_signing_key(es, BAD_UTF8, false, NULL, &now), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_retire_signing_key(NULL, n0, false, NULL, &now), KEYSCOPE_INVALID_INPUT);

  /* Retiring the current key rotates first: the EdDSA key signs, and its tokens work. */
  OK(keyscope_store_signing_keys(es, &now, &l));
  char cur_kid[128];
  snprintf(cur_kid, sizeof cur_kid, "%s", keyscope_signing_key_kid(in_state(l, "current")));
  keyscope_signing_key_list_free(l);
  OK(keyscope_store_retire_signing_key(es, cur_kid, false, "admin", &now));
  OK(keyscope_store_signing_keys(es, &now, &l));
  CHECK(strcmp(keyscope_signing_key_alg(in_state(l, "current")), "EdDSA") == 0);
  keyscope_signing_key_list_free(l);
  keyscope_token *fresh = issue(es, c);
  OK(authorize_at(es, keyscope_token_access_token(fresh), T0 + 10));
  keyscope_token_free(fresh);
  keyscope_token_free(old);
  keyscope_created_key_free(c);

  /* Both calls are audited, with the actor. */
  keyscope_audit_list *log = NULL;
  OK(keyscope_store_audit_log(es, NULL, 100, NULL, &log));
  int rotated = 0, retired = 0;
  for (size_t i = 0; i < keyscope_audit_list_len(log); i++) {
    const keyscope_audit_record *rec = keyscope_audit_list_item(log, i);
    const char *actor = keyscope_audit_record_actor(rec);
    if (!actor || strcmp(actor, "admin") != 0) continue;
    if (strcmp(keyscope_audit_record_action(rec), "signing_key_rotated") == 0) rotated++;
    if (strcmp(keyscope_audit_record_action(rec), "signing_key_retired") == 0) retired++;
  }
  CHECK(rotated >= 1 && retired >= 2);
  keyscope_audit_list_free(log);

  /* Signing keys belong to the store, not to an org view. */
  keyscope_store *view = NULL;
  OK(keyscope_store_org(es, "acme", &view));
  l = NULL;
  k = NULL;
  CHECK_STATUS(keyscope_store_signing_keys(view, &now, &l), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "org view") != NULL);
  CHECK_STATUS(keyscope_store_rotate_signing_key(view, NULL, NULL, &now, &k), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_retire_signing_key(view, n0, false, NULL, &now), KEYSCOPE_INVALID_INPUT);
  CHECK(l == NULL && k == NULL);
  OK(keyscope_store_jwks(view, &now, &jwks)); /* the JWK Set is public: views serve it */
  keyscope_string_free(jwks);
  keyscope_store_close(view);

  /* Keys from the signing_keys option: listed (HS256, unpublished), not rotated. */
  OK(keyscope_store_signing_keys(fixed, &now, &l));
  CHECK(keyscope_signing_key_list_len(l) == 1);
  CHECK(strcmp(keyscope_signing_key_kid(keyscope_signing_key_list_item(l, 0)), "k1") == 0);
  CHECK(strcmp(keyscope_signing_key_alg(keyscope_signing_key_list_item(l, 0)), "HS256") == 0);
  CHECK(strcmp(keyscope_signing_key_state(keyscope_signing_key_list_item(l, 0)), "current") == 0);
  CHECK(keyscope_signing_key_public_jwk(keyscope_signing_key_list_item(l, 0)) == NULL);
  keyscope_signing_key_list_free(l);
  CHECK_STATUS(keyscope_store_rotate_signing_key(fixed, NULL, NULL, &now, &k), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "signing_keys") != NULL);
  CHECK_STATUS(keyscope_store_retire_signing_key(fixed, "k1", true, NULL, &now), KEYSCOPE_INVALID_INPUT);

  /* NULL everywhere. */
  CHECK_STATUS(keyscope_store_signing_keys(NULL, &now, &l), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_signing_keys(es, &now, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK(keyscope_signing_key_list_len(NULL) == 0);
  CHECK(keyscope_signing_key_list_item(NULL, 0) == NULL);
  CHECK(keyscope_signing_key_kid(NULL) == NULL && keyscope_signing_key_alg(NULL) == NULL);
  CHECK(keyscope_signing_key_state(NULL) == NULL && keyscope_signing_key_public_jwk(NULL) == NULL);
  CHECK(keyscope_signing_key_created_at(NULL) == KEYSCOPE_NO_TIME);
  CHECK(keyscope_signing_key_retired_at(NULL) == KEYSCOPE_NO_TIME);
  keyscope_signing_key_free(NULL);
  keyscope_signing_key_list_free(NULL);
}

/* revoke_token: revoked tokens are refused; anything else is left alone. */
static void test_revoke_token(keyscope_store *es, keyscope_store *fixed) {
  keyscope_store *stores[2] = {es, fixed};
  for (int i = 0; i < 2; i++) {
    keyscope_created_key *c = create(stores[i], "revoked-svc");
    keyscope_token *t = issue(stores[i], c);
    const char *token = keyscope_token_access_token(t);
    int64_t now = T0 + 5;
    OK(authorize_at(stores[i], token, now));
    keyscope_store *view = NULL;
    OK(keyscope_store_org(stores[i], "acme", &view));
    bool revoked = true;
    OK(keyscope_store_revoke_token(view, token, &now, &revoked)); /* another org's token */
    CHECK(!revoked);
    keyscope_store_close(view);
    OK(authorize_at(stores[i], token, now));
    int64_t expired = T0 + 7200;
    revoked = true;
    OK(keyscope_store_revoke_token(stores[i], token, &expired, &revoked));
    CHECK(!revoked);
    OK(keyscope_store_revoke_token(stores[i], token, &now, &revoked));
    CHECK(revoked);
    CHECK_STATUS(authorize_at(stores[i], token, now), KEYSCOPE_TOKEN_REVOKED);
    keyscope_token_free(t);
    int64_t later = T0 + 10;
    OK(keyscope_store_delete_key(stores[i], keyscope_key_id(keyscope_created_key_key(c)), NULL, &later));
    keyscope_created_key_free(c);
  }
  bool revoked = true;
  OK(keyscope_store_revoke_token(es, "not-a-token", NULL, &revoked));
  CHECK(!revoked);
  size_t long_len = 9000;
  char *long_token = malloc(long_len + 1);
  CHECK(long_token != NULL);
  if (long_token) {
    memset(long_token, 'a', long_len);
    long_token[long_len] = 0;
    revoked = true;
    OK(keyscope_store_revoke_token(es, long_token, NULL, &revoked));
    CHECK(!revoked);
    free(long_token);
  }
  revoked = true; /* written only on success */
  CHECK_STATUS(keyscope_store_revoke_token(es, NULL, NULL, &revoked), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_revoke_token(es, BAD_UTF8, NULL, &revoked), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_revoke_token(NULL, "x.y.z", NULL, &revoked), KEYSCOPE_INVALID_INPUT);
  int64_t bad_now = INT64_MIN + 1;
  CHECK_STATUS(keyscope_store_revoke_token(es, "x.y.z", &bad_now, &revoked), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_store_revoke_token(es, "x.y.z", NULL, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK(revoked);
}

/* token_alg and key_encryption_key. */
static void test_signing_options(const char *dir) {
  keyscope_options *o = NULL;
  CHECK_STATUS(keyscope_options_set_token_alg(NULL, "ES256"), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_new(&o));
  CHECK_STATUS(keyscope_options_set_token_alg(o, NULL), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_set_token_alg(o, "none"), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "token_alg") != NULL);
  CHECK_STATUS(keyscope_options_set_token_alg(o, "es256"), KEYSCOPE_INVALID_INPUT); /* exact spelling */
  CHECK_STATUS(keyscope_options_set_token_alg(o, BAD_UTF8), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_set_token_alg(o, "ES256"));
  static const uint8_t secret[32] = {9};
  OK(keyscope_options_add_signing_key(o, "k1", secret, sizeof secret));
  keyscope_store *s = NULL;
  CHECK_STATUS(keyscope_store_open(":memory:", o, &s), KEYSCOPE_INVALID_INPUT); /* fixed keys are HS256 */
  keyscope_options_free(o);

  s = open_own_keys(":memory:", NULL, "EdDSA");
  keyscope_signing_key_list *l = NULL;
  OK(keyscope_store_signing_keys(s, NULL, &l));
  CHECK(keyscope_signing_key_list_len(l) == 2);
  CHECK(strcmp(keyscope_signing_key_alg(keyscope_signing_key_list_item(l, 0)), "EdDSA") == 0);
  CHECK(strcmp(keyscope_signing_key_alg(keyscope_signing_key_list_item(l, 1)), "EdDSA") == 0);
  keyscope_signing_key_list_free(l);
  keyscope_store_close(s);

  /* Private keys sealed with a key-encryption key: the same key reopens the store,
   * another is refused. */
  uint8_t kek[32], other[32];
  for (int i = 0; i < 32; i++) {
    kek[i] = (uint8_t)(i + 1);
    other[i] = (uint8_t)(100 + i);
  }
  CHECK_STATUS(keyscope_options_set_key_encryption_key(NULL, kek, 32), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_new(&o));
  CHECK_STATUS(keyscope_options_set_key_encryption_key(o, NULL, 32), KEYSCOPE_INVALID_INPUT);
  CHECK_STATUS(keyscope_options_set_key_encryption_key(o, NULL, 0), KEYSCOPE_INVALID_INPUT);
  OK(keyscope_options_set_key_encryption_key(o, kek, 31));
  CHECK_STATUS(keyscope_store_open(":memory:", o, &s), KEYSCOPE_INVALID_INPUT);
  CHECK(strstr(keyscope_last_error(), "key_encryption_key") != NULL);
  OK(keyscope_options_set_argon2(o, 64, 1, 1));
  OK(keyscope_options_set_key_encryption_key(o, kek, sizeof kek));
  char path[512];
  snprintf(path, sizeof path, "%s/sealed.db", dir);
  remove(path);
  OK(keyscope_store_open(path, o, &s));
  keyscope_created_key *c = create(s, "sealed-svc");
  keyscope_token *t = issue(s, c);
  keyscope_store_close(s);
  s = NULL;
  OK(keyscope_store_open(path, o, &s)); /* the same key: the private keys open */
  OK(authorize_at(s, keyscope_token_access_token(t), T0 + 10));
  keyscope_token *t2 = issue(s, c);
  CHECK(t2 != NULL);
  keyscope_token_free(t2);
  keyscope_store_close(s);
  s = NULL;
  OK(keyscope_options_set_key_encryption_key(o, other, sizeof other));
  CHECK_STATUS(keyscope_store_open(path, o, &s), KEYSCOPE_STORAGE);
  CHECK(strstr(keyscope_last_error(), "key_encryption_key") != NULL);
  CHECK(s == NULL);
  keyscope_options_free(o);
  keyscope_token_free(t);
  keyscope_created_key_free(c);
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
  keyscope_store *es = open_own_keys(location, "https://auth.example.com/auth", NULL);
  test_handle_http(es, store);
  test_signing_keys(es, store);
  test_revoke_token(es, store);
  keyscope_store_close(es);
  test_signing_options(dir);
  keyscope_store_close(store);
  if (failures) {
    fprintf(stderr, "%d check(s) failed\n", failures);
    return 1;
  }
  puts("c tests ok");
  return 0;
}

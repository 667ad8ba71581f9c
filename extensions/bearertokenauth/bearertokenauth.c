/* bearertokenauth.c -- the `bearertokenauth` extension, server side: a
 * receiver that names it in `auth: {authenticator: bearertokenauth}` accepts
 * a request only with header "<scheme> <token>".
 *
 *   extensions:
 *     bearertokenauth:
 *       scheme: Bearer          # default
 *       header: Authorization   # default; matched case-insensitively
 *       token: ${env:TOKEN}     # or tokens: [a, b], or filename: /run/secrets/token
 *
 * With filename, the token is read at start and again whenever the file's
 * mtime changes (checked once a second), so a rotated secret takes effect
 * without a restart. Tokens are compared in constant time and never logged. */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "auth.h"
#include "component.h"
#include "log.h"

typedef struct bta_config {
    char *scheme;
    char *header;
    char *token;
    pp_cfg_strs tokens;
    char *filename;
} bta_config;

static const pp_cfg_field bta_schema[] = {
    {.key = "scheme", .type = PP_CFG_STRING, .offset = offsetof(bta_config, scheme),
     .help = "word before the token in the header (default Bearer; empty: the token alone)"},
    {.key = "header", .type = PP_CFG_STRING, .offset = offsetof(bta_config, header),
     .help = "request header holding the credentials (default Authorization)"},
    {.key = "token", .type = PP_CFG_STRING, .offset = offsetof(bta_config, token),
     .flags = PP_CFG_SECRET, .help = "the accepted token"},
    {.key = "tokens", .type = PP_CFG_STRING_LIST, .offset = offsetof(bta_config, tokens),
     .flags = PP_CFG_SECRET, .help = "several accepted tokens (e.g. while rotating)"},
    {.key = "filename", .type = PP_CFG_STRING, .offset = offsetof(bta_config, filename),
     .help = "file holding the token; re-read when it changes"},
    {0},
};

static void bta_defaults(void *p) {
    bta_config *c = p;
    c->scheme = strdup("Bearer");
    c->header = strdup("Authorization");
}

static bool set(const char *s) { return s && *s; }

static size_t bta_validate(const void *p, const char *path, pp_diag *d) {
    const bta_config *c = p;
    size_t errors = 0;
    int sources = set(c->token) + (c->tokens.count > 0) + set(c->filename);
    if (sources != 1) {
        pp_diag_error(d, path, 0, "set exactly one of token, tokens or filename");
        errors++;
    }
    for (size_t i = 0; i < c->tokens.count; i++) {
        if (set(c->tokens.items[i])) continue;
        char where[256];
        snprintf(where, sizeof(where), "%s.tokens[%zu]", path, i);
        pp_diag_error(d, where, 0, "empty token");
        errors++;
    }
    if (!set(c->header)) {
        char where[256];
        snprintf(where, sizeof(where), "%s.header", path);
        pp_diag_error(d, where, 0, "must not be empty");
        errors++;
    }
    return errors;
}

typedef struct bearer_auth {
    pp_server_auth auth; /* first: pp_host_authenticator hands this out */
    const bta_config *cfg;
    char component[160];
    char *header; /* lowercase */
    pthread_rwlock_t lock; /* expected, nexpected (swapped on rotation) */
    char **expected;       /* "<scheme> <token>" */
    size_t nexpected;
    struct timespec mtime; /* of filename when last read */
    uv_timer_t timer;
    bool timer_started;
} bearer_auth;

static void free_list(char **list, size_t n) {
    for (size_t i = 0; i < n; i++) free(list[i]);
    free(list);
}

/* "<scheme> <token>", or the token alone when the scheme is empty. */
static char *expected_value(const char *scheme, const char *token) {
    size_t ls = strlen(scheme), lt = strlen(token);
    char *v = malloc(ls + lt + 2);
    if (!v) return NULL;
    if (ls) {
        memcpy(v, scheme, ls);
        v[ls++] = ' ';
    }
    memcpy(v + ls, token, lt + 1);
    return v;
}

/* Replaces the accepted values with those for tokens[0..n). */
static int install(bearer_auth *a, char *const *tokens, size_t n) {
    char **list = calloc(n, sizeof(char *));
    if (!list) return -1;
    for (size_t i = 0; i < n; i++) {
        if (!(list[i] = expected_value(a->cfg->scheme ? a->cfg->scheme : "", tokens[i]))) {
            free_list(list, i);
            return -1;
        }
    }
    pthread_rwlock_wrlock(&a->lock);
    char **old = a->expected;
    size_t nold = a->nexpected;
    a->expected = list;
    a->nexpected = n;
    pthread_rwlock_unlock(&a->lock);
    free_list(old, nold);
    return 0;
}

/* Reads the token file (trailing whitespace, e.g. echo's newline, trimmed)
 * and installs it. The error text never contains the file's content. */
static int load_file(bearer_auth *a, const struct stat *sb, pp_status *st) {
    FILE *f = fopen(a->cfg->filename, "r");
    if (!f) return pp_fail(st, PP_INVALID, "%s: cannot open filename %s", a->component, a->cfg->filename);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    bool more = fgetc(f) != EOF;
    fclose(f);
    if (more) return pp_fail(st, PP_INVALID, "%s: %s is larger than 4 KiB", a->component, a->cfg->filename);
    while (n > 0 && isspace((unsigned char)buf[n - 1])) n--;
    buf[n] = '\0';
    if (n == 0 || memchr(buf, '\0', n))
        return pp_fail(st, PP_INVALID, "%s: %s holds no token", a->component, a->cfg->filename);
    char *tok = buf;
    int rc = install(a, &tok, 1);
    memset(buf, 0, sizeof(buf));
    if (rc != 0) return pp_fail(st, PP_INTERNAL, "%s: out of memory", a->component);
    a->mtime = sb->st_mtim;
    return 0;
}

static void on_tick(uv_timer_t *t) {
    bearer_auth *a = t->data;
    struct stat sb;
    if (stat(a->cfg->filename, &sb) != 0) return; /* a rotation in progress: keep the old token */
    if (sb.st_mtim.tv_sec == a->mtime.tv_sec && sb.st_mtim.tv_nsec == a->mtime.tv_nsec) return;
    pp_status st = {0};
    if (load_file(a, &sb, &st) != 0)
        pp_log_warn(a->component, "token file changed but could not be used; keeping the old token",
                    "error", st.msg, NULL);
    else
        pp_log_info(a->component, "token file changed; new token in use", "filename",
                    a->cfg->filename, NULL);
}

/* Equality of value with expect in time that depends only on their lengths. */
static unsigned ct_equal(const char *value, size_t vlen, const char *expect) {
    size_t elen = strlen(expect);
    unsigned diff = vlen != elen;
    for (size_t i = 0; i < elen; i++)
        diff |= (unsigned char)expect[i] ^ (unsigned char)(i < vlen ? value[i] : 0);
    return diff == 0;
}

static int bta_check(pp_server_auth *self, const char *value, pp_status *st) {
    bearer_auth *a = (bearer_auth *)self;
    unsigned ok = 0;
    if (value) {
        size_t vlen = strlen(value);
        pthread_rwlock_rdlock(&a->lock);
        for (size_t i = 0; i < a->nexpected; i++) ok |= ct_equal(value, vlen, a->expected[i]);
        pthread_rwlock_unlock(&a->lock);
    }
    return ok ? 0 : pp_fail(st, PP_UNAUTHENTICATED, "missing or invalid bearer token");
}

static void *bta_create(const pp_create_params *p, pp_status *st) {
    bearer_auth *a = calloc(1, sizeof(*a));
    const bta_config *c = p->config;
    if (!a || !(a->header = strdup(c->header))) {
        free(a);
        pp_fail(st, PP_INTERNAL, "out of memory");
        return NULL;
    }
    for (char *h = a->header; *h; h++) *h = (char)tolower((unsigned char)*h);
    a->auth.header = a->header;
    a->auth.check = bta_check;
    a->cfg = c;
    snprintf(a->component, sizeof(a->component), "extension/%s", p->id);
    pthread_rwlock_init(&a->lock, NULL);
    return a;
}

static int bta_start(void *inst, pp_host *host, pp_status *st) {
    bearer_auth *a = inst;
    const bta_config *c = a->cfg;
    if (set(c->token)) return install(a, &c->token, 1) == 0 ? 0 : pp_fail(st, PP_INTERNAL, "out of memory");
    if (c->tokens.count > 0)
        return install(a, c->tokens.items, c->tokens.count) == 0 ? 0
                                                                 : pp_fail(st, PP_INTERNAL, "out of memory");
    struct stat sb;
    if (stat(c->filename, &sb) != 0)
        return pp_fail(st, PP_INVALID, "%s: cannot read filename %s", a->component, c->filename);
    if (load_file(a, &sb, st) != 0) return -1;
    if (uv_timer_init(host->loop, &a->timer) != 0)
        return pp_fail(st, PP_INTERNAL, "%s: cannot create timer", a->component);
    a->timer.data = a;
    uv_timer_start(&a->timer, on_tick, 1000, 1000);
    a->timer_started = true;
    return 0;
}

static void bta_shutdown(void *inst, pp_host *host) {
    bearer_auth *a = inst;
    (void)host;
    if (a->timer_started) {
        uv_timer_stop(&a->timer);
        uv_close((uv_handle_t *)&a->timer, NULL);
        a->timer_started = false;
    }
}

static void bta_destroy(void *inst) {
    bearer_auth *a = inst;
    free_list(a->expected, a->nexpected);
    pthread_rwlock_destroy(&a->lock);
    free(a->header);
    free(a);
}

const pp_factory pp_bearertokenauth_extension = {
    .kind = PP_EXTENSION,
    .type = "bearertokenauth",
    .authenticator = true,
    .config_size = sizeof(bta_config),
    .schema = bta_schema,
    .config_defaults = bta_defaults,
    .config_validate = bta_validate,
    .create = bta_create,
    .start = bta_start,
    .shutdown = bta_shutdown,
    .destroy = bta_destroy,
};

/* policy/parse.c: YAML (libyaml events) and JSON (jansson) into one pol_node tree.
 *
 * Both front ends reject what the schema could not tell apart afterwards:
 * duplicate keys (jansson's JSON_REJECT_DUPLICATES; our own check for YAML,
 * which libyaml does not make), NUL bytes inside strings, more nesting or
 * entries than POL_MAX_*. YAML features that let one node stand for another
 * or change its type (anchors, aliases, tags, %TAG directives) are refused
 * outright, as is any stream that is not exactly one document.
 */
#include "policy/policy_internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

struct tree_ctx {
    size_t nodes;
    struct atv_err *err;
};

/* ---- messages -------------------------------------------------------------- */

void pol_sanitize(const char *s, size_t n, char *out, size_t cap)
{
    size_t o = 0;

    if (cap == 0) {
        return;
    }
    for (size_t k = 0; k < n && s != NULL; k++) {
        if (o + 1 >= cap) {
            break;
        }
        unsigned char c = (unsigned char)s[k];
        /* Quotes and backslashes are masked too, so a quoted key in a
         * message cannot be confused with the message around it. */
        out[o++] = (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') ? (char)c : '?';
    }
    out[o] = '\0';
    if (s != NULL && o < n && cap >= 4) {
        size_t at = o < cap - 4 ? o : cap - 4;
        memcpy(out + at, "...", 4);
    }
}

static int is_ident(const char *k)
{
    if (k[0] == '\0') {
        return 0;
    }
    for (size_t i = 0; k[i] != '\0'; i++) {
        char c = k[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                 (i > 0 && c >= '0' && c <= '9');
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* Appends to out (NUL-terminated, cap >= 1), silently truncating. */
static void path_add(char *out, size_t cap, size_t *len, const char *s)
{
    size_t sl = strlen(s);
    if (*len + 1 >= cap) {
        return;
    }
    if (sl > cap - 1 - *len) {
        sl = cap - 1 - *len;
    }
    memcpy(out + *len, s, sl);
    *len += sl;
    out[*len] = '\0';
}

void pol_node_path(const struct pol_node *n, char *out, size_t cap)
{
    const struct pol_node *chain[POL_MAX_DEPTH + 2];
    size_t depth = 0;
    size_t len = 0;

    if (cap == 0) {
        return;
    }
    out[0] = '\0';
    for (const struct pol_node *p = n; p != NULL && p->parent != NULL; p = p->parent) {
        if (depth == sizeof chain / sizeof chain[0]) {
            break; /* cannot happen: the tree is at most POL_MAX_DEPTH deep */
        }
        chain[depth++] = p;
    }
    if (depth == 0) {
        path_add(out, cap, &len, "document");
        return;
    }
    while (depth > 0) {
        const struct pol_node *p = chain[--depth];
        char piece[96];
        if (p->key != NULL && is_ident(p->key) && strlen(p->key) < 64) {
            (void)snprintf(piece, sizeof piece, "%s%s", len > 0 ? "." : "", p->key);
        } else if (p->key != NULL) {
            char k[72];
            pol_sanitize(p->key, strlen(p->key), k, sizeof k);
            (void)snprintf(piece, sizeof piece, "[\"%s\"]", k);
        } else {
            (void)snprintf(piece, sizeof piece, "[%zu]", p->index);
        }
        path_add(out, cap, &len, piece);
    }
}

static enum atv_status fail_v(struct atv_err *err, enum atv_status code,
                              const struct pol_node *at, size_t line, const char *fmt, va_list ap)
    ATV_PRINTF(5, 0);

static enum atv_status fail_v(struct atv_err *err, enum atv_status code,
                              const struct pol_node *at, size_t line, const char *fmt, va_list ap)
{
    char msg[200];
    char path[160];
    char where[40] = "";

    (void)vsnprintf(msg, sizeof msg, fmt, ap);
    pol_node_path(at, path, sizeof path);
    if (line > 0) {
        (void)snprintf(where, sizeof where, " at line %zu", line);
    }
    return atv_err_set(err, code, "%s: %s%s", path, msg, where);
}

enum atv_status pol_fail(struct atv_err *err, enum atv_status code, const struct pol_node *at,
                         const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    enum atv_status rc = fail_v(err, code, at, at != NULL ? at->line : 0, fmt, ap);
    va_end(ap);
    return rc;
}

enum atv_status pol_fail_key(struct atv_err *err, enum atv_status code,
                             const struct pol_node *at, const char *fmt, ...)
{
    va_list ap;
    size_t line = 0;
    if (at != NULL) {
        line = at->key_line > 0 ? at->key_line : at->line;
    }
    va_start(ap, fmt);
    enum atv_status rc = fail_v(err, code, at, line, fmt, ap);
    va_end(ap);
    return rc;
}

/* ---- the tree ------------------------------------------------------------------ */

void pol_tree_free(struct pol_node *n)
{
    if (n == NULL) {
        return;
    }
    for (size_t k = 0; k < n->n; k++) {
        free(n->items[k].key);
        pol_tree_free(n->items[k].val);
    }
    free(n->items);
    free(n->text);
    free(n);
}

static enum atv_status node_new(struct tree_ctx *c, enum pol_kind kind, size_t line,
                                struct pol_node **out)
{
    *out = NULL;
    if (c->nodes >= POL_MAX_NODES) {
        return atv_err_set(c->err, ATV_E_LIMIT, "document: more than %u nodes (line %zu)",
                           POL_MAX_NODES, line);
    }
    struct pol_node *n = calloc(1, sizeof *n);
    if (n == NULL) {
        return atv_err_set(c->err, ATV_E_NOMEM, "policy: out of memory");
    }
    c->nodes++;
    n->kind = kind;
    n->line = line;
    *out = n;
    return ATV_OK;
}

/* Copies a scalar's bytes into n->text; a NUL inside is refused, because
 * every consumer of these strings is a C string (a DID, a name, a glob). */
static enum atv_status node_text(struct tree_ctx *c, struct pol_node *n, const char *s,
                                 size_t len)
{
    if (len > 0 && memchr(s, 0, len) != NULL) {
        return pol_fail(c->err, ATV_E_PARSE, n, "string contains a NUL byte");
    }
    n->text = malloc(len + 1);
    if (n->text == NULL) {
        return atv_err_set(c->err, ATV_E_NOMEM, "policy: out of memory");
    }
    if (len > 0) {
        memcpy(n->text, s, len);
    }
    n->text[len] = '\0';
    n->len = len;
    return ATV_OK;
}

/* A mapping may not hold a key twice (YAML 1.2 section 3.2.1.1: keys are
 * unique; JSON leaves it open, we refuse it there too). */
static enum atv_status key_check(struct tree_ctx *c, const struct pol_node *map, const char *key,
                                 size_t line)
{
    char k[72];
    char where[40] = "";

    if (line > 0) {
        (void)snprintf(where, sizeof where, " at line %zu", line);
    }
    for (size_t i = 0; i < map->n; i++) {
        if (strcmp(map->items[i].key, key) == 0) {
            char path[160];
            pol_node_path(map, path, sizeof path);
            pol_sanitize(key, strlen(key), k, sizeof k);
            return atv_err_set(c->err, ATV_E_PARSE, "%s: duplicate key \"%s\"%s", path, k, where);
        }
    }
    return ATV_OK;
}

/* Adds child under parent (key for a mapping, NULL for a sequence).
 * Steals key and child: both are freed on failure. */
static enum atv_status attach(struct tree_ctx *c, struct pol_node *parent, char *key,
                              size_t key_line, struct pol_node *child)
{
    enum atv_status rc = ATV_OK;

    if (parent->n >= POL_MAX_ITEMS) {
        rc = pol_fail(c->err, ATV_E_LIMIT, parent, "more than %u entries", POL_MAX_ITEMS);
        goto out;
    }
    if (parent->n == parent->cap) {
        size_t ncap = parent->cap == 0 ? 8 : parent->cap * 2;
        struct pol_entry *ni = realloc(parent->items, ncap * sizeof *ni);
        if (ni == NULL) {
            rc = atv_err_set(c->err, ATV_E_NOMEM, "policy: out of memory");
            goto out;
        }
        parent->items = ni;
        parent->cap = ncap;
    }
    child->parent = parent;
    child->key = key;
    child->key_line = key_line;
    child->index = parent->n;
    parent->items[parent->n].key = key;
    parent->items[parent->n].val = child;
    parent->n++;
    key = NULL;
    child = NULL;
out:
    free(key);
    pol_tree_free(child);
    return rc;
}

/* ---- YAML ---------------------------------------------------------------------- */

static int all_digits(const char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }
    return 1;
}

/* Would some YAML resolver (1.1 or 1.2 core) read this plain scalar as a
 * number? Used to refuse "1.0", "0x1F", "+1", "1e3", ".inf", "1_000" where a
 * string or an integer is expected, instead of guessing which was meant. */
static int looks_numeric(const char *s, size_t n)
{
    size_t i = 0;
    size_t digits = 0;

    if (i < n && (s[i] == '+' || s[i] == '-')) {
        i++;
    }
    if (n - i == 4 && s[i] == '.' &&
        (memcmp(s + i, ".inf", 4) == 0 || memcmp(s + i, ".Inf", 4) == 0 ||
         memcmp(s + i, ".INF", 4) == 0 || memcmp(s + i, ".nan", 4) == 0 ||
         memcmp(s + i, ".NaN", 4) == 0 || memcmp(s + i, ".NAN", 4) == 0)) {
        return 1;
    }
    if (n - i > 2 && s[i] == '0' &&
        (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b' || s[i + 1] == 'X')) {
        return 1;
    }
    while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
        digits += s[i] != '_';
        i++;
    }
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
            digits += s[i] != '_';
            i++;
        }
    }
    if (digits > 0 && i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-')) {
            i++;
        }
        if (!all_digits(s + i, n - i)) {
            return 0;
        }
        i = n;
    }
    return digits > 0 && i == n;
}

static int is_one_of(const char *s, const char *const *words)
{
    for (size_t k = 0; words[k] != NULL; k++) {
        if (strcmp(s, words[k]) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Types a plain (unquoted) scalar. Booleans are exactly true/false and
 * integers plain decimal without sign or leading zero except "-"; the other
 * spellings YAML 1.1 or 1.2 resolvers give a non-string meaning (True, yes,
 * off, ~, 1.0, 0x10, ...) become POL_NULL / POL_NUM / POL_OTHER, which the
 * schema refuses where a string is wanted, so a value never changes type
 * depending on which YAML version a reader assumes. Quote them to mean a string. */
static void classify_plain(struct pol_node *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const bool_like[] = {"True", "TRUE", "False", "FALSE", "yes", "Yes",
                                            "YES",  "no",   "No",    "NO",    "on",  "On",
                                            "ON",   "off",  "Off",   "OFF",   "y",   "Y",
                                            "n",    "N",    NULL};
    const char *s = n->text;
    size_t len = n->len;

    n->kind = POL_STR;
    if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
        n->kind = POL_BOOL;
        n->b = s[0] == 't';
        return;
    }
    if (is_one_of(s, nulls)) {
        n->kind = POL_NULL;
        return;
    }
    if (is_one_of(s, bool_like)) {
        n->kind = POL_OTHER; /* neither our boolean nor a safe string */
        return;
    }
    size_t neg = (len > 0 && s[0] == '-') ? 1u : 0u;
    if (all_digits(s + neg, len - neg) && (s[neg] != '0' || len - neg == 1)) {
        int64_t v = 0;
        for (size_t k = neg; k < len; k++) {
            int64_t d = s[k] - '0';
            if (v > (INT64_MAX - d) / 10) {
                v = INT64_MAX; /* far outside every range the schema accepts */
                break;
            }
            v = v * 10 + d;
        }
        n->kind = POL_INT;
        n->i = neg != 0 && v != INT64_MAX ? -v : v;
        if (neg != 0 && v == INT64_MAX) {
            n->i = INT64_MIN;
        }
        return;
    }
    if (looks_numeric(s, len)) {
        n->kind = POL_NUM;
    }
}

static enum atv_status yaml_error(const yaml_parser_t *p, struct atv_err *err)
{
    if (p->error == YAML_MEMORY_ERROR) {
        return atv_err_set(err, ATV_E_NOMEM, "yaml: out of memory");
    }
    if (p->error == YAML_READER_ERROR) {
        /* Encoding errors: libyaml reports a byte offset, not a mark. */
        return atv_err_set(err, ATV_E_PARSE, "yaml: byte %zu: %s", p->problem_offset,
                           p->problem != NULL ? p->problem : "unreadable input");
    }
    return atv_err_set(err, ATV_E_PARSE, "yaml: line %zu column %zu: %s%s%s",
                       p->problem_mark.line + 1, p->problem_mark.column + 1,
                       p->problem != NULL ? p->problem : "syntax error",
                       p->context != NULL ? " " : "", p->context != NULL ? p->context : "");
}

struct yaml_frame {
    struct pol_node *node; /* borrow: owned by the tree */
    char *key;             /* a mapping's pending key, waiting for its value */
    size_t key_line;
};

struct yaml_state {
    struct tree_ctx c;
    struct yaml_frame st[POL_MAX_DEPTH];
    size_t depth;
    struct pol_node *root;
};

/* Places a new node (stolen) in the document: the root, a sequence item, a
 * mapping key (scalars only; the node is consumed) or a mapping value. */
static enum atv_status yaml_place(struct yaml_state *y, struct pol_node *n)
{
    enum atv_status rc = ATV_OK;

    if (y->depth == 0) {
        if (y->root != NULL) {
            rc = atv_err_set(y->c.err, ATV_E_INTERNAL, "yaml: two root nodes");
            goto out;
        }
        y->root = n;
        return ATV_OK;
    }
    struct yaml_frame *f = &y->st[y->depth - 1];
    if (f->node->kind == POL_SEQ) {
        return attach(&y->c, f->node, NULL, 0, n);
    }
    if (f->key == NULL) {
        if (n->kind == POL_MAP || n->kind == POL_SEQ) {
            rc = atv_err_set(y->c.err, ATV_E_PARSE,
                             "yaml: line %zu: a mapping key must be a scalar", n->line);
            goto out;
        }
        rc = key_check(&y->c, f->node, n->text, n->line);
        if (rc != ATV_OK) {
            goto out;
        }
        f->key = n->text;
        f->key_line = n->line;
        n->text = NULL;
        goto out; /* the key's node itself is not kept */
    }
    char *key = f->key;
    f->key = NULL;
    return attach(&y->c, f->node, key, f->key_line, n);
out:
    pol_tree_free(n);
    return rc;
}

/* Anchors and aliases would let one node appear in several places (and
 * "billion laughs" expansion); tags would let a value claim another type.
 * The format needs neither. */
static enum atv_status yaml_plain_node(struct yaml_state *y, const yaml_event_t *ev,
                                       const yaml_char_t *anchor, const yaml_char_t *tag)
{
    size_t line = ev->start_mark.line + 1;
    if (anchor != NULL) {
        return atv_err_set(y->c.err, ATV_E_PARSE, "yaml: line %zu: anchors are not allowed",
                           line);
    }
    if (tag != NULL) {
        return atv_err_set(y->c.err, ATV_E_PARSE, "yaml: line %zu: tags are not allowed", line);
    }
    return ATV_OK;
}

static enum atv_status yaml_event(struct yaml_state *y, const yaml_event_t *ev, int *docs,
                                  int *done)
{
    size_t line = ev->start_mark.line + 1;
    struct pol_node *n = NULL;
    enum atv_status rc = ATV_OK;

    switch (ev->type) {
    case YAML_STREAM_START_EVENT:
    case YAML_DOCUMENT_END_EVENT:
        return ATV_OK;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return ATV_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (*docs > 0) {
            return atv_err_set(y->c.err, ATV_E_PARSE,
                               "yaml: line %zu: a second document (one document only)", line);
        }
        if (ev->data.document_start.version_directive != NULL ||
            ev->data.document_start.tag_directives.start !=
                ev->data.document_start.tag_directives.end) {
            return atv_err_set(y->c.err, ATV_E_PARSE, "yaml: line %zu: directives are not allowed",
                               line);
        }
        (*docs)++;
        return ATV_OK;
    case YAML_ALIAS_EVENT:
        return atv_err_set(y->c.err, ATV_E_PARSE, "yaml: line %zu: aliases are not allowed",
                           line);
    case YAML_SCALAR_EVENT:
        rc = yaml_plain_node(y, ev, ev->data.scalar.anchor, ev->data.scalar.tag);
        if (rc != ATV_OK) {
            return rc;
        }
        rc = node_new(&y->c, POL_STR, line, &n);
        if (rc != ATV_OK) {
            return rc;
        }
        rc = node_text(&y->c, n, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (rc != ATV_OK) {
            pol_tree_free(n);
            return rc;
        }
        /* The style decides: a quoted "true" is the string true. */
        if (ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            classify_plain(n);
        }
        return yaml_place(y, n);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int map = ev->type == YAML_MAPPING_START_EVENT;
        rc = yaml_plain_node(y, ev, map ? ev->data.mapping_start.anchor
                                        : ev->data.sequence_start.anchor,
                             map ? ev->data.mapping_start.tag : ev->data.sequence_start.tag);
        if (rc != ATV_OK) {
            return rc;
        }
        if (y->depth >= POL_MAX_DEPTH) {
            return atv_err_set(y->c.err, ATV_E_LIMIT, "yaml: line %zu: nesting deeper than %u",
                               line, POL_MAX_DEPTH);
        }
        rc = node_new(&y->c, map ? POL_MAP : POL_SEQ, line, &n);
        if (rc != ATV_OK) {
            return rc;
        }
        rc = yaml_place(y, n); /* n stays valid: the tree owns it now */
        if (rc != ATV_OK) {
            return rc;
        }
        y->st[y->depth].node = n;
        y->st[y->depth].key = NULL;
        y->st[y->depth].key_line = 0;
        y->depth++;
        return ATV_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (y->depth == 0 || y->st[y->depth - 1].key != NULL) {
            return atv_err_set(y->c.err, ATV_E_INTERNAL, "yaml: line %zu: unbalanced events",
                               line);
        }
        y->depth--;
        return ATV_OK;
    case YAML_NO_EVENT:
    default:
        return atv_err_set(y->c.err, ATV_E_INTERNAL, "yaml: line %zu: unexpected event %d", line,
                           (int)ev->type);
    }
}

static enum atv_status yaml_tree(struct atv_bytes text, struct pol_node **root,
                                 struct atv_err *err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    int have_parser = 0;
    int have_event = 0;
    int docs = 0;
    int done = 0;
    struct yaml_state y;
    enum atv_status rc = ATV_OK;

    memset(&y, 0, sizeof y);
    y.c.err = err;
    if (yaml_parser_initialize(&parser) == 0) {
        rc = atv_err_set(err, ATV_E_NOMEM, "yaml: out of memory");
        goto out;
    }
    have_parser = 1;
    /* No guessing from a byte order mark: the format is UTF-8. */
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, text.ptr, text.len);
    while (!done) {
        if (yaml_parser_parse(&parser, &ev) == 0) {
            rc = yaml_error(&parser, err);
            goto out;
        }
        have_event = 1;
        rc = yaml_event(&y, &ev, &docs, &done);
        if (rc != ATV_OK) {
            goto out;
        }
        yaml_event_delete(&ev);
        have_event = 0;
    }
    if (docs == 0 || y.root == NULL) {
        rc = atv_err_set(err, ATV_E_PARSE, "yaml: empty document");
        goto out;
    }
    *root = y.root;
    y.root = NULL;
out:
    if (have_event) {
        yaml_event_delete(&ev);
    }
    if (have_parser) {
        yaml_parser_delete(&parser);
    }
    for (size_t k = 0; k < y.depth; k++) {
        free(y.st[k].key);
    }
    pol_tree_free(y.root);
    return rc;
}

/* ---- JSON ---------------------------------------------------------------------- */

static enum atv_status json_node(struct tree_ctx *c, const json_t *j, size_t depth,
                                 struct pol_node **out)
{
    struct pol_node *n = NULL;
    enum atv_status rc;

    *out = NULL;
    if (depth > POL_MAX_DEPTH) {
        return atv_err_set(c->err, ATV_E_LIMIT, "json: nesting deeper than %u", POL_MAX_DEPTH);
    }
    switch (json_typeof(j)) {
    case JSON_OBJECT:
        rc = node_new(c, POL_MAP, 0, &n);
        break;
    case JSON_ARRAY:
        rc = node_new(c, POL_SEQ, 0, &n);
        break;
    case JSON_STRING:
        rc = node_new(c, POL_STR, 0, &n);
        if (rc == ATV_OK) {
            rc = node_text(c, n, json_string_value(j), json_string_length(j));
        }
        break;
    case JSON_INTEGER:
        rc = node_new(c, POL_INT, 0, &n);
        if (rc == ATV_OK) {
            n->i = (int64_t)json_integer_value(j);
        }
        break;
    case JSON_REAL:
        rc = node_new(c, POL_NUM, 0, &n);
        if (rc == ATV_OK) {
            n->has_real = 1;
            n->real = json_real_value(j);
        }
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        rc = node_new(c, POL_BOOL, 0, &n);
        if (rc == ATV_OK) {
            n->b = json_is_true(j);
        }
        break;
    case JSON_NULL:
        rc = node_new(c, POL_NULL, 0, &n);
        break;
    default:
        rc = atv_err_set(c->err, ATV_E_INTERNAL, "json: unknown value type");
        break;
    }
    if (rc != ATV_OK) {
        goto out;
    }
    if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)j, k, v)
        {
            struct pol_node *child = NULL;
            char *key = NULL;
            /* JSON_REJECT_DUPLICATES already refused duplicates; the count cap is ours. */
            rc = json_node(c, v, depth + 1, &child);
            if (rc != ATV_OK) {
                goto out;
            }
            key = strdup(k);
            if (key == NULL) {
                pol_tree_free(child);
                rc = atv_err_set(c->err, ATV_E_NOMEM, "policy: out of memory");
                goto out;
            }
            rc = attach(c, n, key, 0, child);
            if (rc != ATV_OK) {
                goto out;
            }
        }
    } else if (json_is_array(j)) {
        for (size_t k = 0; k < json_array_size(j); k++) {
            struct pol_node *child = NULL;
            rc = json_node(c, json_array_get(j, k), depth + 1, &child);
            if (rc != ATV_OK) {
                goto out;
            }
            rc = attach(c, n, NULL, 0, child);
            if (rc != ATV_OK) {
                goto out;
            }
        }
    }
    *out = n;
    n = NULL;
out:
    pol_tree_free(n);
    return rc;
}

static enum atv_status json_tree(struct atv_bytes text, struct pol_node **root,
                                 struct atv_err *err)
{
    json_error_t jerr;
    struct tree_ctx c = {0, err};
    enum atv_status rc;

    /* Without JSON_ALLOW_NUL jansson refuses \u0000; without JSON_DECODE_ANY
     * the root must be an object or array; trailing bytes are refused. */
    json_t *j = json_loadb((const char *)text.ptr, text.len, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL) {
        char t[sizeof jerr.text];
        pol_sanitize(jerr.text, strnlen(jerr.text, sizeof jerr.text), t, sizeof t);
        return atv_err_set(err, ATV_E_PARSE, "json: line %d column %d: %s", jerr.line,
                           jerr.column, t);
    }
    rc = json_node(&c, j, 1, root);
    json_decref(j);
    return rc;
}

/* ---- entry ----------------------------------------------------------------------- */

/* "A file whose first non-blank byte is '{' is JSON" (policy.h). */
static int is_json(struct atv_bytes text)
{
    for (size_t k = 0; k < text.len; k++) {
        uint8_t c = text.ptr[k];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }
        return c == '{';
    }
    return 0;
}

enum atv_status pol_tree_parse(struct atv_bytes text, struct pol_node **root,
                               struct atv_err *err)
{
    *root = NULL;
    if (text.ptr == NULL || text.len == 0) {
        return atv_err_set(err, ATV_E_PARSE, "policy: empty document");
    }
    if (text.len > ATV_POLICY_MAX_FILE) {
        return atv_err_set(err, ATV_E_LIMIT, "policy: %zu bytes, max %u", text.len,
                           ATV_POLICY_MAX_FILE);
    }
    return is_json(text) ? json_tree(text, root, err) : yaml_tree(text, root, err);
}

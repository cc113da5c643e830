/* Fuzzes the label selector parser, matcher and renderer, and the pod field selector parser.
 * Invariant checked: the canonical rendering of an accepted selector parses again and renders
 * to the same text (kubectl sends what we render, so it must round-trip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kube/selector.h"

static void roundtrip(const sel_t *s)
{
    buf_t a, b;
    buf_init(&a, 0);
    buf_init(&b, 0);
    if (sel_render(s, &a) == 0) {
        sel_t again;
        char err[256];
        const char *txt = a.data ? a.data : "";
        if (sel_parse(&again, txt, a.len, err, sizeof err) != 0) abort();
        if (sel_render(&again, &b) != 0) abort();
        if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0)) abort();
        sel_free(&again);
    }
    buf_free(&a);
    buf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    sel_t s;
    if (sel_parse(&s, (const char *)data, size, err, sizeof err) == 0) {
        const char *k[] = {"app", "tier", "k", "example.com/x"};
        const char *v[] = {"web", "", "5", "a.b"};
        (void)sel_match(&s, k, v, 4);
        (void)sel_match(&s, NULL, NULL, 0);
        roundtrip(&s);
    } else if (memchr(err, '\n', strnlen(err, sizeof err))) {
        abort(); /* errors are one line */
    }
    sel_free(&s);

    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    fsel_t f;
    if (fsel_parse_pod(&f, text, err, sizeof err) == 0) {
        const char *k[] = {"metadata.name", "status.phase"};
        const char *v[] = {"web-1", "Running"};
        (void)fsel_match(&f, k, v, 2);
    } else if (strchr(err, '\n') || strchr(err, '\r')) {
        abort();
    }
    fsel_free(&f);
    free(text);
    return 0;
}

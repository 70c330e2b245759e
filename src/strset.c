/* SPDX-License-Identifier: MIT */
/* strset.c — a set of borrowed C strings (open addressing), so duplicate
 * checks over opsets, metadata keys and attributes stay linear however many
 * a file holds. */
#include <string.h>
#include "internal.h"

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

og_status og_strset_add(og_strset *set, const char *key, bool *was_present)
{
    *was_present = false;
    if ((set->n + 1) * 2 > set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        const char **slots = og_calloc(cap, sizeof *slots);
        if (!slots)
            return og_err(OG_ERR_NOMEM, "out of memory growing a name set to %zu entries", cap);
        for (size_t k = 0; k < set->cap; k++)
            if (set->slots[k]) {
                size_t i = str_hash(set->slots[k]) & (cap - 1);
                while (slots[i])
                    i = (i + 1) & (cap - 1);
                slots[i] = set->slots[k];
            }
        og_free(set->slots);
        set->slots = slots;
        set->cap = cap;
    }
    size_t i = str_hash(key) & (set->cap - 1);
    for (; set->slots[i]; i = (i + 1) & (set->cap - 1))
        if (strcmp(set->slots[i], key) == 0) {
            *was_present = true;
            return OG_OK;
        }
    set->slots[i] = key;
    set->n++;
    return OG_OK;
}

const char *og_strset_get(const og_strset *set, const char *key)
{
    if (!set->cap)
        return NULL;
    for (size_t i = str_hash(key) & (set->cap - 1); set->slots[i]; i = (i + 1) & (set->cap - 1))
        if (strcmp(set->slots[i], key) == 0)
            return set->slots[i];
    return NULL;
}

void og_strset_clear(og_strset *set)
{
    og_free(set->slots);
    memset(set, 0, sizeof *set);
}

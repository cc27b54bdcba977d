/*
 * Whether a relative path in a config file leads outside the config's
 * folder. Config files are privileged (they name files vmio reads, creates
 * and maps into the guest), and a config that reaches out with "../" should
 * say so: by default such paths are refused (vmio_config_options).
 *
 * Invariant: a path escapes when, walked from the folder, a ".." would climb
 * above it (decided on the text, so files that do not exist yet, such as a
 * file: backing vmio creates, are judged too), or when the path, or the
 * deepest part of it that exists, resolves through symbolic links to a place
 * outside the folder's own resolved path. Absolute paths are not judged here:
 * the config states them outright.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* Whether walking the components of @rel from a folder ever climbs above it. */
static bool climbs_out(const char *rel)
{
    long depth = 0;
    for (const char *p = rel; *p;) {
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return true;
        } else if (len > 0 && !(len == 1 && p[0] == '.')) {
            depth++;
        }
        p += len;
        while (*p == '/')
            p++;
    }
    return false;
}

/* The resolved path of @path or of its deepest existing ancestor, or NULL. */
static char *resolve_existing(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return NULL;
    for (;;) {
        char *real = realpath(copy, NULL);
        if (real || errno != ENOENT) {
            free(copy);
            return real;
        }
        char *slash = strrchr(copy, '/');
        if (!slash || slash == copy) {
            free(copy);
            return NULL;
        }
        *slash = '\0';
    }
}

bool vmio_config_path_escapes(const char *dir, const char *rel)
{
    if (climbs_out(rel))
        return true;
    char *real_dir = realpath(dir, NULL);
    if (!real_dir)
        return false; /* a document parsed from memory for a folder that does not exist */
    size_t l = strlen(dir) + strlen(rel) + 2;
    char *joined = malloc(l);
    char *real = NULL;
    if (joined) {
        snprintf(joined, l, "%s/%s", dir, rel);
        real = resolve_existing(joined);
    }
    size_t dl = strlen(real_dir);
    bool inside = real && strncmp(real, real_dir, dl) == 0 &&
                  (real[dl] == '/' || real[dl] == '\0' || (dl == 1 && real_dir[0] == '/'));
    bool escapes = real && !inside;
    free(real);
    free(joined);
    free(real_dir);
    return escapes;
}

/* Small argument parsers shared by the vmio subcommands. */
#include <errno.h>
#include <stdlib.h>

#include "cli/cli.h"

int cli_parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -EINVAL;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

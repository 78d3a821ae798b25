/* lp-mix IN OUT ERR [CHUNK]: interleaves reading stdin with writing stdout and stderr, chunk by
 * chunk (default 64K), with blocking I/O, so a parent that does not drain and feed at the same
 * time deadlocks with it.  stdout byte i is 'a' + i % 26, stderr byte i is 'A' + i % 26 (the
 * lp-writer patterns).  Reads stdin to EOF; exits 0 if it read exactly IN bytes, 1 if not. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static long long parse_size(const char *s)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || v < 0 || end == s)
        return -1;
    switch (*end) {
    case 'K': case 'k': v <<= 10; end++; break;
    case 'M': case 'm': v <<= 20; end++; break;
    case 'G': case 'g': v <<= 30; end++; break;
    default: break;
    }
    return *end ? -1 : v;
}

static int put(int fd, char base, long long *done, long long total, size_t chunk)
{
    static char buf[1 << 20];
    long long n = total - *done;
    if (n <= 0)
        return 0;
    if ((size_t)n > chunk)
        n = (long long)chunk;
    for (long long i = 0; i < n; i++)
        buf[i] = (char)(base + (*done + i) % 26);
    for (long long off = 0; off < n;) {
        ssize_t w = write(fd, buf + off, (size_t)(n - off));
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        off += w;
    }
    *done += n;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 4 || argc > 5) {
        fprintf(stderr, "usage: lp-mix IN OUT ERR [CHUNK]\n");
        return 2;
    }
    long long in = parse_size(argv[1]), out = parse_size(argv[2]), err = parse_size(argv[3]);
    long long chunk = argc == 5 ? parse_size(argv[4]) : 65536;
    if (in < 0 || out < 0 || err < 0 || chunk <= 0 || chunk > (1 << 20)) {
        fprintf(stderr, "lp-mix: bad size\n");
        return 2;
    }
    static char rbuf[1 << 20];
    long long got = 0, o = 0, e = 0;
    int eof = 0;
    while (!eof || o < out || e < err) {
        if (!eof) {
            ssize_t n = read(0, rbuf, (size_t)chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                eof = 1;
            else
                got += n;
        }
        if (put(1, 'a', &o, out, (size_t)chunk) < 0 || put(2, 'A', &e, err, (size_t)chunk) < 0)
            return 3;
    }
    return got == in ? 0 : 1;
}

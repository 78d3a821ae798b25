/* The redis:// queue store: a queue held by a Redis server, shared by processes on many machines
 * (hiredis).  See libpipe.h "Queues".
 *
 * Keys of queue NAME (one hash tag, so a cluster keeps them on one node; a script may touch all):
 *   lpq:{NAME}:meta     hash: order, max_items, closed, created (server time, s), seq, claimseq
 *   lpq:{NAME}:ready    sorted set of the waiting items, every score 0, ordered by member
 *                       (lexicographic): a fixed-width hex sort key, '|', the item id.
 *                       FIFO: seq; LIFO: 2^53-1-seq; PRIORITY: priority+2^31 then seq.  No
 *                       doubles are involved, so any int priority and any seq below 2^53 order
 *                       exactly.
 *   lpq:{NAME}:items    hash: item id -> the bytes
 *   lpq:{NAME}:attr     hash: "<id>p" -> priority, "<id>a" -> attempts (deliveries so far)
 *   lpq:{NAME}:claims   hash: claim id -> "<item id>|<holder>"
 *   lpq:{NAME}:leases   sorted set: claim id scored by lease end (server time, ms)
 *   lpq:{NAME}:holders  hash: holder -> number of claims it has (to find dead local holders)
 *   lpq:{NAME}:dead     list of dead item ids (their bytes stay in items/attr)
 *   lpq:{NAME}:wake     notification list for getters (at most one element)
 *   lpq:{NAME}:space    notification list for putters of a bounded queue (at most one element)
 *
 * Ids go through the scripts as strings (string.format('%d')): Lua's own number to string
 * conversion (%.14g) would lose digits from 10^14 on.
 *
 * Every change is one Lua script (atomic on the server), using the server's TIME for leases so
 * that machines with different clocks agree.  Scripts run by EVALSHA; NOSCRIPT (a restarted
 * server) loads them again.  Every script first gives back the claims whose lease has ended
 * (so ack, release and touch of such a claim fail with -ENOENT at once, by the server's clock,
 * whether or not another get came by first).
 *
 * Holders of this machine that died.  Whether a process exists can only be seen here (/proc),
 * so the claim, stat and peek scripts take, besides their own arguments, this handle's holder,
 * "HOST:", the local holders it found dead (the script gives their claims back first) and those
 * it found alive; a local holder of a claim in neither list makes the script answer {-4, those
 * holders} without doing anything, and the handle looks at them and runs it again.  So a get
 * costs one round trip, and still sees every local holder that held a claim at that moment.
 *
 * Blocking.  Scripts cannot block, so a get that finds nothing waits with BLPOP on the wake list
 * (a put, a release, a reclaimed lease, a close push one element when the list is empty; a
 * getter that claims an item while more are waiting pushes one too, so several blocked getters
 * wake one after the other), with a timeout of the caller's deadline or the earliest lease end,
 * whichever comes first, and then tries again; a spurious wake only loops.  The BLPOP runs on a
 * connection of its own (a small pool per handle), so other threads' commands on the main
 * connection are never held up by it.  Rather than redisCommand, the BLPOP is sent with
 * redisAppendCommand and its reply awaited by poll() on the connection and on the thread's
 * lp_set_wait_interrupt descriptor: when the latter becomes readable the connection is dropped
 * (the server forgets the BLPOP) and the get returns -EINTR; a notification the dropped
 * connection may have taken is pushed again.  Putters of a full bounded queue wait the same way
 * on the space list.  The one poll with a period: while other live processes of this machine hold
 * claims, a blocked get looks every HOLDER_POLL_MS whether they died (a death has no event).
 *
 * Connections: a socket we make (SOCK_CLOEXEC, so no descriptor leaks into children) handed to
 * hiredis; AUTH when the URI has a password; SIGPIPE blocked around writes (a server that went
 * away gives EPIPE, not a signal).  A connection lost in the middle of a command is
 * made again once and the command repeated (a put whose reply was lost may then be stored
 * twice: delivery is at least once anyway); a second failure is -EIO with hiredis' text.
 * Durability is the server's: with appendonly yes and appendfsync always an acknowledged put
 * survives a crash of the server.  Needs Redis 6.0 or later (BLPOP with a fractional timeout,
 * HSET of several fields); one server, not a cluster (list SCANs one node). */
#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define HOLDER_POLL_MS 500
#define CONNECT_TIMEOUT_MS 10000
#define COMMAND_TIMEOUT_S 60
#define POOL_MAX 8

enum { K_META, K_READY, K_ITEMS, K_ATTR, K_CLAIMS, K_LEASES, K_HOLDERS, K_DEAD, K_WAKE, K_SPACE, NKEYS };
static const char *const key_suffix[NKEYS] = {"meta",   "ready",   "items", "attr", "claims",
                                              "leases", "holders", "dead",  "wake", "space"};

/* ---- the scripts ---- */

#define LUA_PRELUDE                                                                                 \
    "local M,R,I,A,C,L,H,D,W,S=KEYS[1],KEYS[2],KEYS[3],KEYS[4],KEYS[5],KEYS[6],KEYS[7],KEYS[8]," \
    "KEYS[9],KEYS[10]\n"                                                                            \
    "local function now_ms()\n"                                                                     \
    "  local t = redis.call('TIME')\n"                                                              \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                         \
    "end\n"                                                                                         \
    "local function wake(k)\n"                                                                      \
    "  if redis.call('LLEN', k) == 0 then redis.call('RPUSH', k, '1') end\n"                        \
    "end\n"                                                                                         \
    "local function member(order, id, prio)\n"                                                      \
    "  id = tonumber(id)\n"                                                                         \
    "  if order == 1 then return string.format('%014x|%d', 9007199254740991 - id, id) end\n"       \
    "  if order == 2 then return string.format('%08x%014x|%d', prio + 2147483648, id, id) end\n"   \
    "  return string.format('%014x|%d', id, id)\n"                                                  \
    "end\n"                                                                                         \
    "local function back(id, failed, maxatt)\n"                                                     \
    "  local att = tonumber(redis.call('HGET', A, id .. 'a'))\n"                                    \
    "  if failed and att >= maxatt then\n"                                                          \
    "    redis.call('RPUSH', D, id)\n"                                                              \
    "    wake(S)\n"                                                                                 \
    "  else\n"                                                                                      \
    "    if not failed and att > 0 then redis.call('HSET', A, id .. 'a', string.format('%d', att - 1)) end\n"            \
    "    local order = tonumber(redis.call('HGET', M, 'order'))\n"                                  \
    "    local prio = tonumber(redis.call('HGET', A, id .. 'p'))\n"                                 \
    "    redis.call('ZADD', R, 0, member(order, id, prio))\n"                                       \
    "    wake(W)\n"                                                                                 \
    "  end\n"                                                                                       \
    "end\n"                                                                                         \
    "local function drop_claim(cid)\n"                                                              \
    "  local v = redis.call('HGET', C, cid)\n"                                                      \
    "  if not v then return nil end\n"                                                              \
    "  local id, holder = string.match(v, '^(%d+)|(.*)$')\n"                                        \
    "  redis.call('HDEL', C, cid)\n"                                                                \
    "  redis.call('ZREM', L, cid)\n"                                                                \
    "  if redis.call('HINCRBY', H, holder, -1) <= 0 then redis.call('HDEL', H, holder) end\n"       \
    "  return id\n"                                                                                 \
    "end\n"                                                                                         \
    "local function reclaim(now, maxatt)\n"                                                         \
    "  local ex = redis.call('ZRANGEBYSCORE', L, '-inf', string.format('%d', now))\n"              \
    "  for _, cid in ipairs(ex) do\n"                                                               \
    "    local id = drop_claim(cid)\n"                                                              \
    "    if id then back(id, true, maxatt) end\n"                                                   \
    "  end\n"                                                                                       \
    "end\n"                                                                                         \
    "local function next_lease(now)\n"                                                              \
    "  local e = redis.call('ZRANGE', L, 0, 0, 'WITHSCORES')\n"                                     \
    "  if #e == 0 then return -1 end\n"                                                             \
    "  return math.max(0, tonumber(e[2]) - now)\n"                                                  \
    "end\n"                                                                                         \
    "local function closed() return redis.call('HGET', M, 'closed') == '1' end\n"                  \
    "local function reap(holder, maxatt)\n"                                                         \
    "  local all = redis.call('HGETALL', C)\n"                                                      \
    "  for i = 1, #all, 2 do\n"                                                                     \
    "    local id, h = string.match(all[i + 1], '^(%d+)|(.*)$')\n"                                  \
    "    if h == holder then drop_claim(all[i]) back(id, true, maxatt) end\n"                       \
    "  end\n"                                                                                       \
    "end\n"                                                                                         \
    "local function holders(b, maxatt)\n"                                                           \
    "  local self, pfx, nd = ARGV[b], ARGV[b + 1], tonumber(ARGV[b + 2])\n"                         \
    "  for i = 1, nd do reap(ARGV[b + 2 + i], maxatt) end\n"                                        \
    "  local known, na = {}, tonumber(ARGV[b + 3 + nd])\n"                                          \
    "  for i = 1, na do known[ARGV[b + 3 + nd + i]] = true end\n"                                   \
    "  local unknown, others = {-4}, 0\n"                                                           \
    "  for _, h in ipairs(redis.call('HKEYS', H)) do\n"                                             \
    "    if h ~= self and string.sub(h, 1, #pfx) == pfx then\n"                                     \
    "      if known[h] then others = others + 1 else unknown[#unknown + 1] = h end\n"               \
    "    end\n"                                                                                     \
    "  end\n"                                                                                       \
    "  if #unknown > 1 then return unknown, others end\n"                                           \
    "  return nil, others\n"                                                                        \
    "end\n"

#define LUA_EXISTS "if redis.call('EXISTS', M) == 0 then return {-2} end\n"

enum { S_OPEN, S_PUT, S_CLAIM, S_ACK, S_RELEASE, S_TOUCH, S_STAT, S_PEEK, S_CLOSE, S_REMOVE, S_NUDGE,
       S_N };

static const char *const scripts[S_N] = {
    /* OPEN: ARGV order, max_items, create -> {1, order, max_items} | {-2} */
    [S_OPEN] = LUA_PRELUDE
    "if redis.call('EXISTS', M) == 0 then\n"
    "  if ARGV[3] ~= '1' then return {-2} end\n"
    "  redis.call('DEL', W, S)\n" /* a removed namesake's notifications (they expire) */
    "  redis.call('HSET', M, 'order', ARGV[1], 'max_items', ARGV[2], 'closed', 0,\n"
    "             'created', redis.call('TIME')[1], 'seq', 0, 'claimseq', 0)\n"
    "end\n"
    "return {1, tonumber(redis.call('HGET', M, 'order')), tonumber(redis.call('HGET', M, 'max_items'))}\n",

    /* PUT: ARGV data, priority, max_attempts -> {1} | {0, ms to the next lease end or -1} | {-1}
     * closed | {-2} */
    [S_PUT] = LUA_PRELUDE LUA_EXISTS
    "if closed() then wake(S) return {-1} end\n"
    "local max = tonumber(redis.call('HGET', M, 'max_items'))\n"
    "if max > 0 then\n"
    "  local now = now_ms()\n"
    "  reclaim(now, tonumber(ARGV[3]))\n"
    "  if redis.call('ZCARD', R) + redis.call('HLEN', C) >= max then return {0, next_lease(now)} end\n"
    "end\n"
    "local id = string.format('%d', redis.call('HINCRBY', M, 'seq', 1))\n"
    "local prio = tonumber(ARGV[2])\n"
    "redis.call('HSET', I, id, ARGV[1])\n"
    "redis.call('HSET', A, id .. 'p', ARGV[2], id .. 'a', 0)\n"
    "redis.call('ZADD', R, 0, member(tonumber(redis.call('HGET', M, 'order')), id, prio))\n"
    "wake(W)\n"
    "if max > 0 and redis.call('ZCARD', R) + redis.call('HLEN', C) < max then wake(S) end\n"
    "return {1}\n",

    /* CLAIM: ARGV max_attempts, lease_ms, then the holder check (see holders_args) ->
     * {1, claim id, data, priority, attempts} | {0, ms to the next lease end or -1, other live
     * local holders} | {-1} closed and empty | {-2} | {-4, local holders to check first} */
    [S_CLAIM] = LUA_PRELUDE LUA_EXISTS
    "local maxatt = tonumber(ARGV[1])\n"
    "local unknown, others = holders(3, maxatt)\n"
    "if unknown then return unknown end\n"
    "local now = now_ms()\n"
    "reclaim(now, maxatt)\n"
    "local m = redis.call('ZRANGE', R, 0, 0)\n"
    "if #m == 0 then\n"
    "  if closed() then wake(W) wake(S) return {-1} end\n"
    "  return {0, next_lease(now), others}\n"
    "end\n"
    "redis.call('ZREM', R, m[1])\n"
    "local id = string.match(m[1], '|(%d+)$')\n"
    "local att = redis.call('HINCRBY', A, id .. 'a', 1)\n"
    "local cid = string.format('%d', redis.call('HINCRBY', M, 'claimseq', 1))\n"
    "redis.call('HSET', C, cid, id .. '|' .. ARGV[3])\n"
    "redis.call('ZADD', L, string.format('%d', now + tonumber(ARGV[2])), cid)\n"
    "redis.call('HINCRBY', H, ARGV[3], 1)\n"
    "if redis.call('ZCARD', R) > 0 or closed() then wake(W) end\n"
    "return {1, tonumber(cid), redis.call('HGET', I, id), tonumber(redis.call('HGET', A, id .. 'p')), att}\n",

    /* ACK: ARGV claim id, max_attempts -> {1} | {-3} not held | {-2} */
    [S_ACK] = LUA_PRELUDE LUA_EXISTS
    "reclaim(now_ms(), tonumber(ARGV[2]))\n"
    "local id = drop_claim(ARGV[1])\n"
    "if not id then return {-3} end\n"
    "redis.call('HDEL', I, id)\n"
    "redis.call('HDEL', A, id .. 'p', id .. 'a')\n"
    "if tonumber(redis.call('HGET', M, 'max_items')) > 0 then wake(S) end\n"
    "return {1}\n",

    /* RELEASE: ARGV claim id, failed (0/1), max_attempts -> {1} | {-3} | {-2} */
    [S_RELEASE] = LUA_PRELUDE LUA_EXISTS
    "reclaim(now_ms(), tonumber(ARGV[3]))\n"
    "local id = drop_claim(ARGV[1])\n"
    "if not id then return {-3} end\n"
    "back(id, ARGV[2] == '1', tonumber(ARGV[3]))\n"
    "return {1}\n",

    /* TOUCH: ARGV claim id, lease_ms, max_attempts -> {1} | {-3} | {-2} */
    [S_TOUCH] = LUA_PRELUDE LUA_EXISTS
    "local now = now_ms()\n"
    "reclaim(now, tonumber(ARGV[3]))\n"
    "if redis.call('HEXISTS', C, ARGV[1]) == 0 then return {-3} end\n"
    "redis.call('ZADD', L, string.format('%d', now + tonumber(ARGV[2])), ARGV[1])\n"
    "return {1}\n",

    /* STAT: ARGV max_attempts, the holder check -> {1, waiting, inflight, dead, max_items, order,
     * closed} | {-2} | {-4, ...} */
    [S_STAT] = LUA_PRELUDE LUA_EXISTS
    "local unknown = holders(2, tonumber(ARGV[1]))\n"
    "if unknown then return unknown end\n"
    "reclaim(now_ms(), tonumber(ARGV[1]))\n"
    "return {1, redis.call('ZCARD', R), redis.call('HLEN', C), redis.call('LLEN', D),\n"
    "        tonumber(redis.call('HGET', M, 'max_items')), tonumber(redis.call('HGET', M, 'order')),\n"
    "        closed() and 1 or 0}\n",

    /* PEEK: ARGV max, dead (0/1), max_attempts, the holder check -> {1, n, data, prio, attempts,
     * ...} | {-2} | {-4, ...} */
    [S_PEEK] = LUA_PRELUDE LUA_EXISTS
    "local unknown = holders(4, tonumber(ARGV[3]))\n"
    "if unknown then return unknown end\n"
    "reclaim(now_ms(), tonumber(ARGV[3]))\n"
    "local max = tonumber(ARGV[1])\n"
    "local ids = {}\n"
    "if ARGV[2] == '1' then\n"
    "  ids = redis.call('LRANGE', D, 0, string.format('%d', max - 1))\n"
    "else\n"
    "  for i, m in ipairs(redis.call('ZRANGE', R, 0, string.format('%d', max - 1))) do ids[i] = string.match(m, '|(%d+)$') end\n"
    "end\n"
    "local out = {1, #ids}\n"
    "for _, id in ipairs(ids) do\n"
    "  out[#out + 1] = redis.call('HGET', I, id) or ''\n"
    "  out[#out + 1] = tonumber(redis.call('HGET', A, id .. 'p') or '0')\n"
    "  out[#out + 1] = tonumber(redis.call('HGET', A, id .. 'a') or '0')\n"
    "end\n"
    "return out\n",

    /* CLOSE -> {1} | {-2} */
    [S_CLOSE] = LUA_PRELUDE LUA_EXISTS
    "redis.call('HSET', M, 'closed', 1)\n"
    "wake(W) wake(S)\n"
    "return {1}\n",

    /* REMOVE -> {1} | {-2}: blocked getters and putters wake (and find no queue); the lists
     * pushed for that expire by themselves. */
    [S_REMOVE] = LUA_PRELUDE LUA_EXISTS
    "redis.call('DEL', M, R, I, A, C, L, H, D, W, S)\n"
    "redis.call('RPUSH', W, '1') redis.call('PEXPIRE', W, 60000)\n"
    "redis.call('RPUSH', S, '1') redis.call('PEXPIRE', S, 60000)\n"
    "return {1}\n",

    /* NUDGE: ARGV 'W' or 'S': a notification again (a waiter that gave up may have taken one) */
    [S_NUDGE] = LUA_PRELUDE LUA_EXISTS
    "if ARGV[1] == 'W' then wake(W) else wake(S) end\n"
    "return {1}\n",
};

/* ---- the handle ---- */

struct target {
    char *host, *user, *pass, *name; /* user, pass NULL when none; name "" for list */
    int port;
};

struct rq {
    struct lp_queue hdr;
    struct target t;
    char *keys[NKEYS];
    int lease_ms;
    unsigned max_attempts;
    pthread_mutex_t mu; /* the main connection, the script hashes, pid/holder */
    redisContext *c;
    char sha[S_N][41];
    pid_t pid;
    char holder[320];
    char host_prefix[260]; /* "HOSTNAME:": holders of this machine start with it */
    char **known;          /* other holders of this machine seen holding claims (script_checked) */
    size_t nknown;
    pthread_mutex_t pmu;   /* the pool of connections for blocking waits */
    redisContext *idle[POOL_MAX];
    int nidle;
};

static void target_free(struct target *t)
{
    free(t->host);
    free(t->user);
    free(t->pass);
    free(t->name);
    *t = (struct target){0};
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A copy of s[0..n) with %XX decoded; NULL on a bad escape (errno EINVAL) or no memory. */
static char *pct_decode(const char *s, size_t n)
{
    char *d = malloc(n + 1), *p = d;
    if (!d)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            int h, l;
            if (i + 2 >= n || (h = hexval(s[i + 1])) < 0 || (l = hexval(s[i + 2])) < 0) {
                free(d);
                errno = EINVAL;
                return NULL;
            }
            *p++ = (char)(h * 16 + l);
            i += 2;
        } else
            *p++ = s[i];
    }
    *p = 0;
    return d;
}

/* Parse "//[[USER]:PASSWORD@]HOST[:PORT][/NAME]" (rest: the URI after "redis:"). */
static int parse_uri(const char *uri, const char *rest, struct target *t, bool need_name)
{
    *t = (struct target){.port = 6379};
    if (strncmp(rest, "//", 2) != 0)
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': expected redis://[:PASSWORD@]HOST[:PORT]/NAME", uri);
    const char *p = rest + 2;
    const char *slash = strchr(p, '/');
    const char *hend = slash ? slash : p + strlen(p);
    const char *at = memchr(p, '@', (size_t)(hend - p));
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon)
            return lp__queue_seterr(-EINVAL, "bad queue URI '%s': expected ':PASSWORD@' before the host", uri);
        if (colon > p && !(t->user = pct_decode(p, (size_t)(colon - p))))
            goto bad_escape;
        if (!(t->pass = pct_decode(colon + 1, (size_t)(at - colon - 1))))
            goto bad_escape;
        p = at + 1;
    }
    const char *hs = p, *he, *portp = NULL;
    if (*p == '[') { /* [IPv6] */
        const char *rb = memchr(p, ']', (size_t)(hend - p));
        if (!rb) {
            target_free(t);
            return lp__queue_seterr(-EINVAL, "bad queue URI '%s': no ']' after an IPv6 address", uri);
        }
        hs = p + 1;
        he = rb;
        if (rb + 1 < hend) {
            if (rb[1] != ':') {
                target_free(t);
                return lp__queue_seterr(-EINVAL, "bad queue URI '%s': junk after ']'", uri);
            }
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(hend - p));
        he = colon ? colon : hend;
        if (colon)
            portp = colon + 1;
    }
    if (he == hs) {
        target_free(t);
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': no host", uri);
    }
    if (portp) {
        long port = 0;
        const char *q = portp;
        for (; q < hend && *q >= '0' && *q <= '9' && port <= 65535; q++)
            port = port * 10 + (*q - '0');
        if (q != hend || q == portp || port < 1 || port > 65535) {
            target_free(t);
            return lp__queue_seterr(-EINVAL, "bad queue URI '%s': bad port '%.*s'", uri, (int)(hend - portp), portp);
        }
        t->port = (int)port;
    }
    if (!(t->host = strndup(hs, (size_t)(he - hs))))
        goto nomem;
    const char *name = slash ? slash + 1 : "";
    if (!(t->name = pct_decode(name, strlen(name))))
        goto bad_escape;
    if (need_name && !t->name[0]) {
        target_free(t);
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': no queue name after the host", uri);
    }
    for (const char *c = t->name; *c; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '{' || *c == '}' || *c == '*' || *c == '?' ||
            *c == '[' || *c == ']' || *c == '\\') {
            target_free(t);
            return lp__queue_seterr(-EINVAL, "bad queue URI '%s': the name may not hold control characters "
                                    "or any of {}*?[]\\", uri);
        }
    if (strlen(t->name) > 200) {
        target_free(t);
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': name longer than 200 bytes", uri);
    }
    return 0;
bad_escape:
    if (errno == EINVAL) {
        target_free(t);
        return lp__queue_seterr(-EINVAL, "bad queue URI '%s': bad %%-escape", uri);
    }
nomem:
    target_free(t);
    return -ENOMEM;
}

/* ---- connections ---- */

static int tcp_connect(const struct target *t, int *fdp)
{
    char port[16];
    snprintf(port, sizeof port, "%d", t->port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int g = getaddrinfo(t->host, port, &hints, &res);
    if (g != 0)
        return lp__queue_seterr(g == EAI_MEMORY ? -ENOMEM : -EHOSTUNREACH, "redis %s:%d: %s", t->host, t->port,
                                g == EAI_SYSTEM ? strerror(errno) : gai_strerror(g));
    int err = -EHOSTUNREACH;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            err = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
            if (errno != EINPROGRESS) {
                err = -errno;
                close(fd);
                continue;
            }
            struct pollfd pf = {.fd = fd, .events = POLLOUT};
            lp_deadline d = lp__deadline(CONNECT_TIMEOUT_MS);
            int pr;
            while ((pr = poll(&pf, 1, lp__remaining_ms(d))) < 0 && errno == EINTR)
                ;
            int so = 0;
            socklen_t sl = sizeof so;
            if (pr == 0)
                so = ETIMEDOUT;
            else if (pr < 0)
                so = errno;
            else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) < 0)
                so = errno;
            if (so) {
                err = -so;
                close(fd);
                continue;
            }
        }
        int fl = fcntl(fd, F_GETFL);
        int one = 1;
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
            err = -errno;
            close(fd);
            continue;
        }
        if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        freeaddrinfo(res);
        *fdp = fd;
        return 0;
    }
    freeaddrinfo(res);
    return lp__queue_seterr(err, "redis %s:%d: cannot connect: %s", t->host, t->port, strerror(-err));
}

/* The errno of an error reply, and its message. */
static int reply_err(const struct target *t, const redisReply *r, const char *what)
{
    const char *s = r->str ? r->str : "";
    int e = -EIO;
    if (!strncmp(s, "NOAUTH", 6) || !strncmp(s, "WRONGPASS", 9) || !strncmp(s, "NOPERM", 6) ||
        strstr(s, "invalid password") || strstr(s, "invalid username"))
        e = -EACCES;
    else if (!strncmp(s, "OOM", 3))
        e = -ENOSPC;
    return lp__queue_seterr(e, "redis %s:%d: %s: %s", t->host, t->port, what, s);
}

/* A new connection, authenticated. */
static int connect_ctx(const struct target *t, redisContext **out)
{
    int fd = -1;
    int rc = tcp_connect(t, &fd);
    if (rc < 0)
        return rc;
    redisContext *c = redisConnectFd(fd);
    if (!c) {
        close(fd);
        return -ENOMEM;
    }
    struct timeval tv = {.tv_sec = COMMAND_TIMEOUT_S};
    redisSetTimeout(c, tv);
    if (t->pass) {
        struct lp__sigpipe sp;
        lp__sigpipe_block(&sp);
        redisReply *r = t->user ? redisCommand(c, "AUTH %s %s", t->user, t->pass) : redisCommand(c, "AUTH %s", t->pass);
        lp__sigpipe_restore(&sp, r == NULL);
        if (!r) {
            rc = lp__queue_seterr(-EIO, "redis %s:%d: AUTH: %s", t->host, t->port, c->errstr);
            redisFree(c);
            return rc;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            rc = reply_err(t, r, "AUTH failed");
            if (rc == -EIO && strstr(r->str ? r->str : "", "AUTH"))
                rc = -EACCES; /* "ERR AUTH <password> called without any password configured" */
            freeReplyObject(r);
            redisFree(c);
            return rc;
        }
        freeReplyObject(r);
    }
    *out = c;
    return 0;
}

/* After a fork, the connections are the parent's: the child makes its own. */
static void check_fork(struct rq *q)
{
    pid_t pid = getpid();
    if (pid == q->pid)
        return;
    q->pid = pid;
    if (q->c) {
        redisFree(q->c); /* closes the child's copy of the socket only */
        q->c = NULL;
    }
    pthread_mutex_lock(&q->pmu);
    for (int i = 0; i < q->nidle; i++)
        redisFree(q->idle[i]);
    q->nidle = 0;
    pthread_mutex_unlock(&q->pmu);
    snprintf(q->holder, sizeof q->holder, "%s", lp__queue_holder());
}

static void lock(struct rq *q)
{
    pthread_mutex_lock(&q->mu);
    check_fork(q);
}

static void unlock(struct rq *q)
{
    pthread_mutex_unlock(&q->mu);
}

static void nap_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Run a command on the main connection (q->mu held).  A connection lost is made again once and
 * the command repeated; while the server loads its data after a restart, wait (up to 60 s).
 * *out: the reply, which may be an error reply. */
static int run_locked(struct rq *q, int argc, const char **argv, const size_t *lens, redisReply **out)
{
    char lost[256] = "";
    int loading = 0;
    for (int attempt = 0;;) {
        if (!q->c) {
            int rc = connect_ctx(&q->t, &q->c);
            if (rc < 0) {
                if (!lost[0])
                    return rc;
                char why[LP_ERRMSG_MAX];
                snprintf(why, sizeof why, "%s", lp_queue_errmsg());
                return lp__queue_seterr(-EIO, "connection lost (%s), and then %s", lost, why);
            }
        }
        struct lp__sigpipe sp; /* a write to a connection the server closed: EPIPE, no signal */
        lp__sigpipe_block(&sp);
        redisReply *r = redisCommandArgv(q->c, argc, argv, lens);
        lp__sigpipe_restore(&sp, r == NULL);
        if (r) {
            if (r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "LOADING", 7) && loading++ < 3000) {
                freeReplyObject(r);
                nap_ms(20);
                continue;
            }
            *out = r;
            return 0;
        }
        int err = q->c->err;
        snprintf(lost, sizeof lost, "%s", q->c->errstr[0] ? q->c->errstr : "connection lost");
        redisFree(q->c);
        q->c = NULL;
        if (err == REDIS_ERR_OOM)
            return -ENOMEM;
        if (++attempt > 1)
            return lp__queue_seterr(-EIO, "redis %s:%d: %s", q->t.host, q->t.port, lost);
    }
}

static int load_script(struct rq *q, int s)
{
    const char *argv[3] = {"SCRIPT", "LOAD", scripts[s]};
    size_t lens[3] = {6, 4, strlen(scripts[s])};
    redisReply *r;
    int rc = run_locked(q, 3, argv, lens, &r);
    if (rc < 0)
        return rc;
    if (r->type == REDIS_REPLY_ERROR)
        rc = reply_err(&q->t, r, "SCRIPT LOAD");
    else if (r->type != REDIS_REPLY_STRING || r->len != 40)
        rc = lp__queue_seterr(-EIO, "redis %s:%d: SCRIPT LOAD: unexpected reply", q->t.host, q->t.port);
    else
        memcpy(q->sha[s], r->str, 41);
    freeReplyObject(r);
    return rc;
}

static int script_argv(struct rq *q, int s, int nargs, const char *const *args, const size_t *alens,
                       const char **argv, size_t *lens, redisReply **out);

/* Run script s with the queue's keys and args (q->mu held).  *out: an array whose first element
 * is an integer status: 1 done, 0 must wait, -1 closed, -2 no queue, -3 no such claim. */
static int script_locked(struct rq *q, int s, int nargs, const char *const *args, const size_t *alens,
                         redisReply **out)
{
    const char **argv = malloc((size_t)(3 + NKEYS + nargs) * sizeof *argv);
    size_t *lens = malloc((size_t)(3 + NKEYS + nargs) * sizeof *lens);
    if (!argv || !lens) {
        free(argv);
        free(lens);
        return -ENOMEM;
    }
    int rc = script_argv(q, s, nargs, args, alens, argv, lens, out);
    free(argv);
    free(lens);
    return rc;
}

static int script_argv(struct rq *q, int s, int nargs, const char *const *args, const size_t *alens,
                       const char **argv, size_t *lens, redisReply **out)
{
    int argc = 0;
    argv[argc] = "EVALSHA";
    lens[argc++] = 7;
    argc++; /* the hash, below */
    argv[argc] = "10";
    lens[argc++] = 2;
    for (int k = 0; k < NKEYS; k++) {
        argv[argc] = q->keys[k];
        lens[argc++] = strlen(q->keys[k]);
    }
    for (int i = 0; i < nargs; i++) {
        argv[argc] = args[i];
        lens[argc++] = alens ? alens[i] : strlen(args[i]);
    }
    for (int tries = 0;; tries++) {
        int rc;
        if (!q->sha[s][0] && (rc = load_script(q, s)) < 0)
            return rc;
        argv[1] = q->sha[s];
        lens[1] = 40;
        redisReply *r;
        rc = run_locked(q, argc, argv, lens, &r);
        if (rc < 0)
            return rc;
        if (r->type == REDIS_REPLY_ERROR && r->str && !strncmp(r->str, "NOSCRIPT", 8) && tries == 0) {
            freeReplyObject(r); /* a restarted (or flushed) server: load it again */
            q->sha[s][0] = 0;
            continue;
        }
        if (r->type == REDIS_REPLY_ERROR) {
            rc = reply_err(&q->t, r, "script");
            freeReplyObject(r);
            return rc;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 || r->element[0]->type != REDIS_REPLY_INTEGER) {
            freeReplyObject(r);
            return lp__queue_seterr(-EIO, "redis %s:%d: unexpected reply to a queue script", q->t.host, q->t.port);
        }
        *out = r;
        return 0;
    }
}

static int status_err(struct rq *q, long long st, uint64_t claim)
{
    if (st == -1)
        return lp__queue_seterr(LP_ECLOSED, "queue %s on redis %s:%d is closed", q->t.name, q->t.host, q->t.port);
    if (st == -2)
        return lp__queue_seterr(-ENOENT, "no queue %s on redis %s:%d (removed?)", q->t.name, q->t.host, q->t.port);
    if (st == -3)
        return lp__queue_seterr(-ENOENT, "queue %s: claim %llu is not held (lease expired, or acked or released)",
                                q->t.name, (unsigned long long)claim);
    return lp__queue_seterr(-EIO, "queue %s: unexpected status %lld from redis", q->t.name, st);
}

static long long elem_int(const redisReply *r, size_t i)
{
    if (i >= r->elements)
        return 0;
    const redisReply *e = r->element[i];
    if (e->type == REDIS_REPLY_INTEGER)
        return e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return strtoll(e->str, NULL, 10);
    return 0;
}

/* Run a script taking the lock; status < 0 -> its error.  *out on 0 (status >= 0). */
static int script(struct rq *q, int s, int nargs, const char *const *args, const size_t *alens, redisReply **out,
                  uint64_t claim)
{
    lock(q);
    int rc = script_locked(q, s, nargs, args, alens, out);
    unlock(q);
    if (rc < 0)
        return rc;
    long long st = (*out)->element[0]->integer;
    if (st < 0) {
        freeReplyObject(*out);
        *out = NULL;
        return status_err(q, st, claim);
    }
    return 0;
}

/* Run script s (taking the lock) whose ARGV ends with the holder check: this process's holder,
 * "HOST:", the number and list of local holders known dead (the script gives their claims back),
 * the number and list of those known alive.  A {-4, holders...} reply names local holders that
 * hold claims and that this handle has not looked at: look at them, and run it again.  So every
 * holder of this machine is looked at by each call, with no round trip of its own. */
static int script_checked(struct rq *q, int s, int nfixed, const char *const *fixed, const size_t *flens,
                          redisReply **out)
{
    lock(q);
    int rc = 0;
    for (int round = 0;; round++) {
        size_t nk = q->nknown, n = (size_t)nfixed + 4 + nk;
        const char **args = malloc(n * sizeof *args);
        size_t *lens = malloc(n * sizeof *lens);
        bool *dead = malloc(nk + 1);
        if (!args || !lens || !dead) {
            free(args);
            free(lens);
            free(dead);
            rc = -ENOMEM;
            break;
        }
        int argc = 0, nd = 0;
        for (int i = 0; i < nfixed; i++) {
            args[argc] = fixed[i];
            lens[argc++] = flens ? flens[i] : strlen(fixed[i]);
        }
        for (size_t k = 0; k < nk; k++)
            nd += dead[k] = lp__queue_holder_dead(q->known[k]);
        char ndb[24], nab[24];
        snprintf(ndb, sizeof ndb, "%d", nd);
        snprintf(nab, sizeof nab, "%zu", nk - (size_t)nd);
        const char *fix[3] = {q->holder, q->host_prefix, ndb};
        for (int i = 0; i < 3; i++) {
            args[argc] = fix[i];
            lens[argc++] = strlen(fix[i]);
        }
        for (int want = 1; want >= 0; want--) {
            if (!want) {
                args[argc] = nab;
                lens[argc++] = strlen(nab);
            }
            for (size_t k = 0; k < nk; k++)
                if (dead[k] == want) {
                    args[argc] = q->known[k];
                    lens[argc++] = strlen(q->known[k]);
                }
        }
        redisReply *r = NULL;
        rc = script_locked(q, s, argc, args, lens, &r);
        free(args);
        free(lens);
        if (rc == 0) { /* the dead were given back: forget them */
            size_t j = 0;
            for (size_t k = 0; k < nk; k++) {
                if (dead[k])
                    free(q->known[k]);
                else
                    q->known[j++] = q->known[k];
            }
            q->nknown = j;
        }
        free(dead);
        if (rc < 0)
            break;
        if (r->element[0]->integer != -4) {
            *out = r;
            break;
        }
        if (round >= 100) {
            freeReplyObject(r);
            rc = lp__queue_seterr(-EIO, "queue %s: the holders keep changing", q->t.name);
            break;
        }
        if (q->nknown + r->elements > 64) { /* holders come and go: start afresh */
            for (size_t k = 0; k < q->nknown; k++)
                free(q->known[k]);
            q->nknown = 0;
        }
        char **nv = realloc(q->known, (q->nknown + r->elements) * sizeof *nv);
        if (!nv) {
            freeReplyObject(r);
            rc = -ENOMEM;
            break;
        }
        q->known = nv;
        for (size_t i = 1; i < r->elements; i++)
            if (r->element[i]->type == REDIS_REPLY_STRING && (nv[q->nknown] = strdup(r->element[i]->str)))
                q->nknown++;
        freeReplyObject(r);
    }
    unlock(q);
    if (rc < 0)
        return rc;
    long long st = (*out)->element[0]->integer;
    if (st < 0 && st != -1) { /* -1 (closed) is for the caller */
        freeReplyObject(*out);
        *out = NULL;
        return status_err(q, st, 0);
    }
    return 0;
}

/* ---- blocking waits ---- */

static redisContext *pool_take(struct rq *q)
{
    redisContext *c = NULL;
    lock(q); /* a fork check */
    unlock(q);
    pthread_mutex_lock(&q->pmu);
    if (q->nidle > 0)
        c = q->idle[--q->nidle];
    pthread_mutex_unlock(&q->pmu);
    return c;
}

static void pool_put(struct rq *q, redisContext *c)
{
    pthread_mutex_lock(&q->pmu);
    if (q->nidle < POOL_MAX && q->pid == getpid()) {
        q->idle[q->nidle++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&q->pmu);
    if (c)
        redisFree(c);
}

/* A waiter that dropped its connection may have taken the notification: push one again. */
static void nudge(struct rq *q, int key)
{
    const char *arg = key == K_WAKE ? "W" : "S";
    redisReply *r;
    int saved_len = 0;
    char saved[LP_ERRMSG_MAX];
    snprintf(saved, sizeof saved, "%s", lp_queue_errmsg());
    saved_len = (int)strlen(saved);
    if (script(q, S_NUDGE, 1, &arg, NULL, &r, 0) == 0)
        freeReplyObject(r);
    lp__queue_seterr(0, "%.*s", saved_len, saved);
}

/* Wait until key (K_WAKE or K_SPACE) is notified, or ms pass (-1: no limit).  0 (notified, time
 * up, or some other reason to look again), -EINTR, or -errno of a failed connection. */
static int wait_note(struct rq *q, int key, int ms)
{
    redisContext *c = pool_take(q);
    int rc;
    if (!c && (rc = connect_ctx(&q->t, &c)) < 0)
        return rc;
    char tmo[32];
    snprintf(tmo, sizeof tmo, "%.3f", ms < 0 ? 0.0 : (ms < 1 ? 1 : ms) / 1000.0);
    const char *argv[3] = {"BLPOP", q->keys[key], tmo};
    redisReply *r = NULL;
    int done = 0;
    if (redisAppendCommandArgv(c, 3, argv, NULL) != REDIS_OK)
        goto fail;
    struct lp__sigpipe sp;
    lp__sigpipe_block(&sp);
    int wr = REDIS_OK;
    while (!done && (wr = redisBufferWrite(c, &done)) == REDIS_OK)
        ;
    lp__sigpipe_restore(&sp, wr != REDIS_OK);
    if (wr != REDIS_OK)
        goto fail;
    int intr = lp__wait_interrupt_fd();
    lp_deadline limit = ms < 0 ? -1 : lp__deadline(ms + 5000); /* the server answers by then */
    for (;;) {
        if (redisGetReplyFromReader(c, (void **)&r) != REDIS_OK)
            goto fail;
        if (r)
            break;
        struct pollfd pf[2] = {{.fd = c->fd, .events = POLLIN}, {.fd = intr, .events = POLLIN}};
        int pr = poll(pf, intr >= 0 ? 2 : 1, lp__remaining_ms(limit));
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr < 0)
            goto fail;
        if (pr > 0 && intr >= 0 && pf[1].revents) {
            redisFree(c);
            nudge(q, key);
            return lp__queue_seterr(-EINTR, "queue %s: wait interrupted", q->t.name);
        }
        if (pr == 0) { /* no answer: drop the connection, the caller's next command tells */
            redisFree(c);
            nudge(q, key);
            return 0;
        }
        if (redisBufferRead(c) != REDIS_OK)
            goto fail;
    }
    rc = 0;
    if (r->type == REDIS_REPLY_ERROR)
        rc = reply_err(&q->t, r, "BLPOP");
    freeReplyObject(r);
    if (rc < 0)
        redisFree(c);
    else
        pool_put(q, c);
    return rc;
fail:
    rc = lp__queue_seterr(c->err == REDIS_ERR_OOM ? -ENOMEM : -EIO, "redis %s:%d: %s", q->t.host, q->t.port,
                          c->errstr[0] ? c->errstr : strerror(errno));
    redisFree(c);
    return rc;
}

/* How long a blocked call waits before looking again: the deadline, the next lease end (ms from
 * now, -1 none), and HOLDER_POLL_MS while other local holders live. */
static int wait_ms(lp_deadline d, long long next_lease, int others)
{
    int ms = lp__remaining_ms(d);
    if (next_lease >= 0 && (ms < 0 || next_lease + 1 < ms))
        ms = (int)(next_lease + 1);
    if (others > 0 && (ms < 0 || ms > HOLDER_POLL_MS))
        ms = HOLDER_POLL_MS;
    return ms;
}

/* ---- operations ---- */

static void rq_free(struct rq *q)
{
    if (!q)
        return;
    if (q->c)
        redisFree(q->c);
    for (int i = 0; i < q->nidle; i++)
        redisFree(q->idle[i]);
    for (int k = 0; k < NKEYS; k++)
        free(q->keys[k]);
    for (size_t k = 0; k < q->nknown; k++)
        free(q->known[k]);
    free(q->known);
    target_free(&q->t);
    pthread_mutex_destroy(&q->mu);
    pthread_mutex_destroy(&q->pmu);
    free(q);
}

/* A handle for uri (connected, not yet knowing whether the queue exists). */
static int rq_new(struct rq **out, const char *uri, const char *rest, bool need_name)
{
    struct rq *q = calloc(1, sizeof *q);
    if (!q)
        return -ENOMEM;
    pthread_mutex_init(&q->mu, NULL);
    pthread_mutex_init(&q->pmu, NULL);
    int rc = parse_uri(uri, rest, &q->t, need_name);
    if (rc < 0) {
        rq_free(q);
        return rc;
    }
    for (int k = 0; k < NKEYS; k++) {
        size_t len = strlen(q->t.name) + 16;
        if (!(q->keys[k] = malloc(len))) {
            rq_free(q);
            return -ENOMEM;
        }
        snprintf(q->keys[k], len, "lpq:{%s}:%s", q->t.name, key_suffix[k]);
    }
    q->pid = getpid();
    snprintf(q->holder, sizeof q->holder, "%s", lp__queue_holder());
    /* holder = HOST:PID:START: the prefix is up to the ':' before PID (from the end: a host
     * name with a ':' in it still works) */
    const char *c = strrchr(q->holder, ':');
    while (c && c > q->holder && c[-1] != ':')
        c--;
    snprintf(q->host_prefix, sizeof q->host_prefix, "%.*s", c ? (int)(c - q->holder) : 0, q->holder);
    if ((rc = connect_ctx(&q->t, &q->c)) < 0) {
        rq_free(q);
        return rc;
    }
    *out = q;
    return 0;
}

static int q_open(lp_queue **qq, const char *uri, const char *rest, const lp_queue_opts *o)
{
    struct rq *q;
    int rc = rq_new(&q, uri, rest, true);
    if (rc < 0)
        return rc;
    q->lease_ms = o->lease_ms;
    q->max_attempts = o->max_attempts;
    char ord[16], max[32];
    snprintf(ord, sizeof ord, "%d", (int)o->order);
    snprintf(max, sizeof max, "%zu", o->max_items);
    const char *args[3] = {ord, max, o->no_create ? "0" : "1"};
    redisReply *r;
    rc = script(q, S_OPEN, 3, args, NULL, &r, 0);
    if (rc < 0) {
        rq_free(q);
        return rc;
    }
    freeReplyObject(r);
    *qq = &q->hdr;
    return 0;
}

static int q_put(lp_queue *qq, const void *data, size_t n, int priority, lp_deadline d)
{
    struct rq *q = (struct rq *)qq;
    char prio[16], att[24];
    snprintf(prio, sizeof prio, "%d", priority);
    snprintf(att, sizeof att, "%u", q->max_attempts);
    const char *args[3] = {data, prio, att};
    size_t lens[3] = {n, strlen(prio), strlen(att)};
    int fails = 0;
    for (;;) {
        redisReply *r;
        int rc = script(q, S_PUT, 3, args, lens, &r, 0);
        if (rc < 0)
            return rc;
        long long st = r->element[0]->integer, next = elem_int(r, 1);
        freeReplyObject(r);
        if (st == 1)
            return 0;
        int ms = wait_ms(d, next, 0);
        if (ms == 0)
            return lp__queue_seterr(-ETIMEDOUT, "queue %s is full", q->t.name);
        rc = wait_note(q, K_SPACE, ms);
        if (rc == -EINTR || (rc < 0 && ++fails > 1))
            return rc;
        if (rc == 0)
            fails = 0;
    }
}

static int q_release(lp_queue *qq, uint64_t id, bool failed);

static int q_get(lp_queue *qq, lp_queue_item *it, lp_deadline d)
{
    struct rq *q = (struct rq *)qq;
    char att[24], lease[24];
    snprintf(att, sizeof att, "%u", q->max_attempts);
    snprintf(lease, sizeof lease, "%d", q->lease_ms);
    int fails = 0;
    for (;;) {
        const char *args[2] = {att, lease};
        redisReply *r;
        int rc = script_checked(q, S_CLAIM, 2, args, NULL, &r);
        if (rc < 0)
            return rc;
        long long st = r->element[0]->integer;
        if (st < 0) {
            freeReplyObject(r);
            return status_err(q, st, 0);
        }
        if (st == 1) {
            uint64_t cid = (uint64_t)elem_int(r, 1);
            const redisReply *data = r->elements > 2 ? r->element[2] : NULL;
            rc = lp__queue_item_set(it, data && data->type == REDIS_REPLY_STRING ? data->str : "",
                                    data && data->type == REDIS_REPLY_STRING ? data->len : 0, cid,
                                    (int)elem_int(r, 3), (unsigned)elem_int(r, 4));
            freeReplyObject(r);
            if (rc < 0) {
                lp_queue_item_free(it);
                q_release(qq, cid, false);
                return rc;
            }
            return 0;
        }
        long long next = elem_int(r, 1), others = elem_int(r, 2);
        freeReplyObject(r);
        int ms = wait_ms(d, next, others > 0);
        if (ms == 0)
            return lp__queue_seterr(-ETIMEDOUT, "queue %s: nothing to get", q->t.name);
        rc = wait_note(q, K_WAKE, ms);
        if (rc == -EINTR || (rc < 0 && ++fails > 1))
            return rc;
        if (rc == 0)
            fails = 0;
    }
}

static int q_ack(lp_queue *qq, uint64_t id)
{
    struct rq *q = (struct rq *)qq;
    char cid[24], att[24];
    snprintf(cid, sizeof cid, "%llu", (unsigned long long)id);
    snprintf(att, sizeof att, "%u", q->max_attempts);
    const char *args[2] = {cid, att};
    redisReply *r;
    int rc = script(q, S_ACK, 2, args, NULL, &r, id);
    if (rc == 0)
        freeReplyObject(r);
    return rc;
}

static int q_release(lp_queue *qq, uint64_t id, bool failed)
{
    struct rq *q = (struct rq *)qq;
    char cid[24], att[24];
    snprintf(cid, sizeof cid, "%llu", (unsigned long long)id);
    snprintf(att, sizeof att, "%u", q->max_attempts);
    const char *args[3] = {cid, failed ? "1" : "0", att};
    redisReply *r;
    int rc = script(q, S_RELEASE, 3, args, NULL, &r, id);
    if (rc == 0)
        freeReplyObject(r);
    return rc;
}

static int q_touch(lp_queue *qq, uint64_t id, int lease_ms)
{
    struct rq *q = (struct rq *)qq;
    char cid[24], lease[24], att[24];
    snprintf(cid, sizeof cid, "%llu", (unsigned long long)id);
    snprintf(lease, sizeof lease, "%d", lease_ms ? lease_ms : q->lease_ms);
    snprintf(att, sizeof att, "%u", q->max_attempts);
    const char *args[3] = {cid, lease, att};
    redisReply *r;
    int rc = script(q, S_TOUCH, 3, args, NULL, &r, id);
    if (rc == 0)
        freeReplyObject(r);
    return rc;
}

static int q_stat(lp_queue *qq, lp_queue_stats *s)
{
    struct rq *q = (struct rq *)qq;
    char att[24];
    snprintf(att, sizeof att, "%u", q->max_attempts);
    const char *args[1] = {att};
    redisReply *r;
    int rc = script_checked(q, S_STAT, 1, args, NULL, &r);
    if (rc < 0)
        return rc;
    s->waiting = (size_t)elem_int(r, 1);
    s->inflight = (size_t)elem_int(r, 2);
    s->dead = (size_t)elem_int(r, 3);
    s->max_items = (size_t)elem_int(r, 4);
    s->order = (lp_queue_order)elem_int(r, 5);
    s->closed = elem_int(r, 6) != 0;
    freeReplyObject(r);
    return 0;
}

static int q_peek(lp_queue *qq, bool dead, size_t max, lp_queue_item **items, size_t *n)
{
    struct rq *q = (struct rq *)qq;
    char mx[32], att[24];
    snprintf(mx, sizeof mx, "%zu", max > (size_t)1 << 40 ? (size_t)1 << 40 : max);
    snprintf(att, sizeof att, "%u", q->max_attempts);
    const char *args[3] = {mx, dead ? "1" : "0", att};
    redisReply *r;
    int rc = script_checked(q, S_PEEK, 3, args, NULL, &r);
    if (rc < 0)
        return rc;
    size_t cnt = (size_t)elem_int(r, 1);
    if (r->elements < 2 + 3 * cnt) {
        freeReplyObject(r);
        return lp__queue_seterr(-EIO, "redis %s:%d: short reply to peek", q->t.host, q->t.port);
    }
    lp_queue_item *v = cnt ? calloc(cnt, sizeof *v) : NULL;
    if (cnt && !v) {
        freeReplyObject(r);
        return -ENOMEM;
    }
    for (size_t i = 0; i < cnt; i++) {
        const redisReply *data = r->element[2 + 3 * i];
        bool str = data->type == REDIS_REPLY_STRING;
        if (lp__queue_item_set(&v[i], str ? data->str : "", str ? data->len : 0, 0, (int)elem_int(r, 3 + 3 * i),
                               (unsigned)elem_int(r, 4 + 3 * i)) < 0) {
            lp_queue_items_free(v, cnt);
            freeReplyObject(r);
            return -ENOMEM;
        }
    }
    freeReplyObject(r);
    *items = v;
    *n = cnt;
    return 0;
}

static int q_close(lp_queue *qq)
{
    struct rq *q = (struct rq *)qq;
    redisReply *r;
    int rc = script(q, S_CLOSE, 0, NULL, NULL, &r, 0);
    if (rc == 0)
        freeReplyObject(r);
    return rc;
}

static void q_free(lp_queue *qq)
{
    rq_free((struct rq *)qq);
}

static int q_remove(const char *uri, const char *rest)
{
    struct rq *q;
    int rc = rq_new(&q, uri, rest, true);
    if (rc < 0)
        return rc;
    redisReply *r;
    rc = script(q, S_REMOVE, 0, NULL, NULL, &r, 0);
    if (rc == 0)
        freeReplyObject(r);
    rq_free(q);
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int q_list(const char *uri, const char *rest, char ***names, size_t *n)
{
    struct rq *q;
    int rc = rq_new(&q, uri, rest, false);
    if (rc < 0)
        return rc;
    char cursor[32] = "0";
    lock(q);
    do {
        const char *argv[6] = {"SCAN", cursor, "MATCH", "lpq:{*}:meta", "COUNT", "1000"};
        redisReply *r;
        if ((rc = run_locked(q, 6, argv, NULL, &r)) < 0)
            break;
        if (r->type == REDIS_REPLY_ERROR) {
            rc = reply_err(&q->t, r, "SCAN");
            freeReplyObject(r);
            break;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            freeReplyObject(r);
            rc = lp__queue_seterr(-EIO, "redis %s:%d: unexpected reply to SCAN", q->t.host, q->t.port);
            break;
        }
        snprintf(cursor, sizeof cursor, "%s", r->element[0]->str);
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements && rc == 0; i++) {
            const redisReply *k = keys->element[i];
            if (k->type != REDIS_REPLY_STRING || k->len < 11)
                continue;
            /* lpq:{NAME}:meta */
            char *name = strndup(k->str + 5, k->len - 11);
            if (!name) {
                rc = -ENOMEM;
                break;
            }
            rc = lp__queue_names_add(names, n, name);
            free(name);
        }
        freeReplyObject(r);
    } while (rc == 0 && strcmp(cursor, "0") != 0);
    unlock(q);
    rq_free(q);
    if (rc == 0 && *n > 1)
        qsort(*names, *n, sizeof **names, cmp_names);
    return rc;
}

const struct lp__queue_ops lp__queue_redis_ops = {
    .scheme = "redis",
    .open = q_open,
    .put = q_put,
    .get = q_get,
    .ack = q_ack,
    .release = q_release,
    .touch = q_touch,
    .stat = q_stat,
    .peek = q_peek,
    .close = q_close,
    .free = q_free,
    .remove = q_remove,
    .list = q_list,
};

/* The internal event loop: epoll over descriptors (pipes, pidfds, exit watchers) and one
 * monotonic deadline.  Watches are structs owned by the caller; the loop runs until no watch
 * is active, the deadline passes, or a callback asks it to stop.  EINTR never moves the
 * deadline.  Idle waiting costs no CPU: the only wait is epoll_wait. */
#include "internal.h"

#include <errno.h>
#include <sys/epoll.h>
#include <unistd.h>

int lp__loop_init(lp_loop *l)
{
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    l->active = 0;
    l->stop = 0;
    return l->epfd < 0 ? -errno : 0;
}

void lp__loop_close(lp_loop *l)
{
    if (l->epfd >= 0)
        close(l->epfd);
    l->epfd = -1;
}

int lp__loop_add(lp_loop *l, lp_watch *w)
{
    struct epoll_event ev = {.events = w->events, .data.ptr = w};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0)
        return -errno;
    w->active = true;
    l->active++;
    return 0;
}

int lp__loop_mod(lp_loop *l, lp_watch *w, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = w};
    w->events = events;
    return epoll_ctl(l->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0 ? -errno : 0;
}

void lp__loop_del(lp_loop *l, lp_watch *w)
{
    if (!w->active)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, w->fd, NULL);
    w->active = false;
    l->active--;
}

int lp__loop_run(lp_loop *l, lp_deadline d)
{
    struct epoll_event evs[8];
    l->stop = 0;
    while (l->active > 0 && !l->stop) {
        int n = epoll_wait(l->epfd, evs, 8, lp__remaining_ms(d));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0) {
            if (lp__remaining_ms(d) == 0)
                return -ETIMEDOUT;
            continue;
        }
        for (int i = 0; i < n && !l->stop; i++) {
            lp_watch *w = evs[i].data.ptr;
            if (w->active)
                w->fn(l, w, evs[i].events);
        }
        /* a busy stream must not outlive the deadline either */
        if (!l->stop && l->active > 0 && d >= 0 && lp__remaining_ms(d) == 0)
            return -ETIMEDOUT;
    }
    return l->stop < 0 ? l->stop : 0;
}

int lp__loop_once(lp_loop *l, lp_deadline d)
{
    struct epoll_event evs[32];
    int n = epoll_wait(l->epfd, evs, 32, lp__remaining_ms(d));
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        lp_watch *w = evs[i].data.ptr;
        if (w->active)
            w->fn(l, w, evs[i].events);
    }
    return n;
}

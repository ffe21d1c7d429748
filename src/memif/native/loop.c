#include "loop.h"

#include <stdlib.h>
#include <sys/epoll.h>

static int ep = -1;
static void **deferred;
static size_t ndeferred, capdeferred;

int loop_init(void) {
  ep = epoll_create1(EPOLL_CLOEXEC);
  return ep < 0 ? -1 : 0;
}

int loop_fd(void) { return ep; }

int loop_add(int fd, uint32_t events, struct evsrc *src) {
  struct epoll_event ev = {.events = events, .data.ptr = src};
  return epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
}

int loop_mod(int fd, uint32_t events, struct evsrc *src) {
  struct epoll_event ev = {.events = events, .data.ptr = src};
  return epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
}

void loop_del(int fd) {
  if (fd >= 0) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
}

void loop_defer_free(void *p) {
  if (ndeferred == capdeferred) {
    size_t cap = capdeferred ? 2 * capdeferred : 16;
    void **n = realloc(deferred, cap * sizeof(*n));
    if (!n) abort();
    deferred = n;
    capdeferred = cap;
  }
  deferred[ndeferred++] = p;
}

void loop_flush(void) {
  for (size_t i = 0; i < ndeferred; i++) free(deferred[i]);
  ndeferred = 0;
}

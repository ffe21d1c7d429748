#include "netns.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int self_ns = -1;

int netns_init(void) {
  self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
  return self_ns < 0 ? -1 : 0;
}

int netns_enter(const char *path, char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  if (setns(fd, CLONE_NEWNET) < 0) {
    snprintf(err, errlen, "%s is not a network namespace: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  close(fd);
  return 0;
}

void netns_leave(void) {
  if (setns(self_ns, CLONE_NEWNET) < 0) {
    log_event("fatal: cannot return to the forwarder's network namespace: %s", strerror(errno));
    abort();
  }
}

int memif_listen_in(const char *nspath, const char *name, char *err, size_t errlen) {
  char why[160];
  if (netns_enter(nspath, why, sizeof(why)) < 0) {
    snprintf(err, errlen, "podns: %s", why);
    return -1;
  }
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int saved = errno;
  netns_leave();
  if (fd < 0) {
    snprintf(err, errlen, "sock: socket: %s", strerror(saved));
    return -1;
  }
  struct sockaddr_un sa;
  memset(&sa, 0, sizeof(sa));
  sa.sun_family = AF_UNIX;
  size_t n = strlen(name);
  memcpy(sa.sun_path + 1, name, n); /* abstract: leading NUL, exact length, no file */
  socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
  if (bind(fd, (struct sockaddr *)&sa, len) < 0 || listen(fd, 4) < 0) {
    snprintf(err, errlen, "sock: @%s in %s: %s", name, nspath, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

/* multinet-memifd: the node's memif forwarder. One process, one epoll loop: the agent's control
 * socket, each interface's memif listener (in the pod's netns) and TAP (in the routing domain),
 * each client's control socket and ring eventfds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "iface.h"
#include "log.h"
#include "loop.h"
#include "netns.h"

#define MAX_CONTROL_CLIENTS 16
#define MAX_PENDING_OUTPUT (4u << 20) /* an agent that stops reading is dropped */

struct ctl_client {
  int fd;
  struct evsrc ev;
  char in[CONTROL_MAX_LINE + 2];
  size_t inlen;
  int discarding; /* inside an over-long line: skip to its newline */
  char *out;
  size_t outlen, outcap;
  int dead;
};

static struct ctl_client *ctl_clients[MAX_CONTROL_CLIENTS];
static int stopping;

static void ctl_close(struct ctl_client *cc) {
  log_event("control client %d disconnected", cc->fd);
  for (int i = 0; i < MAX_CONTROL_CLIENTS; i++)
    if (ctl_clients[i] == cc) ctl_clients[i] = NULL;
  loop_del(cc->fd);
  close(cc->fd);
  free(cc->out);
  cc->out = NULL;
  cc->dead = 1;
  loop_defer_free(cc);
}

static void ctl_flush(struct ctl_client *cc) {
  size_t sent = 0;
  while (sent < cc->outlen) {
    ssize_t n = send(cc->fd, cc->out + sent, cc->outlen - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) break;
      ctl_close(cc);
      return;
    }
    sent += (size_t)n;
  }
  memmove(cc->out, cc->out + sent, cc->outlen - sent);
  cc->outlen -= sent;
  loop_mod(cc->fd, cc->outlen ? EPOLLIN | EPOLLOUT : EPOLLIN, &cc->ev);
}

static void ctl_emit(void *ctx, const char *line) {
  struct ctl_client *cc = ctx;
  size_t len = strlen(line);
  if (cc->outlen + len + 1 > cc->outcap) {
    size_t cap = cc->outcap ? cc->outcap : 4096;
    while (cap < cc->outlen + len + 1) cap *= 2;
    char *p = realloc(cc->out, cap);
    if (!p) abort();
    cc->out = p;
    cc->outcap = cap;
  }
  memcpy(cc->out + cc->outlen, line, len);
  cc->out[cc->outlen + len] = '\n';
  cc->outlen += len + 1;
}

static void ctl_line(struct ctl_client *cc, char *line) {
  size_t len = strlen(line);
  if (len && line[len - 1] == '\r') line[len - 1] = 0;
  struct control_req req;
  char reply[512];
  if (control_parse(line, &req, reply + 4, sizeof(reply) - 4) < 0) {
    memcpy(reply, "ERR ", 4);
    ctl_emit(cc, reply);
    return;
  }
  switch (req.cmd) {
  case CMD_HELLO:
    snprintf(reply, sizeof(reply), "OK memifd %d", CONTROL_PROTOCOL_VERSION);
    ctl_emit(cc, reply);
    break;
  case CMD_PUT:
    iface_put(&req.put, reply, sizeof(reply));
    if (!strncmp(reply, "ERR", 3)) log_event("%s: PUT refused: %s", req.put.id, reply + 4);
    ctl_emit(cc, reply);
    break;
  case CMD_DEL:
    iface_del(req.id);
    ctl_emit(cc, "OK");
    break;
  case CMD_LIST:
    iface_list(ctl_emit, cc);
    break;
  }
}

static void ctl_readable(struct ctl_client *cc) {
  ssize_t n = recv(cc->fd, cc->in + cc->inlen, sizeof(cc->in) - 1 - cc->inlen, MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
    ctl_close(cc);
    return;
  }
  if (n < 0) return;
  cc->inlen += (size_t)n;
  size_t start = 0;
  for (size_t i = 0; i < cc->inlen; i++) {
    if (cc->in[i] != '\n') continue;
    cc->in[i] = 0;
    if (!cc->discarding) ctl_line(cc, cc->in + start);
    cc->discarding = 0;
    start = i + 1;
  }
  memmove(cc->in, cc->in + start, cc->inlen - start);
  cc->inlen -= start;
  if (cc->inlen == sizeof(cc->in) - 1) { /* no newline within the limit */
    if (!cc->discarding) ctl_emit(cc, "ERR line longer than 4096 bytes");
    cc->discarding = 1;
    cc->inlen = 0;
  }
  if (cc->outlen > MAX_PENDING_OUTPUT) {
    log_event("control client not reading its replies: closed");
    ctl_close(cc);
    return;
  }
  ctl_flush(cc);
}

static void ctl_accept(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  int slot = -1;
  for (int i = 0; i < MAX_CONTROL_CLIENTS && slot < 0; i++)
    if (!ctl_clients[i]) slot = i;
  struct ctl_client *cc = slot >= 0 ? calloc(1, sizeof(*cc)) : NULL;
  if (!cc) {
    static const char busy[] = "ERR too many control connections\n";
    (void)!send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    close(fd);
    return;
  }
  cc->fd = fd;
  cc->ev = (struct evsrc){EV_CONTROL_CLIENT, cc, 0};
  if (loop_add(fd, EPOLLIN, &cc->ev) < 0) {
    close(fd);
    free(cc);
    return;
  }
  ctl_clients[slot] = cc;
  log_event("control client %d connected", fd);
}

/* Binds the control socket, replacing a stale socket file but never a live forwarder's. */
static int control_listen(const char *path) {
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof(sa.sun_path)) {
    log_event("control socket path too long: %s", path);
    return -1;
  }
  strcpy(sa.sun_path, path);
  struct stat st;
  if (lstat(path, &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      log_event("%s exists and is not a socket: refusing to replace it", path);
      return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
      log_event("another forwarder is serving %s", path);
      close(probe);
      return -1;
    }
    if (probe >= 0) close(probe);
    unlink(path);
    log_event("removed stale control socket %s", path);
  }
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  mode_t old = umask(0177);
  int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
  umask(old);
  if (rc < 0 || chmod(path, 0600) < 0 || listen(fd, 8) < 0) {
    log_event("control socket %s: %s", path, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

static void usage(void) { fprintf(stderr, "usage: multinet-memifd --control PATH\n"); }

int main(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--control") && i + 1 < argc)
      path = argv[++i];
    else if (!strcmp(argv[i], "--help")) {
      usage();
      return 0;
    } else {
      usage();
      return 2;
    }
  }
  if (!path) {
    usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGINT);
  sigprocmask(SIG_BLOCK, &mask, NULL);
  int sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
  if (netns_init() < 0 || loop_init() < 0 || sfd < 0) {
    log_event("cannot start: %s", strerror(errno));
    return 1;
  }
  int lfd = control_listen(path);
  if (lfd < 0) return 1;
  struct evsrc ev_listen = {EV_CONTROL_LISTEN, NULL, 0}, ev_signal = {EV_SIGNAL, NULL, 0};
  if (loop_add(lfd, EPOLLIN, &ev_listen) < 0 || loop_add(sfd, EPOLLIN, &ev_signal) < 0) return 1;
  log_event("serving control protocol %d on %s (pid %d)", CONTROL_PROTOCOL_VERSION, path, (int)getpid());

  struct epoll_event evs[64];
  int busy = 0;
  while (!stopping) {
    int timeout = busy ? 0 : iface_next_timeout_ms();
    int n = epoll_wait(loop_fd(), evs, 64, timeout);
    if (n < 0 && errno != EINTR) {
      log_event("epoll_wait: %s", strerror(errno));
      break;
    }
    for (int i = 0; i < n; i++) {
      struct evsrc *src = evs[i].data.ptr;
      switch (src->kind) {
      case EV_CONTROL_LISTEN:
        ctl_accept(lfd);
        break;
      case EV_CONTROL_CLIENT: {
        struct ctl_client *cc = src->obj;
        if (cc->dead) break;
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR))
          ctl_readable(cc);
        else if (evs[i].events & EPOLLOUT)
          ctl_flush(cc);
        break;
      }
      case EV_SIGNAL: {
        struct signalfd_siginfo si;
        if (read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
          log_event("signal %u: stopping", si.ssi_signo);
          stopping = 1;
        }
        break;
      }
      default:
        iface_event(src, evs[i].events);
        break;
      }
    }
    busy = iface_poll();
    iface_expire();
    loop_flush();
  }
  iface_shutdown("forwarder stopping");
  for (int i = 0; i < MAX_CONTROL_CLIENTS; i++)
    if (ctl_clients[i]) ctl_close(ctl_clients[i]);
  loop_flush();
  close(lfd);
  unlink(path);
  log_event("stopped");
  return 0;
}

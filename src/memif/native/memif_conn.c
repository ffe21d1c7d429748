/* The memif handshake, server role. Every field a client sends is checked before use: a client may
 * be buggy or hostile, and the forwarder serves every pod of the node from one process. */
#include "memif_conn.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>


void conn_init(struct memif_conn *c, int fd, const struct memif_cfg *cfg) {
  memset(c, 0, sizeof(*c));
  c->fd = fd;
  c->state = CONN_WAIT_INIT;
  c->cfg = *cfg;
  for (unsigned i = 0; i < MEMIFD_MAX_REGIONS; i++) c->region[i].fd = -1;
  for (unsigned i = 0; i < MEMIFD_MAX_RINGS; i++) c->s2m[i].efd = c->m2s[i].efd = -1;
}

int memif_send(int fd, const struct memif_msg *m, int pass_fd) {
  struct iovec iov = {.iov_base = (void *)m, .iov_len = sizeof(*m)};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
  if (pass_fd >= 0) {
    memset(&ctl, 0, sizeof(ctl));
    mh.msg_control = ctl.buf;
    mh.msg_controllen = sizeof(ctl.buf);
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &pass_fd, sizeof(int));
  }
  return sendmsg(fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)sizeof(*m) ? 0 : -1;
}

long memif_recv(int fd, struct memif_msg *m, int *fd_out, int *bad) {
  struct iovec iov = {.iov_base = m, .iov_len = sizeof(*m)};
  union {
    char buf[CMSG_SPACE(8 * sizeof(int))];
    struct cmsghdr align;
  } ctl;
  struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
  *fd_out = -1;
  *bad = 0;
  memset(m, 0, sizeof(*m));
  ssize_t n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
  if (n < 0) return -1;
  /* Collect every passed fd so none leaks, whatever the message says. */
  for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < nfds; i++) {
      int f;
      memcpy(&f, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
      if (*fd_out < 0) {
        *fd_out = f;
      } else {
        close(f);
        *bad = 1;
      }
    }
  }
  if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) *bad = 1;
  if (*bad && *fd_out >= 0) {
    close(*fd_out);
    *fd_out = -1;
  }
  return (long)n;
}

static void set_reason(struct memif_conn *c, uint32_t code, const char *fmt, va_list ap) {
  c->disc_code = code;
  vsnprintf(c->disc_reason, sizeof(c->disc_reason), fmt, ap);
}

void conn_disconnect(struct memif_conn *c, uint32_t code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_reason(c, code, fmt, ap);
  va_end(ap);
  if (c->state != CONN_CLOSED && c->fd >= 0) {
    struct memif_msg m;
    memset(&m, 0, sizeof(m));
    m.type = MEMIF_MSG_DISCONNECT;
    m.disconnect.code = code;
    /* The wire field holds 96 bytes; keep it NUL-terminated for C peers. */
    memcpy(m.disconnect.reason, c->disc_reason, strnlen(c->disc_reason, MEMIF_REASON_SZ - 1));
    (void)memif_send(c->fd, &m, -1);
  }
  c->state = CONN_CLOSED;
}

/* Refuses, with a DISCONNECT carrying the reason. */
__attribute__((format(printf, 3, 4))) static enum conn_event violate(struct memif_conn *c, uint32_t code,
                                                                     const char *fmt, ...) {
  char why[sizeof(c->disc_reason)];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, sizeof(why), fmt, ap);
  va_end(ap);
  conn_disconnect(c, code, "%s", why);
  return CONN_EV_CLOSED;
}

static int send_simple(struct memif_conn *c, uint16_t type) {
  struct memif_msg m;
  memset(&m, 0, sizeof(m));
  m.type = type;
  if (type == MEMIF_MSG_CONNECTED)
    memcpy(m.connect.if_name, c->cfg.name, strnlen(c->cfg.name, MEMIF_NAME_SZ - 1));
  return memif_send(c->fd, &m, -1);
}

int conn_start(struct memif_conn *c) {
  struct memif_msg m;
  memset(&m, 0, sizeof(m));
  m.type = MEMIF_MSG_HELLO;
  memcpy(m.hello.name, c->cfg.name, strnlen(c->cfg.name, MEMIF_NAME_SZ - 1));
  m.hello.min_version = MEMIF_VERSION;
  m.hello.max_version = MEMIF_VERSION;
  m.hello.max_region = MEMIFD_MAX_REGIONS - 1;
  m.hello.max_m2s_ring = MEMIFD_MAX_RINGS - 1;
  m.hello.max_s2m_ring = MEMIFD_MAX_RINGS - 1;
  m.hello.max_log2_ring_size = c->cfg.max_log2;
  if (memif_send(c->fd, &m, -1) < 0) {
    c->state = CONN_CLOSED;
    snprintf(c->disc_reason, sizeof(c->disc_reason), "cannot send HELLO: %s", strerror(errno));
    return -1;
  }
  return 0;
}

/* Copies a fixed-size wire string; 0 if it is printable ASCII up to its first NUL. */
static int wire_string(char *dst, const uint8_t *src, size_t n) {
  size_t len = strnlen((const char *)src, n);
  for (size_t i = 0; i < len; i++)
    if (src[i] < 0x20 || src[i] > 0x7e) return -1;
  memcpy(dst, src, len);
  dst[len] = 0;
  return 0;
}

static const char *mode_name(unsigned mode) {
  return mode == MEMIF_MODE_ETHERNET ? "ethernet" : mode == MEMIF_MODE_IP ? "ip" : mode == MEMIF_MODE_PUNT_INJECT ? "punt/inject" : "unknown";
}

static enum conn_event on_init(struct memif_conn *c, const struct memif_msg_init *in) {
  if (in->version != MEMIF_VERSION)
    return violate(c, DISC_VERSION, "memif version 0x%04x not supported (0x%04x only)", in->version, MEMIF_VERSION);
  if (wire_string(c->peer_name, in->name, MEMIF_NAME_SZ) < 0)
    return violate(c, DISC_PROTOCOL, "client name is not printable ASCII");
  if (in->mode != c->cfg.mode)
    return violate(c, DISC_MODE, "mode %s (%u) requested, this interface is %s", mode_name(in->mode), in->mode,
                   mode_name(c->cfg.mode));
  size_t want = strlen(c->cfg.secret);
  if (want) {
    size_t got = strnlen((const char *)in->secret, MEMIF_SECRET_SZ);
    unsigned diff = got != want;
    for (size_t i = 0; i < want && i < got; i++) diff |= (unsigned)(in->secret[i] ^ (uint8_t)c->cfg.secret[i]);
    if (diff) return violate(c, DISC_SECRET, got ? "incorrect secret" : "secret required");
  }
  c->peer_id = in->id;
  c->state = CONN_INITED;
  return send_simple(c, MEMIF_MSG_ACK) < 0 ? violate(c, DISC_PROTOCOL, "cannot send ACK") : CONN_EV_NONE;
}

static enum conn_event on_add_region(struct memif_conn *c, const struct memif_msg_add_region *ar, int fd) {
  if (fd < 0) return violate(c, DISC_REGION, "ADD_REGION without a file descriptor");
  struct stat st;
  struct statfs sf;
  const char *bad = NULL;
  char buf[96];
  if (ar->index != c->nregions || ar->index >= MEMIFD_MAX_REGIONS) {
    snprintf(buf, sizeof(buf), "region index %u (expected %u, at most %u regions)", ar->index, c->nregions,
             MEMIFD_MAX_REGIONS);
    bad = buf;
  } else if (ar->size == 0 || ar->size > MEMIFD_MAX_REGION_SIZE) {
    snprintf(buf, sizeof(buf), "region %u size %llu out of range (1..%llu)", ar->index, (unsigned long long)ar->size,
             MEMIFD_MAX_REGION_SIZE);
    bad = buf;
  } else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    bad = "region fd is not a memory file";
  } else if ((uint64_t)st.st_size < ar->size) {
    snprintf(buf, sizeof(buf), "region %u: file has %lld bytes, %llu declared", ar->index, (long long)st.st_size,
             (unsigned long long)ar->size);
    bad = buf;
  } else if (fstatfs(fd, &sf) == 0 && sf.f_type == HUGETLBFS_MAGIC) {
    /* A hugetlbfs page that cannot be allocated faults with SIGBUS in the forwarder. */
    bad = "hugetlbfs regions are not accepted";
  } else {
    /* A client shrinking the file under our mapping would SIGBUS the forwarder: insist on the
     * shrink seal (DPDK and libmemif set it; add it ourselves when the client allowed sealing). */
    int seals = fcntl(fd, F_GET_SEALS);
    if (seals < 0 || (!(seals & F_SEAL_SHRINK) && fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0))
      bad = "region must be a memfd sealed against shrinking (F_SEAL_SHRINK)";
  }
  if (bad) {
    close(fd);
    return violate(c, DISC_REGION, "%s", bad);
  }
  c->region[c->nregions].fd = fd;
  c->region[c->nregions].size = ar->size;
  c->nregions++;
  return send_simple(c, MEMIF_MSG_ACK) < 0 ? violate(c, DISC_PROTOCOL, "cannot send ACK") : CONN_EV_NONE;
}

static int is_eventfd(int fd) {
  char path[64], target[64];
  snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  ssize_t n = readlink(path, target, sizeof(target) - 1);
  if (n < 0) return 0;
  target[n] = 0;
  return strcmp(target, "anon_inode:[eventfd]") == 0;
}

static enum conn_event on_add_ring(struct memif_conn *c, const struct memif_msg_add_ring *ar, int fd) {
  if (fd < 0) return violate(c, DISC_RING, "ADD_RING without an eventfd");
  int s2m = ar->flags & MEMIF_ADD_RING_FLAG_S2M;
  struct memif_queue *q = s2m ? &c->s2m[0] : &c->m2s[0];
  char buf[128];
  const char *bad = NULL;
  if (ar->index >= MEMIFD_MAX_RINGS) {
    snprintf(buf, sizeof(buf), "%s ring index %u beyond %u", s2m ? "S2M" : "M2S", ar->index, MEMIFD_MAX_RINGS - 1);
    bad = buf;
  } else if (q[ar->index].present) {
    snprintf(buf, sizeof(buf), "%s ring %u added twice", s2m ? "S2M" : "M2S", ar->index);
    bad = buf;
  } else if (ar->region >= c->nregions) {
    snprintf(buf, sizeof(buf), "ring in region %u, only %u added", ar->region, c->nregions);
    bad = buf;
  } else if (ar->log2_ring_size > c->cfg.max_log2) {
    snprintf(buf, sizeof(buf), "ring size 2^%u above the 2^%u offered", ar->log2_ring_size, c->cfg.max_log2);
    bad = buf;
  } else if (ar->offset % 8) {
    snprintf(buf, sizeof(buf), "ring offset %u not 8-byte aligned", ar->offset);
    bad = buf;
  } else if ((uint64_t)ar->offset + memif_ring_bytes(ar->log2_ring_size) > c->region[ar->region].size) {
    snprintf(buf, sizeof(buf), "ring at %u..%llu outside region %u (%llu bytes)", ar->offset,
             (unsigned long long)(ar->offset + memif_ring_bytes(ar->log2_ring_size)), ar->region,
             (unsigned long long)c->region[ar->region].size);
    bad = buf;
  } else if (!is_eventfd(fd)) {
    bad = "ring interrupt fd is not an eventfd";
  } else {
    /* Shared with the client: it must never block us (a client could drain it under our read). */
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) bad = "cannot make the eventfd non-blocking";
  }
  if (bad) {
    close(fd);
    return violate(c, DISC_RING, "%s", bad);
  }
  q += ar->index;
  q->present = 1;
  q->region = ar->region;
  q->offset = ar->offset;
  q->log2 = ar->log2_ring_size;
  q->size = (uint16_t)(1u << ar->log2_ring_size);
  q->efd = fd;
  return send_simple(c, MEMIF_MSG_ACK) < 0 ? violate(c, DISC_PROTOCOL, "cannot send ACK") : CONN_EV_NONE;
}

/* Rings must be numbered 0..n-1 with n >= 1 per direction. */
static unsigned count_rings(const struct memif_queue *q) {
  unsigned n = 0;
  while (n < MEMIFD_MAX_RINGS && q[n].present) n++;
  for (unsigned i = n; i < MEMIFD_MAX_RINGS; i++)
    if (q[i].present) return 0;
  return n;
}

static enum conn_event on_connect(struct memif_conn *c, const struct memif_msg_connect *m) {
  char name[MEMIF_NAME_SZ + 1];
  if (wire_string(name, m->if_name, MEMIF_NAME_SZ) < 0)
    return violate(c, DISC_PROTOCOL, "client interface name is not printable ASCII");
  if (c->nregions == 0) return violate(c, DISC_REGION, "CONNECT without a region");
  c->ns2m = count_rings(c->s2m);
  c->nm2s = count_rings(c->m2s);
  if (!c->ns2m || !c->nm2s)
    return violate(c, DISC_RING, "CONNECT needs rings 0..n-1 in both directions (have S2M %u, M2S %u)", c->ns2m,
                   c->nm2s);
  for (unsigned i = 0; i < c->nregions; i++) {
    struct memif_region *r = &c->region[i];
    void *p = mmap(NULL, r->size, PROT_READ | PROT_WRITE, MAP_SHARED, r->fd, 0);
    if (p == MAP_FAILED) return violate(c, DISC_REGION, "cannot map region %u: %s", i, strerror(errno));
    r->addr = p;
    close(r->fd); /* the mapping keeps the memory */
    r->fd = -1;
  }
  for (int dir = 0; dir < 2; dir++) {
    struct memif_queue *q = dir ? c->m2s : c->s2m;
    unsigned n = dir ? c->nm2s : c->ns2m;
    for (unsigned i = 0; i < n; i++) {
      q[i].ring = (struct memif_ring *)(c->region[q[i].region].addr + q[i].offset);
      uint32_t cookie = __atomic_load_n(&q[i].ring->cookie, __ATOMIC_RELAXED);
      if (cookie != MEMIF_COOKIE)
        return violate(c, DISC_RING, "%s ring %u: cookie 0x%08x, expected 0x%08x", dir ? "M2S" : "S2M", i, cookie,
                       MEMIF_COOKIE);
      /* Both sides start from zero; our private index is what we trust from now on. */
      q[i].last = 0;
      __atomic_store_n(&q[i].ring->tail, 0, __ATOMIC_RELEASE);
    }
  }
  if (send_simple(c, MEMIF_MSG_CONNECTED) < 0) return violate(c, DISC_PROTOCOL, "cannot send CONNECTED");
  c->state = CONN_CONNECTED;
  return CONN_EV_CONNECTED;
}

static const char *type_name(unsigned t) {
  static const char *names[] = {"NONE", "ACK", "HELLO", "INIT", "ADD_REGION", "ADD_RING", "CONNECT", "CONNECTED", "DISCONNECT"};
  return t < sizeof(names) / sizeof(names[0]) ? names[t] : "unknown";
}

enum conn_event conn_handle_msg(struct memif_conn *c, const struct memif_msg *m, int fd) {
  if (c->state == CONN_CLOSED) {
    if (fd >= 0) close(fd);
    return CONN_EV_CLOSED;
  }
  if (m->type == MEMIF_MSG_DISCONNECT) {
    if (fd >= 0) close(fd);
    char why[MEMIF_REASON_SZ + 1];
    memcpy(why, m->disconnect.reason, MEMIF_REASON_SZ);
    why[MEMIF_REASON_SZ] = 0;
    for (char *p = why; *p; p++)
      if (*p < 0x20 || *p > 0x7e) *p = '?';
    c->disc_code = m->disconnect.code;
    snprintf(c->disc_reason, sizeof(c->disc_reason), "client disconnected: %s", why);
    c->state = CONN_CLOSED;
    return CONN_EV_CLOSED;
  }
  if (m->type == MEMIF_MSG_ACK) { /* nothing to acknowledge from our side: harmless */
    if (fd >= 0) close(fd);
    return CONN_EV_NONE;
  }
  if (c->state == CONN_WAIT_INIT && m->type == MEMIF_MSG_INIT) {
    if (fd >= 0) close(fd);
    return on_init(c, &m->init);
  }
  if (c->state == CONN_INITED) {
    switch (m->type) {
    case MEMIF_MSG_ADD_REGION: return on_add_region(c, &m->add_region, fd);
    case MEMIF_MSG_ADD_RING: return on_add_ring(c, &m->add_ring, fd);
    case MEMIF_MSG_CONNECT:
      if (fd >= 0) close(fd);
      return on_connect(c, &m->connect);
    default: break;
    }
  }
  if (fd >= 0) close(fd);
  static const char *state_names[] = {"before INIT", "during setup", "after CONNECTED", "after close"};
  return violate(c, DISC_PROTOCOL, "unexpected %s (type %u) %s", type_name(m->type), m->type, state_names[c->state]);
}

enum conn_event conn_on_readable(struct memif_conn *c) {
  struct memif_msg m;
  int fd, bad;
  long n = memif_recv(c->fd, &m, &fd, &bad);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return CONN_EV_NONE;
  if (n <= 0) {
    c->disc_code = 0;
    snprintf(c->disc_reason, sizeof(c->disc_reason), "client closed the connection%s%s", n < 0 ? ": " : "",
             n < 0 ? strerror(errno) : "");
    c->state = CONN_CLOSED;
    return CONN_EV_CLOSED;
  }
  if (bad) return violate(c, DISC_PROTOCOL, "truncated message or more than one file descriptor");
  if (n != MEMIF_MSG_SIZE) {
    if (fd >= 0) close(fd);
    return violate(c, DISC_PROTOCOL, "message of %ld bytes (expected %d)", n, MEMIF_MSG_SIZE);
  }
  return conn_handle_msg(c, &m, fd);
}

void conn_release(struct memif_conn *c) {
  for (unsigned i = 0; i < MEMIFD_MAX_REGIONS; i++) {
    struct memif_region *r = &c->region[i];
    if (r->addr) munmap(r->addr, r->size);
    if (r->fd >= 0) close(r->fd);
    r->addr = NULL;
    r->fd = -1;
  }
  for (unsigned i = 0; i < MEMIFD_MAX_RINGS; i++) {
    if (c->s2m[i].efd >= 0) close(c->s2m[i].efd);
    if (c->m2s[i].efd >= 0) close(c->m2s[i].efd);
    c->s2m[i].efd = c->m2s[i].efd = -1;
    c->s2m[i].ring = c->m2s[i].ring = NULL;
  }
  c->nregions = c->ns2m = c->nm2s = 0;
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  c->state = CONN_CLOSED;
}

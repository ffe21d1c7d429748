#include "iface.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "ether.h"
#include "fastpath.h"
#include "log.h"
#include "memif_conn.h"
#include "memif_ring.h"
#include "netns.h"
#include "tap.h"

#define BATCH 64            /* descriptors per ring, or TAP reads, per round */
#define POLL_ROUNDS 32      /* empty rounds an interface keeps being polled before sleeping */
#define HANDSHAKE_MS 5000
#define TAP_READ_MAX 65536  /* a whole frame always fits: no silent truncation */
_Static_assert(BATCH <= FP_BATCH_MAX, "a batch flushes before the fast path's list fills");

static const uint8_t ip_mode_pod_mac[6] = {0x02, 0, 0, 0, 0, 0x01};

struct client;

struct mif {
  struct mif *next;
  struct put_req cfg;
  uint8_t tapmac[6];
  uint8_t podmac[6]; /* ip mode: the MAC we answer ARP with on the client's behalf */
  int listen_fd, tap_fd;
  struct evsrc ev_listen, ev_tap;
  struct client *cl; /* handshaking or connected; NULL when only listening */
  int tap_ready;     /* the TAP had frames last we looked */
  int busy;          /* polling rounds left */
  int masked;        /* the client was told not to kick (MASK_INT on its S2M rings): we poll */
  int dead;          /* torn down: events still queued in this batch must be ignored */
  struct fp_port port; /* as the fast path sees it */
  uint64_t rx, tx, drops;
  uint64_t fast; /* frames from the client switched directly into another interface's ring */
};

struct client {
  struct mif *mif;
  struct memif_conn conn;
  struct evsrc ev_sock;
  struct evsrc ev_irq[MEMIFD_MAX_RINGS];
  int64_t deadline_ms; /* handshake deadline; 0 once connected */
  int dead;
};

static struct mif *ifaces;
static uint8_t tapbuf[TAP_READ_MAX];
static struct fp_table fast_table;
static struct fp_batch fast_batch;

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct mif *find(const char *id) {
  for (struct mif *m = ifaces; m; m = m->next)
    if (!strcmp(m->cfg.id, id)) return m;
  return NULL;
}

static int connected(const struct mif *m) { return m->cl && m->cl->conn.state == CONN_CONNECTED; }

/* Ends the client's connection: the DISCONNECT (if ours) is already sent by conn_*. */
static void client_close(struct client *cl) {
  struct mif *m = cl->mif;
  struct memif_conn *c = &cl->conn;
  log_event("%s: client %s gone: %s (code %u)", m->cfg.id, c->peer_name[0] ? c->peer_name : "(unnamed)", c->disc_reason,
            c->disc_code);
  loop_del(c->fd);
  for (unsigned i = 0; i < MEMIFD_MAX_RINGS; i++) loop_del(c->s2m[i].efd);
  conn_release(c);
  cl->dead = 1;
  m->cl = NULL;
  m->port.conn = NULL; /* no longer a destination; a batch that still lists it skips it */
  m->busy = 0;
  loop_defer_free(cl);
}

static void client_drop(struct client *cl, uint32_t code, const char *why) {
  conn_disconnect(&cl->conn, code, "%s", why);
  client_close(cl);
}

static void on_accept(struct mif *m) {
  int fd = accept4(m->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (fd < 0) return;
  if (m->cl) {
    struct memif_conn tmp;
    struct memif_cfg none = {0};
    conn_init(&tmp, fd, &none);
    conn_disconnect(&tmp, DISC_BUSY, "already connected");
    conn_release(&tmp);
    log_event("%s: refused a second client (already connected)", m->cfg.id);
    return;
  }
  struct client *cl = calloc(1, sizeof(*cl));
  if (!cl) {
    close(fd);
    return;
  }
  struct memif_cfg cfg = {.mode = (uint8_t)m->cfg.mode, .max_log2 = (uint8_t)m->cfg.log2ring};
  snprintf(cfg.secret, sizeof(cfg.secret), "%s", m->cfg.secret);
  snprintf(cfg.name, sizeof(cfg.name), "multinet");
  conn_init(&cl->conn, fd, &cfg);
  cl->mif = m;
  cl->ev_sock = (struct evsrc){EV_MEMIF_SOCK, cl, 0};
  cl->deadline_ms = now_ms() + HANDSHAKE_MS;
  m->cl = cl;
  if (loop_add(fd, EPOLLIN, &cl->ev_sock) < 0 || conn_start(&cl->conn) < 0) {
    client_close(cl);
    return;
  }
  log_event("%s: client accepted on @%s, HELLO sent", m->cfg.id, m->cfg.sock);
}

static void on_connected(struct client *cl) {
  struct mif *m = cl->mif;
  struct memif_conn *c = &cl->conn;
  cl->deadline_ms = 0;
  for (unsigned i = 0; i < c->ns2m; i++) {
    cl->ev_irq[i] = (struct evsrc){EV_MEMIF_IRQ, cl, (int)i};
    if (loop_add(c->s2m[i].efd, EPOLLIN, &cl->ev_irq[i]) < 0) {
      client_drop(cl, DISC_PROTOCOL, "cannot watch the ring eventfd");
      return;
    }
  }
  m->busy = POLL_ROUNDS;
  m->masked = 0;
  m->port.conn = c;
  log_event("%s: client %s id %u connected: %u S2M + %u M2S rings of %u, %u region(s)", m->cfg.id, c->peer_name,
            c->peer_id, c->ns2m, c->nm2s, c->s2m[0].size, c->nregions);
}

static void kick(int efd) {
  uint64_t one = 1;
  if (write(efd, &one, sizeof(one)) < 0) { /* EAGAIN: the counter is already full of kicks */
  }
}

/* A frame for the fast path: 1 if it took it (sent, or dropped for lack of room), 0 for the TAP. */
static int switch_direct(struct mif *m, const struct frame *f) {
  struct fp_port *dst;
  char why[160];
  switch (fp_forward(&fast_table, &m->port, f, &fast_batch, &dst, why, sizeof(why))) {
  case FP_KERNEL:
    return 0;
  case FP_SENT:
    m->fast++;
    return 1;
  case FP_DROPPED:
    ((struct mif *)dst->owner)->drops++; /* its client posted no room: counted as on the TAP path */
    return 1;
  case FP_BAD: {
    struct mif *d = dst->owner;
    d->drops++;
    log_event("%s: a frame switched from %s found a broken M2S ring", d->cfg.id, m->cfg.id);
    client_drop(d->cl, DISC_DATAPATH, why);
    return 1;
  }
  }
  return 0;
}

/* One S2M ring: client -> TAP, or straight into another interface's ring (fast path). */
static int service_s2m_ring(struct mif *m, unsigned r) {
  struct memif_conn *c = &m->cl->conn;
  int work = 0;
  char why[160];
  struct memif_queue *q = &c->s2m[r];
  int pending = s2m_pending(q);
  if (pending < 0) {
    snprintf(why, sizeof(why), "S2M ring %u head beyond the ring size", r);
    client_drop(m->cl, DISC_DATAPATH, why);
    return work;
  }
  uint16_t at = 0, avail = (uint16_t)pending;
  struct frame f;
  while (at < avail && at < BATCH) {
    enum frame_result res = s2m_frame(c, q, at, (uint16_t)(avail - at), &f, why, sizeof(why));
    if (res == FRAME_BAD) {
      client_drop(m->cl, DISC_DATAPATH, why);
      return work;
    }
    at = (uint16_t)(at + f.slots);
    work++;
    if (res == FRAME_DROP) {
      m->drops++;
      continue;
    }
    struct iovec iov[FRAME_MAX_SEGS + 1];
    uint8_t hdr[ETH_HDR_LEN];
    unsigned n = 0;
    if (m->cfg.mode == MEMIF_MODE_IP) {
      /* Read the version nibble once from shared memory; the header decides the ethertype. */
      uint8_t first = *(volatile uint8_t *)f.iov[0].iov_base;
      if (!ip_eth_header(first, m->tapmac, m->podmac, hdr)) {
        m->drops++;
        continue;
      }
      iov[n++] = (struct iovec){hdr, ETH_HDR_LEN};
    } else if (m->port.fast && switch_direct(m, &f)) {
      continue;
    }
    memcpy(iov + n, f.iov, f.niov * sizeof(struct iovec));
    n += f.niov;
    if (writev(m->tap_fd, iov, (int)n) < 0)
      m->drops++;
    else
      m->rx++;
  }
  if (at) s2m_release(q, at);
  return work;
}

/* Client -> TAP or other clients. Returns frames handled. */
static int service_s2m(struct mif *m) {
  int work = 0;
  for (unsigned r = 0; m->cl && r < m->cl->conn.ns2m; r++) {
    work += service_s2m_ring(m, r);
    fp_flush(&fast_batch, kick); /* each destination published and kicked once per batch */
  }
  return work;
}

/* TAP -> client (M2S ring 0). Returns frames handled. */
static int service_tap(struct mif *m) {
  int work = 0, filled = 0;
  char why[160];
  while (work < BATCH) {
    ssize_t n = read(m->tap_fd, tapbuf, sizeof(tapbuf));
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) m->tap_ready = 0;
      break;
    }
    work++;
    if (!connected(m)) continue; /* nobody to deliver to: the kernel's ARP/ND noise goes */
    struct memif_conn *c = &m->cl->conn;
    struct memif_queue *q = &c->m2s[0];
    const uint8_t *data = tapbuf;
    size_t len = (size_t)n;
    if (m->cfg.mode == MEMIF_MODE_IP) {
      enum eth_kind k = eth_classify(tapbuf, len);
      if (k == ETH_KIND_ARP) {
        uint8_t reply[ARP_FRAME_LEN];
        if (arp_reply(tapbuf, len, m->podmac, reply) && write(m->tap_fd, reply, sizeof(reply)) < 0) m->drops++;
        continue;
      }
      if (k != ETH_KIND_IP) continue; /* nothing else exists for an IP-mode client */
      uint8_t na[NA_FRAME_LEN];
      if (ndp_advert(tapbuf, len, m->podmac, na)) { /* the client has no MAC to resolve */
        if (write(m->tap_fd, na, sizeof(na)) < 0) m->drops++;
        continue;
      }
      data += ETH_HDR_LEN;
      len -= ETH_HDR_LEN;
    }
    int free_slots = m2s_free(q);
    if (free_slots < 0) {
      client_drop(m->cl, DISC_DATAPATH, "M2S ring 0 head beyond the ring size");
      return work;
    }
    enum frame_result res = m2s_put(c, q, (uint16_t)free_slots, NULL, 0, data, len, why, sizeof(why));
    if (res == FRAME_BAD) {
      client_drop(m->cl, DISC_DATAPATH, why);
      return work;
    }
    if (res == FRAME_DROP) {
      m->drops++; /* no posted buffer (or too large): drop at the tail, like a NIC */
    } else {
      m->tx++;
      filled = 1;
    }
  }
  if (filled && connected(m) && m2s_publish(&m->cl->conn.m2s[0])) kick(m->cl->conn.m2s[0].efd);
  return work;
}

void iface_event(struct evsrc *src, uint32_t events) {
  switch (src->kind) {
  case EV_MEMIF_LISTEN:
    if (!((struct mif *)src->obj)->dead) on_accept(src->obj);
    break;
  case EV_TAP: {
    struct mif *m = src->obj;
    if (m->dead) break;
    m->tap_ready = 1;
    if (connected(m))
      m->busy = POLL_ROUNDS;
    else
      service_tap(m); /* drain and discard */
    break;
  }
  case EV_MEMIF_SOCK: {
    struct client *cl = src->obj;
    if (cl->dead) break;
    enum conn_event ev = conn_on_readable(&cl->conn);
    if (ev == CONN_EV_NONE && (events & (EPOLLHUP | EPOLLERR)) && !(events & EPOLLIN)) {
      snprintf(cl->conn.disc_reason, sizeof(cl->conn.disc_reason), "client hung up");
      ev = CONN_EV_CLOSED;
    }
    if (ev == CONN_EV_CONNECTED) on_connected(cl);
    if (ev == CONN_EV_CLOSED) client_close(cl);
    break;
  }
  case EV_MEMIF_IRQ: {
    struct client *cl = src->obj;
    if (cl->dead) break;
    uint64_t v;
    if (read(cl->conn.s2m[src->idx].efd, &v, sizeof(v)) < 0) { /* EAGAIN: the client drained it */
    }
    cl->mif->busy = POLL_ROUNDS;
    break;
  }
  default:
    break;
  }
}

/* While we poll a client's S2M rings, its kicks are only syscalls on its side and wakeups on ours:
 * MASK_INT asks it not to send them (the ring's receiver owns that flag). */
static void s2m_mask(struct mif *m, int masked) {
  struct memif_conn *c = &m->cl->conn;
  for (unsigned r = 0; r < c->ns2m; r++)
    __atomic_store_n(&c->s2m[r].ring->flags, (uint16_t)(masked ? MEMIF_RING_FLAG_MASK_INT : 0), __ATOMIC_SEQ_CST);
  m->masked = masked;
}

static int s2m_any_pending(struct mif *m) {
  struct memif_conn *c = &m->cl->conn;
  for (unsigned r = 0; r < c->ns2m; r++)
    if (s2m_pending(&c->s2m[r]) != 0) return 1;
  return 0;
}

int iface_poll(void) {
  int any = 0;
  for (struct mif *m = ifaces; m; m = m->next) {
    if (!m->busy) continue;
    if (!connected(m)) {
      m->busy = 0;
      continue;
    }
    int work = service_s2m(m);
    if (connected(m) && m->tap_ready) work += service_tap(m);
    if (!connected(m)) {
      m->busy = 0;
      continue;
    }
    if (work) {
      m->busy = POLL_ROUNDS;
      if (!m->masked) s2m_mask(m, 1);
    } else if (--m->busy == 0 && m->masked) {
      /* Back to interrupts: unmask, then look once more, since a frame produced before the client
       * saw the flag cleared kicked nobody. */
      s2m_mask(m, 0);
      if (s2m_any_pending(m)) m->busy = POLL_ROUNDS;
    }
    any |= m->busy > 0;
  }
  return any;
}

int iface_next_timeout_ms(void) {
  int64_t next = -1, now = now_ms();
  for (struct mif *m = ifaces; m; m = m->next)
    if (m->cl && m->cl->deadline_ms && (next < 0 || m->cl->deadline_ms < next)) next = m->cl->deadline_ms;
  if (next < 0) return -1;
  return next <= now ? 0 : (int)(next - now);
}

void iface_expire(void) {
  int64_t now = now_ms();
  for (struct mif *m = ifaces; m; m = m->next)
    if (m->cl && m->cl->deadline_ms && m->cl->deadline_ms <= now)
      client_drop(m->cl, DISC_TIMEOUT, "handshake not completed in 5 s");
}

/* The fast path's view of an interface's configuration (its client is set on connect/close). */
static void port_configure(struct mif *m) {
  struct fp_port *p = &m->port;
  p->fast = m->cfg.fast;
  memcpy(p->tapmac, m->tapmac, 6);
  memcpy(p->peermac, m->cfg.peermac, 6);
  p->nips = m->cfg.nips;
  memcpy(p->ips, m->cfg.ips, sizeof(p->ips));
  p->owner = m;
}

/* The routing domain's id: that of another interface with the same rns path, else a new one. */
static uint32_t rns_id(const char *rns) {
  static uint32_t next;
  for (struct mif *m = ifaces; m; m = m->next)
    if (!strcmp(m->cfg.rns, rns)) return m->port.rns;
  return ++next;
}

/* Rebuilds the (rns, address) table from the interfaces: after every PUT and DEL. */
static void fast_rebuild(void) {
  size_t n = 0;
  for (struct mif *m = ifaces; m; m = m->next) n++;
  struct fp_port **ports = calloc(n ? n : 1, sizeof(*ports));
  struct fp_table t = {0};
  n = 0;
  for (struct mif *m = ifaces; ports && m; m = m->next) ports[n++] = &m->port;
  if (!ports || fp_table_build(&t, ports, n) < 0)
    log_event("out of memory building the fast path's table: all traffic goes through the TAPs");
  free(ports);
  fp_table_free(&fast_table);
  fast_table = t;
}

static void teardown(struct mif *m, const char *reason) {
  if (m->cl) client_drop(m->cl, DISC_SHUTDOWN, reason);
  loop_del(m->listen_fd);
  close(m->listen_fd);
  loop_del(m->tap_fd);
  close(m->tap_fd); /* not persistent: the kernel removes the device */
  for (struct mif **p = &ifaces; *p; p = &(*p)->next)
    if (*p == m) {
      *p = m->next;
      break;
    }
  fast_rebuild();
  log_event("%s: removed (%s): listener @%s closed, TAP %s deleted", m->cfg.id, reason, m->cfg.sock, m->cfg.tap);
  m->dead = 1;
  loop_defer_free(m);
}

static void put_reply(const struct mif *m, char *reply, size_t n) {
  char mac[18];
  mac_format(m->tapmac, mac);
  snprintf(reply, n, "OK %s tapmac=%s", m->cfg.id, mac);
}

void iface_put(const struct put_req *p, char *reply, size_t n) {
  struct mif *old = find(p->id);
  if (old && put_same(&old->cfg, p)) {
    put_reply(old, reply, n);
    return;
  }
  if (p->mode == MEMIF_MODE_IP && p->has_mac && !memcmp(p->mac, ip_mode_pod_mac, 6)) {
    snprintf(reply, n, "ERR mac: 02:00:00:00:00:01 is the pod side's MAC in ip mode");
    return;
  }
  if (old && put_same_iface(&old->cfg, p)) { /* only the fast path's fields: no disruption */
    old->cfg = *p;
    port_configure(old);
    fast_rebuild();
    put_reply(old, reply, n);
    log_event("%s: fast path %s, %u address(es)", p->id, p->fast ? "on" : "off", p->nips);
    return;
  }
  if (old) teardown(old, "replaced by a PUT with other parameters");
  struct mif *m = calloc(1, sizeof(*m));
  if (!m) {
    snprintf(reply, n, "ERR id: out of memory");
    return;
  }
  m->cfg = *p;
  memcpy(m->podmac, ip_mode_pod_mac, 6);
  char err[256];
  m->listen_fd = memif_listen_in(p->podns, p->sock, err, sizeof(err));
  if (m->listen_fd < 0) {
    snprintf(reply, n, "ERR %s", err);
    free(m);
    return;
  }
  m->tap_fd = tap_create(p->rns, p->tap, p->has_mac ? p->mac : NULL, m->tapmac, err, sizeof(err));
  if (m->tap_fd < 0) {
    close(m->listen_fd);
    snprintf(reply, n, "ERR %s", err);
    free(m);
    return;
  }
  m->ev_listen = (struct evsrc){EV_MEMIF_LISTEN, m, 0};
  m->ev_tap = (struct evsrc){EV_TAP, m, 0};
  if (loop_add(m->listen_fd, EPOLLIN, &m->ev_listen) < 0 || loop_add(m->tap_fd, EPOLLIN, &m->ev_tap) < 0) {
    loop_del(m->listen_fd);
    close(m->listen_fd);
    close(m->tap_fd);
    snprintf(reply, n, "ERR id: cannot watch the interface: %s", strerror(errno));
    free(m);
    return;
  }
  m->port.rns = rns_id(p->rns);
  port_configure(m);
  m->next = ifaces;
  ifaces = m;
  fast_rebuild();
  put_reply(m, reply, n);
  log_event("%s: listening on @%s in %s, TAP %s in %s (%s mode, rings up to 2^%d, fast path %s)", p->id, p->sock,
            p->podns, p->tap, p->rns, p->mode == MEMIF_MODE_IP ? "ip" : "ethernet", p->log2ring,
            p->fast ? "on" : "off");
}

void iface_del(const char *id) {
  struct mif *m = find(id);
  if (m) teardown(m, "interface deleted");
}

static int by_id(const void *a, const void *b) {
  return strcmp((*(struct mif *const *)a)->cfg.id, (*(struct mif *const *)b)->cfg.id);
}

void iface_list(void (*emit)(void *ctx, const char *line), void *ctx) {
  size_t count = 0;
  for (struct mif *m = ifaces; m; m = m->next) count++;
  struct mif **all = calloc(count ? count : 1, sizeof(*all));
  char line[640];
  if (!all) {
    emit(ctx, "ERR out of memory");
    return;
  }
  count = 0;
  for (struct mif *m = ifaces; m; m = m->next) all[count++] = m;
  qsort(all, count, sizeof(*all), by_id);
  snprintf(line, sizeof(line), "OK %zu", count);
  emit(ctx, line);
  for (size_t i = 0; i < count; i++) {
    struct mif *m = all[i];
    snprintf(line, sizeof(line), "IF id=%s sock=%s tap=%s state=%s rx=%llu tx=%llu drops=%llu fast=%llu mode=%s podns=%s",
             m->cfg.id, m->cfg.sock, m->cfg.tap, connected(m) ? "connected" : "listening",
             (unsigned long long)m->rx, (unsigned long long)m->tx, (unsigned long long)m->drops,
             (unsigned long long)m->fast, m->cfg.mode == MEMIF_MODE_IP ? "ip" : "ethernet", m->cfg.podns);
    emit(ctx, line);
  }
  free(all);
}

void iface_shutdown(const char *reason) {
  while (ifaces) teardown(ifaces, reason);
  fp_table_free(&fast_table);
}

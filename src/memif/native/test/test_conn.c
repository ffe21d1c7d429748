/* The server's handshake state machine against a fake client over socketpair(SOCK_SEQPACKET):
 * the good path (through to moving frames on the mapped rings), and hostile clients. Every case
 * also checks that no file descriptor leaks. */
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../memif_conn.h"
#include "../memif_ring.h"
#include "test.h"

#define REGION_SIZE (1u << 20)
#define S2M_OFF 0
#define M2S_OFF 8192
#define BUF_OFF 65536
#define BUF_SIZE 2048
#define LOG2 8

struct fake {
  int sock; /* the client's end */
  struct memif_conn c;
  int memfd;
  uint8_t *mem;
  int efd_s2m, efd_m2s;
};

static int open_fds(void) {
  int n = 0;
  DIR *d = opendir("/proc/self/fd");
  while (readdir(d)) n++;
  closedir(d);
  return n;
}

static void no_leak(int before, int line) {
  int now = open_fds();
  test_checks++;
  if (now != before) {
    test_failures++;
    fprintf(stderr, "%s:%d: %d fds open, %d before\n", __FILE__, line, now, before);
  }
}

static struct memif_cfg cfg_eth(void) {
  struct memif_cfg cfg = {.mode = MEMIF_MODE_ETHERNET, .max_log2 = 10};
  strcpy(cfg.name, "multinet");
  return cfg;
}

static int make_memfd(unsigned flags, size_t size, int seal) {
  int fd = memfd_create("fake-region", flags | MFD_CLOEXEC);
  if (seal) fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
  if (ftruncate(fd, (off_t)size) < 0) abort();
  return fd;
}

/* Connects, and checks the server's HELLO. */
static void start(struct fake *f, const struct memif_cfg *cfg) {
  int sv[2];
  memset(f, 0, sizeof(*f));
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) abort();
  f->sock = sv[1];
  conn_init(&f->c, sv[0], cfg);
  CHECK(conn_start(&f->c) == 0);
  struct memif_msg m;
  int fd, bad;
  CHECK(memif_recv(f->sock, &m, &fd, &bad) == MEMIF_MSG_SIZE);
  CHECK(m.type == MEMIF_MSG_HELLO && fd < 0 && !bad);
  CHECK(!strcmp((char *)m.hello.name, "multinet"));
  CHECK(m.hello.min_version == MEMIF_VERSION && m.hello.max_version == MEMIF_VERSION);
  CHECK(m.hello.max_region == MEMIFD_MAX_REGIONS - 1);
  CHECK(m.hello.max_s2m_ring == MEMIFD_MAX_RINGS - 1 && m.hello.max_m2s_ring == MEMIFD_MAX_RINGS - 1);
  CHECK(m.hello.max_log2_ring_size == cfg->max_log2);
  f->memfd = make_memfd(MFD_ALLOW_SEALING, REGION_SIZE, 1);
  f->mem = mmap(NULL, REGION_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, f->memfd, 0);
  f->efd_s2m = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  f->efd_m2s = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  /* The client lays out its rings as DPDK does: cookie, zero indices, a buffer per slot. */
  for (int dir = 0; dir < 2; dir++) {
    struct memif_ring *r = (struct memif_ring *)(f->mem + (dir ? M2S_OFF : S2M_OFF));
    r->cookie = MEMIF_COOKIE;
    for (unsigned i = 0; i < 1u << LOG2; i++)
      r->desc[i] = (struct memif_desc){.offset = BUF_OFF + (dir * 256 + i) * BUF_SIZE, .length = BUF_SIZE};
  }
}

static void finish(struct fake *f) {
  conn_release(&f->c);
  close(f->sock);
  close(f->memfd);
  close(f->efd_s2m);
  close(f->efd_m2s);
  munmap(f->mem, REGION_SIZE);
}

/* The client sends one message (and its copy of fd, which it gives away); the server handles it. */
static enum conn_event send_msg(struct fake *f, const struct memif_msg *m, int fd) {
  CHECK(memif_send(f->sock, m, fd) == 0);
  if (fd >= 0) close(fd);
  return conn_on_readable(&f->c);
}

static struct memif_msg msg(uint16_t type) {
  struct memif_msg m;
  memset(&m, 0, sizeof(m));
  m.type = type;
  return m;
}

static enum conn_event send_init(struct fake *f, uint16_t version, uint8_t mode, const char *secret) {
  struct memif_msg m = msg(MEMIF_MSG_INIT);
  m.init.version = version;
  m.init.id = 7;
  m.init.mode = mode;
  strcpy((char *)m.init.name, "fake client");
  if (secret) memcpy(m.init.secret, secret, strnlen(secret, MEMIF_SECRET_SZ));
  return send_msg(f, &m, -1);
}

static enum conn_event send_region(struct fake *f, uint16_t index, uint64_t size, int fd) {
  struct memif_msg m = msg(MEMIF_MSG_ADD_REGION);
  m.add_region.index = index;
  m.add_region.size = size;
  return send_msg(f, &m, fd);
}

static enum conn_event send_ring(struct fake *f, int s2m, uint16_t index, uint16_t region, uint32_t offset,
                                 uint8_t log2, int efd) {
  struct memif_msg m = msg(MEMIF_MSG_ADD_RING);
  m.add_ring.flags = s2m ? MEMIF_ADD_RING_FLAG_S2M : 0;
  m.add_ring.index = index;
  m.add_ring.region = region;
  m.add_ring.offset = offset;
  m.add_ring.log2_ring_size = log2;
  return send_msg(f, &m, efd);
}

static enum conn_event send_connect(struct fake *f) {
  struct memif_msg m = msg(MEMIF_MSG_CONNECT);
  strcpy((char *)m.connect.if_name, "net_memif0");
  return send_msg(f, &m, -1);
}

static void expect(struct fake *f, uint16_t type) {
  struct memif_msg m;
  int fd, bad;
  CHECK(memif_recv(f->sock, &m, &fd, &bad) == MEMIF_MSG_SIZE);
  CHECK(fd < 0 && !bad);
  test_checks++;
  if (m.type != type) {
    test_failures++;
    fprintf(stderr, "expected message type %u, got %u (%.96s)\n", type, m.type,
            m.type == MEMIF_MSG_DISCONNECT ? (char *)m.disconnect.reason : "");
  }
}

/* The server must have refused with a DISCONNECT(code, reason containing `text`) and closed. */
static void expect_disconnect(struct fake *f, enum conn_event ev, uint32_t code, const char *text) {
  CHECK(ev == CONN_EV_CLOSED);
  CHECK(f->c.state == CONN_CLOSED);
  struct memif_msg m;
  int fd, bad;
  CHECK(memif_recv(f->sock, &m, &fd, &bad) == MEMIF_MSG_SIZE);
  CHECK(m.type == MEMIF_MSG_DISCONNECT);
  test_checks++;
  if (m.disconnect.code != code) {
    test_failures++;
    fprintf(stderr, "expected code %u, got %u (%.96s)\n", code, m.disconnect.code, (char *)m.disconnect.reason);
  }
  CHECK(m.disconnect.reason[MEMIF_REASON_SZ - 1] == 0);
  CHECK_STR_CONTAINS((char *)m.disconnect.reason, text);
}

/* INIT, region 0, both rings: ready for CONNECT. */
static void setup_until_connect(struct fake *f) {
  CHECK(send_init(f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(f, MEMIF_MSG_ACK);
  CHECK(send_region(f, 0, REGION_SIZE, dup(f->memfd)) == CONN_EV_NONE);
  expect(f, MEMIF_MSG_ACK);
  CHECK(send_ring(f, 1, 0, 0, S2M_OFF, LOG2, dup(f->efd_s2m)) == CONN_EV_NONE);
  expect(f, MEMIF_MSG_ACK);
  CHECK(send_ring(f, 0, 0, 0, M2S_OFF, LOG2, dup(f->efd_m2s)) == CONN_EV_NONE);
  expect(f, MEMIF_MSG_ACK);
}

static void good_client_moves_frames(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  start(&f, &cfg);
  setup_until_connect(&f);
  CHECK(send_connect(&f) == CONN_EV_CONNECTED);
  expect(&f, MEMIF_MSG_CONNECTED);
  CHECK(f.c.state == CONN_CONNECTED && f.c.ns2m == 1 && f.c.nm2s == 1);
  CHECK(!strcmp(f.c.peer_name, "fake client") && f.c.peer_id == 7);
  CHECK(f.c.s2m[0].efd >= 0 && (fcntl(f.c.s2m[0].efd, F_GETFL) & O_NONBLOCK));

  /* Client -> server: one frame of 100 bytes on S2M. */
  struct memif_ring *s2m = (struct memif_ring *)(f.mem + S2M_OFF);
  memset(f.mem + s2m->desc[0].offset, 0xab, 100);
  s2m->desc[0].length = 100;
  __atomic_store_n(&s2m->head, 1, __ATOMIC_RELEASE);
  struct memif_queue *q = &f.c.s2m[0];
  CHECK(s2m_pending(q) == 1);
  struct frame fr;
  char why[160];
  CHECK(s2m_frame(&f.c, q, 0, 1, &fr, why, sizeof(why)) == FRAME_OK);
  CHECK(fr.len == 100 && ((uint8_t *)fr.iov[0].iov_base)[99] == 0xab);
  s2m_release(q, fr.slots);
  CHECK(s2m->tail == 1);

  /* Server -> client: the client posts 4 buffers, we fill one and kick its eventfd. */
  struct memif_ring *m2s = (struct memif_ring *)(f.mem + M2S_OFF);
  __atomic_store_n(&m2s->head, 4, __ATOMIC_RELEASE);
  uint8_t data[60];
  memset(data, 0x5a, sizeof(data));
  q = &f.c.m2s[0];
  CHECK(m2s_free(q) == 4);
  CHECK(m2s_put(&f.c, q, 4, NULL, 0, data, sizeof(data), why, sizeof(why)) == FRAME_OK);
  CHECK(m2s_publish(q) == 1);
  uint64_t one = 1;
  CHECK(write(q->efd, &one, sizeof(one)) == sizeof(one));
  uint64_t v = 0;
  CHECK(read(f.efd_m2s, &v, sizeof(v)) == sizeof(v) && v == 1);
  CHECK(m2s->tail == 1 && m2s->desc[0].length == 60 && f.mem[m2s->desc[0].offset + 59] == 0x5a);

  /* A hostile descriptor after CONNECT is caught against the mapped region. */
  s2m->desc[1] = (struct memif_desc){.region = 0, .offset = REGION_SIZE - 4, .length = 64};
  __atomic_store_n(&s2m->head, 2, __ATOMIC_RELEASE);
  CHECK(s2m_frame(&f.c, &f.c.s2m[0], 0, 1, &fr, why, sizeof(why)) == FRAME_BAD);

  /* Stray ACKs are harmless; anything else after CONNECTED is not. */
  struct memif_msg ack = msg(MEMIF_MSG_ACK);
  CHECK(send_msg(&f, &ack, -1) == CONN_EV_NONE);
  struct memif_msg bye = msg(MEMIF_MSG_DISCONNECT);
  strcpy((char *)bye.disconnect.reason, "bye");
  CHECK(send_msg(&f, &bye, -1) == CONN_EV_CLOSED);
  CHECK_STR_CONTAINS(f.c.disc_reason, "client disconnected: bye");
  finish(&f);
  no_leak(fds, __LINE__);
}

static void wrong_version(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  start(&f, &cfg);
  expect_disconnect(&f, send_init(&f, 0x0100, MEMIF_MODE_ETHERNET, NULL), DISC_VERSION, "0x0100 not supported");
  finish(&f);
  no_leak(fds, __LINE__);
}

static void bad_mode(void) {
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  start(&f, &cfg);
  expect_disconnect(&f, send_init(&f, MEMIF_VERSION, MEMIF_MODE_IP, NULL), DISC_MODE,
                    "mode ip (1) requested, this interface is ethernet");
  finish(&f);
  cfg.mode = MEMIF_MODE_IP;
  start(&f, &cfg);
  expect_disconnect(&f, send_init(&f, MEMIF_VERSION, 9, NULL), DISC_MODE, "mode unknown (9)");
  finish(&f);
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_IP, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  finish(&f);
}

static void secrets(void) {
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  strcpy(cfg.secret, "s3cret");
  const struct {
    const char *given;
    const char *reason;
  } cases[] = {{NULL, "secret required"}, {"s3cre", "incorrect secret"}, {"s3cretX", "incorrect secret"}, {"S3CRET", "incorrect secret"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    start(&f, &cfg);
    expect_disconnect(&f, send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, cases[i].given), DISC_SECRET,
                      cases[i].reason);
    finish(&f);
  }
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, "s3cret") == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  finish(&f);
  /* A full 24-byte secret (no NUL on the wire). */
  strcpy(cfg.secret, "123456789012345678901234");
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, "123456789012345678901234") == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  finish(&f);
  /* No secret configured: whatever the client sends is accepted (as DPDK and libmemif do). */
  cfg = cfg_eth();
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, "anything") == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  finish(&f);
}

static void bad_name(void) {
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  start(&f, &cfg);
  struct memif_msg m = msg(MEMIF_MSG_INIT);
  m.init.version = MEMIF_VERSION;
  m.init.name[0] = 'x';
  m.init.name[1] = 0x07;
  expect_disconnect(&f, send_msg(&f, &m, -1), DISC_PROTOCOL, "not printable");
  finish(&f);
}

static void before_init(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  start(&f, &cfg);
  /* The fd that came with the message must be closed, not kept. */
  expect_disconnect(&f, send_region(&f, 0, REGION_SIZE, dup(f.memfd)), DISC_PROTOCOL,
                    "unexpected ADD_REGION (type 4) before INIT");
  finish(&f);
  start(&f, &cfg);
  expect_disconnect(&f, send_connect(&f), DISC_PROTOCOL, "unexpected CONNECT");
  finish(&f);
  no_leak(fds, __LINE__);
}

static void regions(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  int pipefd[2];
  if (pipe(pipefd) < 0) abort();
  close(pipefd[1]);
  struct {
    uint16_t index;
    uint64_t size;
    int fd;
    const char *reason;
  } cases[] = {
      {0, REGION_SIZE, -1, "without a file descriptor"},
      {0, REGION_SIZE * 2ull, -2, "file has 1048576 bytes, 2097152 declared"}, /* region too small */
      {0, 0, -2, "size 0 out of range"},
      {0, (1ull << 30) + 1, -2, "out of range"},
      {1, REGION_SIZE, -2, "region index 1 (expected 0"},
      {0, 4096, -3, "sealed against shrinking"}, /* memfd without MFD_ALLOW_SEALING */
      {0, 4096, pipefd[0], "not a memory file"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    start(&f, &cfg);
    CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
    expect(&f, MEMIF_MSG_ACK);
    int fd = cases[i].fd == -2 ? dup(f.memfd) : cases[i].fd == -3 ? make_memfd(0, 4096, 0) : cases[i].fd;
    if (fd == pipefd[0]) fd = dup(fd);
    expect_disconnect(&f, send_region(&f, cases[i].index, cases[i].size, fd), DISC_REGION, cases[i].reason);
    finish(&f);
  }
  close(pipefd[0]);
  /* Sealable but unsealed: the server seals it, so the client can no longer shrink it under us. */
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  int unsealed = make_memfd(MFD_ALLOW_SEALING, 8192, 0);
  CHECK(send_region(&f, 0, 8192, dup(unsealed)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(fcntl(unsealed, F_GET_SEALS) & F_SEAL_SHRINK);
  CHECK(ftruncate(unsealed, 100) < 0);
  close(unsealed);
  /* Regions must come in order, up to MEMIFD_MAX_REGIONS. */
  for (unsigned i = 1; i < MEMIFD_MAX_REGIONS; i++) {
    CHECK(send_region(&f, (uint16_t)i, 4096, dup(f.memfd)) == CONN_EV_NONE);
    expect(&f, MEMIF_MSG_ACK);
  }
  expect_disconnect(&f, send_region(&f, MEMIFD_MAX_REGIONS, 4096, dup(f.memfd)), DISC_REGION, "at most 4 regions");
  finish(&f);
  no_leak(fds, __LINE__);
}

static void rings(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  int pipefd[2];
  if (pipe(pipefd) < 0) abort();
  close(pipefd[1]);
  struct {
    int s2m;
    uint16_t index, region;
    uint32_t offset;
    uint8_t log2;
    int efd;
    const char *reason;
  } cases[] = {
      {1, 0, 0, REGION_SIZE - 1024, 8, -2, "outside region 0"},   /* ring outside the region */
      {1, 0, 0, 0xfffffff8u, 8, -2, "outside region 0"},           /* offset overflow bait */
      {1, 0, 0, 0, 200, -2, "ring size 2^200 above the 2^10 offered"}, /* absurd size */
      {0, 0, 0, 0, 11, -2, "above the 2^10 offered"},
      {1, 2, 0, 0, 8, -2, "S2M ring index 2 beyond 1"},
      {0, 65535, 0, 0, 8, -2, "M2S ring index 65535 beyond 1"},
      {1, 0, 1, 0, 8, -2, "ring in region 1, only 1 added"},
      {1, 0, 0, 4, 8, -2, "not 8-byte aligned"},
      {1, 0, 0, 0, 8, -1, "without an eventfd"},
      {1, 0, 0, 0, 8, pipefd[0], "not an eventfd"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    start(&f, &cfg);
    CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
    expect(&f, MEMIF_MSG_ACK);
    CHECK(send_region(&f, 0, REGION_SIZE, dup(f.memfd)) == CONN_EV_NONE);
    expect(&f, MEMIF_MSG_ACK);
    int efd = cases[i].efd == -2 ? dup(f.efd_s2m) : cases[i].efd >= 0 ? dup(cases[i].efd) : -1;
    expect_disconnect(&f,
                      send_ring(&f, cases[i].s2m, cases[i].index, cases[i].region, cases[i].offset, cases[i].log2, efd),
                      DISC_RING, cases[i].reason);
    finish(&f);
  }
  close(pipefd[0]);
  /* The same ring twice. */
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_region(&f, 0, REGION_SIZE, dup(f.memfd)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_ring(&f, 1, 0, 0, S2M_OFF, LOG2, dup(f.efd_s2m)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  expect_disconnect(&f, send_ring(&f, 1, 0, 0, S2M_OFF, LOG2, dup(f.efd_s2m)), DISC_RING, "S2M ring 0 added twice");
  finish(&f);
  /* A ring that ends exactly at the region's end is fine. */
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_region(&f, 0, REGION_SIZE, dup(f.memfd)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_ring(&f, 0, 0, 0, (uint32_t)(REGION_SIZE - memif_ring_bytes(LOG2)), LOG2, dup(f.efd_m2s)) ==
        CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  finish(&f);
  no_leak(fds, __LINE__);
}

static void connects(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  /* No region at all. */
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  expect_disconnect(&f, send_connect(&f), DISC_REGION, "CONNECT without a region");
  finish(&f);
  /* No M2S ring. */
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_region(&f, 0, REGION_SIZE, dup(f.memfd)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_ring(&f, 1, 0, 0, S2M_OFF, LOG2, dup(f.efd_s2m)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  expect_disconnect(&f, send_connect(&f), DISC_RING, "have S2M 1, M2S 0");
  finish(&f);
  /* M2S ring 1 without ring 0. */
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_region(&f, 0, REGION_SIZE, dup(f.memfd)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_ring(&f, 1, 0, 0, S2M_OFF, LOG2, dup(f.efd_s2m)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_ring(&f, 0, 1, 0, M2S_OFF, LOG2, dup(f.efd_m2s)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  expect_disconnect(&f, send_connect(&f), DISC_RING, "rings 0..n-1");
  finish(&f);
  /* Wrong cookie. */
  start(&f, &cfg);
  setup_until_connect(&f);
  ((struct memif_ring *)(f.mem + M2S_OFF))->cookie = 0xdeadbeef;
  expect_disconnect(&f, send_connect(&f), DISC_RING, "M2S ring 0: cookie 0xdeadbeef, expected 0x03e31f20");
  finish(&f);
  no_leak(fds, __LINE__);
}

static void malformed(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  /* Short message. */
  start(&f, &cfg);
  uint8_t raw[200] = {MEMIF_MSG_INIT, 0};
  CHECK(send(f.sock, raw, 64, 0) == 64);
  expect_disconnect(&f, conn_on_readable(&f.c), DISC_PROTOCOL, "message of 64 bytes (expected 128)");
  finish(&f);
  /* Long message (truncated on receive). */
  start(&f, &cfg);
  CHECK(send(f.sock, raw, sizeof(raw), 0) == sizeof(raw));
  expect_disconnect(&f, conn_on_readable(&f.c), DISC_PROTOCOL, "truncated");
  finish(&f);
  /* Two fds in one message: both closed. */
  start(&f, &cfg);
  {
    struct memif_msg m = msg(MEMIF_MSG_INIT);
    struct iovec iov = {&m, sizeof(m)};
    union {
      char buf[CMSG_SPACE(2 * sizeof(int))];
      struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf, .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(2 * sizeof(int));
    int two[2] = {f.memfd, f.efd_s2m};
    memcpy(CMSG_DATA(cm), two, sizeof(two));
    CHECK(sendmsg(f.sock, &mh, 0) == sizeof(m));
  }
  expect_disconnect(&f, conn_on_readable(&f.c), DISC_PROTOCOL, "more than one file descriptor");
  finish(&f);
  /* Unknown type, INIT twice, HELLO from a client, setup after CONNECTED. */
  start(&f, &cfg);
  struct memif_msg odd = msg(99);
  expect_disconnect(&f, send_msg(&f, &odd, -1), DISC_PROTOCOL, "unexpected unknown (type 99) before INIT");
  finish(&f);
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  expect_disconnect(&f, send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL), DISC_PROTOCOL,
                    "unexpected INIT (type 3) during setup");
  finish(&f);
  start(&f, &cfg);
  struct memif_msg hello = msg(MEMIF_MSG_HELLO);
  expect_disconnect(&f, send_msg(&f, &hello, -1), DISC_PROTOCOL, "unexpected HELLO");
  finish(&f);
  start(&f, &cfg);
  setup_until_connect(&f);
  CHECK(send_connect(&f) == CONN_EV_CONNECTED);
  expect(&f, MEMIF_MSG_CONNECTED);
  expect_disconnect(&f, send_region(&f, 1, 4096, dup(f.memfd)), DISC_PROTOCOL, "after CONNECTED");
  finish(&f);
  no_leak(fds, __LINE__);
}

static void dies_mid_handshake(void) {
  int fds = open_fds();
  struct fake f;
  struct memif_cfg cfg = cfg_eth();
  start(&f, &cfg);
  CHECK(send_init(&f, MEMIF_VERSION, MEMIF_MODE_ETHERNET, NULL) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_region(&f, 0, REGION_SIZE, dup(f.memfd)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  CHECK(send_ring(&f, 1, 0, 0, S2M_OFF, LOG2, dup(f.efd_s2m)) == CONN_EV_NONE);
  expect(&f, MEMIF_MSG_ACK);
  close(f.sock);
  f.sock = -1;
  CHECK(conn_on_readable(&f.c) == CONN_EV_CLOSED);
  CHECK_STR_CONTAINS(f.c.disc_reason, "client closed the connection");
  /* Our DISCONNECT to a vanished peer must not crash or block. */
  conn_disconnect(&f.c, DISC_SHUTDOWN, "late");
  finish(&f); /* releases the region fd and the eventfd it had received */
  no_leak(fds, __LINE__);
  /* Nothing received yet: EAGAIN is not an event. */
  start(&f, &cfg);
  CHECK(conn_on_readable(&f.c) == CONN_EV_NONE);
  finish(&f);
}

int main(void) {
  RUN(good_client_moves_frames);
  RUN(wrong_version);
  RUN(bad_mode);
  RUN(secrets);
  RUN(bad_name);
  RUN(before_init);
  RUN(regions);
  RUN(rings);
  RUN(connects);
  RUN(malformed);
  RUN(dies_mid_handshake);
  return test_summary("test_conn");
}

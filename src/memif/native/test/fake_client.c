/* A scriptable memif client for the end-to-end tests: connects to the abstract socket @<name>
 * in the current netns and plays one scenario. Hostile ones (garbage, short, badmode, stall,
 * outside, die) print what the server answered: "DISCONNECT <code> <reason>", "CLOSED" (socket
 * closed without a message) or "TIMEOUT"; "first" prints the first message. "ipecho" is a good
 * IP-mode client that answers ICMP echo requests (bare IPv4 packets) until disconnected, then
 * prints "ECHOED <n>" and the DISCONNECT (IPv4 and IPv6 echo). "badm2s" (ethernet) posts an M2S
 * buffer outside its memory, prints "CONNECTED", then waits for what the server says.
 *   usage: fake_client <name> garbage|short|badmode|stall|first|outside|die|ipecho|badm2s */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../memif_conn.h"

static int sock;
static unsigned echoed;

/* Waits up to ms for the next message; prints and exits on DISCONNECT/close/timeout. */
static struct memif_msg next(int ms, int final) {
  struct memif_msg m;
  struct pollfd p = {.fd = sock, .events = POLLIN};
  if (poll(&p, 1, ms) <= 0) {
    printf("TIMEOUT\n");
    exit(0);
  }
  int fd, bad;
  long n = memif_recv(sock, &m, &fd, &bad);
  if (n <= 0) {
    printf("CLOSED\n");
    exit(0);
  }
  if (m.type == MEMIF_MSG_DISCONNECT || final) {
    if (echoed) printf("ECHOED %u\n", echoed);
    if (m.type == MEMIF_MSG_DISCONNECT)
      printf("DISCONNECT %u %.96s\n", m.disconnect.code, (char *)m.disconnect.reason);
    else
      printf("MESSAGE %u\n", m.type);
    exit(0);
  }
  return m;
}

static void expect(uint16_t type) {
  struct memif_msg m = next(3000, 0);
  if (m.type != type) {
    printf("UNEXPECTED %u\n", m.type);
    exit(0);
  }
}

static void send_or_die(const struct memif_msg *m, int fd) {
  if (memif_send(sock, m, fd) < 0) {
    printf("SEND FAILED %s\n", strerror(errno));
    exit(0);
  }
}

#define BUF_OFF 65536
#define BUF_SIZE 2048
#define SLOTS 256

static uint16_t csum(const uint8_t *p, size_t len) {
  uint32_t s = 0;
  for (size_t i = 0; i + 1 < len; i += 2) s += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) s += (uint32_t)(p[len - 1] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

/* Answers ICMP/ICMPv6 echo requests arriving on M2S with replies on S2M, until the server disconnects. */
static void ipecho(uint8_t *mem, struct memif_ring *s2m, struct memif_ring *m2s, const int efd[2]) {
  for (unsigned i = 0; i < SLOTS; i++) {
    s2m->desc[i] = (struct memif_desc){.offset = BUF_OFF + i * BUF_SIZE, .length = BUF_SIZE};
    m2s->desc[i] = (struct memif_desc){.offset = BUF_OFF + (SLOTS + i) * BUF_SIZE, .length = BUF_SIZE};
  }
  __atomic_store_n(&m2s->head, SLOTS, __ATOMIC_RELEASE); /* post every M2S buffer */
  uint16_t m2s_last = 0, s2m_head = 0;
  for (;;) {
    struct pollfd p[2] = {{.fd = sock, .events = POLLIN}, {.fd = efd[1], .events = POLLIN}};
    if (poll(p, 2, 20000) <= 0) {
      printf("TIMEOUT\n");
      exit(0);
    }
    if (p[0].revents) next(0, 1);
    uint64_t v;
    if (read(efd[1], &v, sizeof(v)) < 0) { /* spurious wake */
    }
    uint16_t tail = __atomic_load_n(&m2s->tail, __ATOMIC_ACQUIRE);
    for (; m2s_last != tail; m2s_last++) {
      struct memif_desc *d = &m2s->desc[m2s_last % SLOTS];
      uint8_t *pkt = mem + d->offset;
      size_t len = d->length, ihl = (size_t)(pkt[0] & 15) * 4;
      d->length = BUF_SIZE; /* re-posted below */
      int v4 = len >= ihl + 8 && pkt[0] >> 4 == 4 && pkt[9] == 1 && pkt[ihl] == 8;
      int v6 = len >= 48 && pkt[0] >> 4 == 6 && pkt[6] == 58 && pkt[40] == 128;
      if (len > BUF_SIZE || !(v4 || v6)) continue; /* not an echo request */
      if ((uint16_t)(s2m_head - __atomic_load_n(&s2m->tail, __ATOMIC_ACQUIRE)) >= SLOTS) continue; /* full */
      struct memif_desc *r = &s2m->desc[s2m_head % SLOTS];
      uint8_t *out = mem + r->offset;
      memcpy(out, pkt, len);
      if (v4) {
        memcpy(out + 12, pkt + 16, 4); /* swap addresses */
        memcpy(out + 16, pkt + 12, 4);
        out[ihl] = 0; /* echo reply */
        out[ihl + 2] = out[ihl + 3] = 0;
        uint16_t c = csum(out + ihl, len - ihl);
        out[ihl + 2] = (uint8_t)(c >> 8);
        out[ihl + 3] = (uint8_t)c;
      } else {
        memcpy(out + 8, pkt + 24, 16);
        memcpy(out + 24, pkt + 8, 16);
        out[40] = 129; /* echo reply; the checksum covers a pseudo-header */
        out[42] = out[43] = 0;
        uint8_t *buf = malloc(len - 40 + 40);
        memcpy(buf, out + 8, 32); /* src, dst */
        uint32_t plen = (uint32_t)(len - 40);
        uint8_t tail[8] = {(uint8_t)(plen >> 24), (uint8_t)(plen >> 16), (uint8_t)(plen >> 8), (uint8_t)plen, 0, 0, 0, 58};
        memcpy(buf + 32, tail, 8);
        memcpy(buf + 40, out + 40, plen);
        uint16_t c = csum(buf, 40 + plen);
        free(buf);
        out[42] = (uint8_t)(c >> 8);
        out[43] = (uint8_t)c;
      }
      r->length = (uint32_t)len;
      r->flags = 0;
      s2m_head++;
      echoed++;
    }
    __atomic_store_n(&s2m->head, s2m_head, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write(efd[0], &one, sizeof(one)) < 0) exit(1);
    __atomic_store_n(&m2s->head, (uint16_t)(m2s_last + SLOTS), __ATOMIC_RELEASE); /* re-post */
  }
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: fake_client <name> <scenario>\n");
    return 2;
  }
  const char *scenario = argv[2];
  sock = socket(AF_UNIX, SOCK_SEQPACKET, 0);
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  size_t n = strlen(argv[1]);
  memcpy(sa.sun_path + 1, argv[1], n);
  if (connect(sock, (struct sockaddr *)&sa, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n)) < 0) {
    printf("CONNECT FAILED %s\n", strerror(errno));
    return 0;
  }
  if (!strcmp(scenario, "first")) next(3000, 1); /* whatever comes first (HELLO or a refusal) */
  expect(MEMIF_MSG_HELLO);
  if (!strcmp(scenario, "stall")) next(10000, 1);
  struct memif_msg m;
  memset(&m, 0, sizeof(m));
  if (!strcmp(scenario, "garbage")) {
    memset(&m, 0x5c, sizeof(m));
    send_or_die(&m, -1);
    next(3000, 1);
  }
  if (!strcmp(scenario, "short")) {
    if (send(sock, "memif?", 6, 0) < 0) return 1;
    next(3000, 1);
  }
  m.type = MEMIF_MSG_INIT;
  m.init.version = MEMIF_VERSION;
  int ip = !strcmp(scenario, "badmode") || !strcmp(scenario, "ipecho");
  m.init.mode = ip ? MEMIF_MODE_IP : MEMIF_MODE_ETHERNET;
  strcpy((char *)m.init.name, "hostile");
  send_or_die(&m, -1);
  if (!strcmp(scenario, "badmode")) next(3000, 1);
  expect(MEMIF_MSG_ACK);
  /* One region: S2M ring at 0, M2S ring at 8192, buffers from 65536. */
  size_t size = 1 << 20;
  int memfd = memfd_create("hostile", MFD_ALLOW_SEALING);
  if (memfd < 0 || ftruncate(memfd, (off_t)size) < 0 || fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) return 1;
  uint8_t *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
  struct memif_ring *s2m = (struct memif_ring *)mem, *m2s = (struct memif_ring *)(mem + 8192);
  s2m->cookie = m2s->cookie = MEMIF_COOKIE;
  memset(&m, 0, sizeof(m));
  m.type = MEMIF_MSG_ADD_REGION;
  m.add_region.size = size;
  send_or_die(&m, memfd);
  if (!strcmp(scenario, "die")) _exit(0); /* vanish mid-handshake */
  expect(MEMIF_MSG_ACK);
  int efd[2] = {eventfd(0, EFD_NONBLOCK), eventfd(0, EFD_NONBLOCK)};
  for (int dir = 0; dir < 2; dir++) {
    memset(&m, 0, sizeof(m));
    m.type = MEMIF_MSG_ADD_RING;
    m.add_ring.flags = dir == 0 ? MEMIF_ADD_RING_FLAG_S2M : 0;
    m.add_ring.offset = dir == 0 ? 0 : 8192;
    m.add_ring.log2_ring_size = 8;
    send_or_die(&m, efd[dir]);
    expect(MEMIF_MSG_ACK);
  }
  memset(&m, 0, sizeof(m));
  m.type = MEMIF_MSG_CONNECT;
  strcpy((char *)m.connect.if_name, "hostile0");
  send_or_die(&m, -1);
  expect(MEMIF_MSG_CONNECTED);
  if (!strcmp(scenario, "outside")) {
    /* A frame whose descriptor points past the end of the only region. */
    s2m->desc[0] = (struct memif_desc){.region = 0, .offset = (uint32_t)size - 16, .length = 1500};
    __atomic_store_n(&s2m->head, 1, __ATOMIC_RELEASE);
    uint64_t one = 1;
    if (write(efd[0], &one, sizeof(one)) < 0) return 1;
    next(3000, 1);
  }
  if (!strcmp(scenario, "ipecho")) ipecho(mem, s2m, m2s, efd);
  if (!strcmp(scenario, "badm2s")) {
    m2s->desc[0] = (struct memif_desc){.region = 0, .offset = (uint32_t)size - 16, .length = 2048};
    __atomic_store_n(&m2s->head, 1, __ATOMIC_RELEASE);
    printf("CONNECTED\n");
    fflush(stdout);
    next(30000, 1);
  }
  printf("CONNECTED\n");
  return 0;
}

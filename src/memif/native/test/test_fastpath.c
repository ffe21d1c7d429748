/* The fast path (memif-to-memif switching without the kernel): the (rns, address) table, every
 * case of the decision, the TTL / hop limit and checksum rewrite, and delivery into fake M2S rings
 * (batching, kicks, chains, ring full, a broken destination). */
#include <stdint.h>
#include <stdlib.h>

#include "../ether.h"
#include "../fastpath.h"
#include "test.h"

#define REGION_SIZE (1u << 20)
#define BUF_OFF 65536
#define BUF_SIZE 2048
#define LOG2 4

static const uint8_t TAPMAC_A[6] = {0xee, 0, 0, 0, 0, 0xa}, TAPMAC_B[6] = {0xee, 0, 0, 0, 0, 0xb},
                     TAPMAC_C[6] = {0xee, 0, 0, 0, 0, 0xc};
static const uint8_t PEERMAC_A[6] = {0x0a, 0x58, 0, 0, 0, 0xa}, PEERMAC_B[6] = {0x0a, 0x58, 0, 0, 0, 0xb},
                     PEERMAC_C[6] = {0x0a, 0x58, 0, 0, 0, 0xc};
static const uint8_t V4_A[4] = {10, 1, 0, 2}, V4_B[4] = {10, 1, 0, 3}, V4_C[4] = {10, 1, 0, 4};
static const uint8_t V6_A[16] = {0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
static const uint8_t V6_B[16] = {0xfd, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3};

/* A destination: a connected client with an M2S ring 0 in a fake mapped region. */
struct peer {
  struct memif_conn c;
  uint8_t *mem;
};

static struct ip_addr v4(const uint8_t a[4]) {
  struct ip_addr r = {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff}};
  memcpy(r.b + 12, a, 4);
  return r;
}

static struct ip_addr v6(const uint8_t a[16]) {
  struct ip_addr r;
  memcpy(r.b, a, 16);
  return r;
}

static void port_init(struct fp_port *p, uint32_t rns, const uint8_t tapmac[6], const uint8_t peermac[6]) {
  memset(p, 0, sizeof(*p));
  p->rns = rns;
  p->fast = 1;
  memcpy(p->tapmac, tapmac, 6);
  memcpy(p->peermac, peermac, 6);
}

static void peer_init(struct peer *pe, struct fp_port *p) {
  memset(&pe->c, 0, sizeof(pe->c));
  pe->mem = aligned_alloc(4096, REGION_SIZE);
  memset(pe->mem, 0, REGION_SIZE);
  pe->c.state = CONN_CONNECTED;
  pe->c.nregions = 1;
  pe->c.region[0] = (struct memif_region){.fd = -1, .size = REGION_SIZE, .addr = pe->mem};
  pe->c.nm2s = 1;
  struct memif_queue *q = &pe->c.m2s[0];
  *q = (struct memif_queue){.present = 1, .log2 = LOG2, .size = 1 << LOG2, .efd = 100 + (int)p->rns};
  q->ring = (struct memif_ring *)pe->mem;
  q->ring->cookie = MEMIF_COOKIE;
  for (unsigned i = 0; i < q->size; i++)
    q->ring->desc[i] = (struct memif_desc){.offset = BUF_OFF + i * BUF_SIZE, .length = BUF_SIZE};
  p->conn = &pe->c;
}

static void peer_free(struct peer *pe) { free(pe->mem); }

/* The client posts n empty buffers. */
static void post(struct peer *pe, unsigned n) {
  struct memif_ring *r = pe->c.m2s[0].ring;
  uint16_t h = r->head;
  for (unsigned i = 0; i < n; i++, h++) {
    struct memif_desc *d = &r->desc[h & ((1 << LOG2) - 1)];
    d->length = BUF_SIZE;
    d->flags = 0;
  }
  __atomic_store_n(&r->head, h, __ATOMIC_RELEASE);
}

static void eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type) {
  memcpy(f, dst, 6);
  memcpy(f + 6, src, 6);
  f[12] = (uint8_t)(type >> 8);
  f[13] = (uint8_t)type;
}

/* An IPv4/UDP frame of `len` bytes (>= 42) with a valid header checksum. */
static size_t ipv4(uint8_t *f, size_t len, const uint8_t dmac[6], const uint8_t s[4], const uint8_t d[4], uint8_t ttl) {
  memset(f, 0, len);
  eth(f, dmac, PEERMAC_A, ETHERTYPE_IPV4);
  uint8_t *ip = f + ETH_HDR_LEN;
  ip[0] = 0x45;
  ip[2] = (uint8_t)((len - ETH_HDR_LEN) >> 8);
  ip[3] = (uint8_t)(len - ETH_HDR_LEN);
  ip[4] = 0x12, ip[5] = 0x34; /* id */
  ip[6] = 0x40;               /* DF */
  ip[8] = ttl;
  ip[9] = 17;
  memcpy(ip + 12, s, 4);
  memcpy(ip + 16, d, 4);
  uint16_t c = ip_checksum(ip, 20);
  ip[10] = (uint8_t)(c >> 8);
  ip[11] = (uint8_t)c;
  for (size_t i = ETH_HDR_LEN + 20; i < len; i++) f[i] = (uint8_t)(i * 7);
  return len;
}

static size_t ipv6(uint8_t *f, size_t len, const uint8_t dmac[6], const uint8_t s[16], const uint8_t d[16], uint8_t hops) {
  memset(f, 0, len);
  eth(f, dmac, PEERMAC_A, ETHERTYPE_IPV6);
  uint8_t *ip = f + ETH_HDR_LEN;
  ip[0] = 0x60;
  ip[4] = (uint8_t)((len - ETH_HDR_LEN - 40) >> 8);
  ip[5] = (uint8_t)(len - ETH_HDR_LEN - 40);
  ip[6] = 17;
  ip[7] = hops;
  memcpy(ip + 8, s, 16);
  memcpy(ip + 24, d, 16);
  for (size_t i = ETH_HDR_LEN + 40; i < len; i++) f[i] = (uint8_t)(i * 5);
  return len;
}

/* The world of most cases: A and B fast in domain 1 (B connected), C fast in domain 2 (connected)
 * with an address that also exists as "B's" in domain 1's numbering. */
static struct fp_port A, B, C;
static struct peer PB, PC;
static struct fp_table T;

static void world(void) {
  port_init(&A, 1, TAPMAC_A, PEERMAC_A);
  A.ips[A.nips++] = v4(V4_A);
  A.ips[A.nips++] = v6(V6_A);
  port_init(&B, 1, TAPMAC_B, PEERMAC_B);
  B.ips[B.nips++] = v4(V4_B);
  B.ips[B.nips++] = v6(V6_B);
  port_init(&C, 2, TAPMAC_C, PEERMAC_C);
  C.ips[C.nips++] = v4(V4_C);
  peer_init(&PB, &B);
  peer_init(&PC, &C);
  struct fp_port *all[] = {&A, &B, &C};
  CHECK(fp_table_build(&T, all, 3) == 0);
}

static void world_free(void) {
  fp_table_free(&T);
  peer_free(&PB);
  peer_free(&PC);
}

/* The decision on a frame (a copy: fp_decide rewrites its head). */
static struct fp_port *decide(const struct fp_port *src, uint8_t *f, size_t len) {
  return fp_decide(&T, src, f, len < FP_HDR_MAX ? len : FP_HDR_MAX, len);
}

static void table(void) {
  world();
  struct ip_addr a = v4(V4_B), c = v4(V4_C), six = v6(V6_B);
  CHECK(fp_lookup(&T, 1, a.b) == &B);
  CHECK(fp_lookup(&T, 1, six.b) == &B);
  CHECK(fp_lookup(&T, 2, c.b) == &C);
  CHECK(fp_lookup(&T, 2, a.b) == NULL); /* other domain */
  CHECK(fp_lookup(&T, 1, c.b) == NULL);
  CHECK(fp_lookup(&T, 3, a.b) == NULL);
  fp_table_free(&T);
  /* fast=0 ports are not in it; an empty table finds nothing. */
  B.fast = 0;
  C.fast = 0;
  A.fast = 0;
  struct fp_port *all[] = {&A, &B, &C};
  CHECK(fp_table_build(&T, all, 3) == 0 && T.slot == NULL);
  CHECK(fp_lookup(&T, 1, a.b) == NULL);
  /* Two ports of one domain claiming one address: nobody gets it; in two domains: both do. */
  A.fast = B.fast = C.fast = 1;
  C.rns = 1;
  C.ips[0] = v4(V4_B);
  CHECK(fp_table_build(&T, all, 3) == 0);
  CHECK(fp_lookup(&T, 1, a.b) == NULL);
  CHECK(fp_lookup(&T, 1, six.b) == &B);
  fp_table_free(&T);
  C.rns = 2;
  CHECK(fp_table_build(&T, all, 3) == 0);
  CHECK(fp_lookup(&T, 1, a.b) == &B && fp_lookup(&T, 2, a.b) == &C);
  fp_table_free(&T);
  /* Many ports, many domains: every address is found (probing across collisions). */
  enum { N = 2000 };
  struct fp_port *many = calloc(N, sizeof(*many));
  struct fp_port **ptr = calloc(N, sizeof(*ptr));
  for (int i = 0; i < N; i++) {
    port_init(&many[i], (uint32_t)(i % 7), TAPMAC_A, PEERMAC_A);
    uint8_t ip[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
    many[i].ips[many[i].nips++] = v4(ip);
    ptr[i] = &many[i];
  }
  CHECK(fp_table_build(&T, ptr, N) == 0);
  int found = 0;
  for (int i = 0; i < N; i++) {
    uint8_t ip[4] = {10, (uint8_t)(i >> 8), (uint8_t)i, 1};
    struct ip_addr k = v4(ip);
    found += fp_lookup(&T, (uint32_t)(i % 7), k.b) == &many[i];
    found -= fp_lookup(&T, (uint32_t)((i + 1) % 7), k.b) != NULL;
  }
  CHECK(found == N);
  fp_table_free(&T);
  free(many);
  free(ptr);
  peer_free(&PB);
  peer_free(&PC);
}

static void decide_ipv4(void) {
  world();
  uint8_t f[128], orig[128];
  size_t n = ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  memcpy(orig, f, n);
  CHECK(decide(&A, f, n) == &B);
  CHECK(!memcmp(f, PEERMAC_B, 6) && !memcmp(f + 6, TAPMAC_B, 6));
  CHECK(f[12] == 0x08 && f[13] == 0x00);
  CHECK(f[ETH_HDR_LEN + 8] == 63);
  CHECK(ip_checksum(f + ETH_HDR_LEN, 20) == 0);
  CHECK(!memcmp(f + ETH_HDR_LEN + 12, orig + ETH_HDR_LEN + 12, n - ETH_HDR_LEN - 12)); /* addresses, payload */
  CHECK(!memcmp(f + ETH_HDR_LEN, orig + ETH_HDR_LEN, 8));
  /* The smallest IPv4 frame (header only) still goes. */
  n = ipv4(f, 34, TAPMAC_A, V4_A, V4_B, 64);
  CHECK(decide(&A, f, n) == &B);
  world_free();
}

/* Everything that must go to the kernel. */
static void decide_kernel(void) {
  world();
  uint8_t f[128];
  static const uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  static const uint8_t spoof[4] = {10, 1, 0, 99}, unknown[4] = {10, 1, 0, 98}, v6x[16] = {0xfd, 0, 0, 1, [15] = 9};
  /* Wrong destination MAC: broadcast, B's TAP, B's own pod MAC (bridging is not routing). */
  const uint8_t *macs[] = {bcast, TAPMAC_B, PEERMAC_B};
  for (int i = 0; i < 3; i++) {
    ipv4(f, 64, macs[i], V4_A, V4_B, 64);
    CHECK(decide(&A, f, 64) == NULL);
  }
  /* Spoofed source (B's address, an unknown one), unknown destination, our own address. */
  ipv4(f, 64, TAPMAC_A, spoof, V4_B, 64);
  CHECK(decide(&A, f, 64) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_B, V4_B, 64);
  CHECK(decide(&A, f, 64) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_A, unknown, 64);
  CHECK(decide(&A, f, 64) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_A, 64);
  CHECK(decide(&A, f, 64) == NULL);
  /* A destination in another routing domain. */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_C, 64);
  CHECK(decide(&A, f, 64) == NULL);
  /* fast=0 on the source; on the destination (after the table was built, and in a rebuilt one). */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  A.fast = 0;
  CHECK(decide(&A, f, 64) == NULL);
  A.fast = 1;
  B.fast = 0;
  CHECK(decide(&A, f, 64) == NULL);
  fp_table_free(&T);
  struct fp_port *all[] = {&A, &B, &C};
  CHECK(fp_table_build(&T, all, 3) == 0);
  B.fast = 1; /* the table says otherwise until rebuilt */
  CHECK(decide(&A, f, 64) == NULL);
  fp_table_free(&T);
  CHECK(fp_table_build(&T, all, 3) == 0);
  CHECK(decide(&A, f, 64) == &B);
  /* The destination has no client. */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  B.conn = NULL;
  CHECK(decide(&A, f, 64) == NULL);
  B.conn = &PB.c;
  /* TTL 1 and 0: the kernel answers (time exceeded) or drops; TTL 2 goes out with 1. */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 1);
  CHECK(decide(&A, f, 64) == NULL && f[ETH_HDR_LEN + 8] == 1);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 0);
  CHECK(decide(&A, f, 64) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 2);
  CHECK(decide(&A, f, 64) == &B && f[ETH_HDR_LEN + 8] == 1 && ip_checksum(f + ETH_HDR_LEN, 20) == 0);
  /* Malformed or special IPv4: options, bad checksum, lengths, other version, truncated. */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  f[ETH_HDR_LEN] = 0x46;
  CHECK(decide(&A, f, 64) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  f[ETH_HDR_LEN + 11] ^= 1;
  CHECK(decide(&A, f, 64) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  CHECK(decide(&A, f, 63) == NULL); /* total length beyond the frame */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  CHECK(fp_decide(&T, &A, f, 33, 33) == NULL);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  f[ETH_HDR_LEN] = 0x65;
  CHECK(decide(&A, f, 64) == NULL);
  /* Not IP: ARP, VLAN-tagged. */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  f[12] = 0x08, f[13] = 0x06;
  CHECK(decide(&A, f, 64) == NULL);
  f[12] = 0x81, f[13] = 0x00;
  CHECK(decide(&A, f, 64) == NULL);
  /* IPv6: spoofed, unknown, hop limit 1, hop-by-hop options, payload length beyond the frame. */
  ipv6(f, 100, TAPMAC_A, v6x, V6_B, 64);
  CHECK(decide(&A, f, 100) == NULL);
  ipv6(f, 100, TAPMAC_A, V6_A, v6x, 64);
  CHECK(decide(&A, f, 100) == NULL);
  ipv6(f, 100, TAPMAC_A, V6_A, V6_B, 1);
  CHECK(decide(&A, f, 100) == NULL);
  ipv6(f, 100, TAPMAC_A, V6_A, V6_B, 64);
  f[ETH_HDR_LEN + 6] = 0;
  CHECK(decide(&A, f, 100) == NULL);
  ipv6(f, 100, TAPMAC_A, V6_A, V6_B, 64);
  CHECK(decide(&A, f, 99) == NULL);
  ipv6(f, 100, TAPMAC_A, V6_A, V6_B, 64);
  CHECK(fp_decide(&T, &A, f, 53, 53) == NULL);
  /* Mixed families never match: an IPv6 packet to B's IPv4 address as IPv4-mapped. */
  uint8_t mapped[16] = {[10] = 0xff, [11] = 0xff, 10, 1, 0, 3};
  ipv6(f, 100, TAPMAC_A, V6_A, mapped, 64);
  CHECK(decide(&A, f, 100) == NULL);
  uint8_t mapped_a[16] = {[10] = 0xff, [11] = 0xff, 10, 1, 0, 2}; /* A's IPv4 address as source */
  ipv6(f, 100, TAPMAC_A, mapped_a, V6_B, 64);
  CHECK(decide(&A, f, 100) == NULL);
  world_free();
}

static void decide_ipv6(void) {
  world();
  uint8_t f[128], orig[128];
  size_t n = ipv6(f, 100, TAPMAC_A, V6_A, V6_B, 64);
  memcpy(orig, f, n);
  CHECK(decide(&A, f, n) == &B);
  CHECK(!memcmp(f, PEERMAC_B, 6) && !memcmp(f + 6, TAPMAC_B, 6));
  CHECK(f[ETH_HDR_LEN + 7] == 63);
  CHECK(!memcmp(f + 12, orig + 12, ETH_HDR_LEN - 12 + 7));
  CHECK(!memcmp(f + ETH_HDR_LEN + 8, orig + ETH_HDR_LEN + 8, n - ETH_HDR_LEN - 8));
  ipv6(f, 54, TAPMAC_A, V6_A, V6_B, 2); /* header only, hop limit 2 */
  CHECK(decide(&A, f, 54) == &B && f[ETH_HDR_LEN + 7] == 1);
  world_free();
}

static uint16_t full_checksum_after(uint8_t *ip) {
  ip[10] = ip[11] = 0;
  return ip_checksum(ip, 20);
}

static void checksum(void) {
  /* RFC 1624 section 4: eqn. 3 yields 0x0000 where eqn. 2 would give the invalid -0 (0xffff). */
  CHECK(csum_update16(0xdd2f, 0x5555, 0x3285) == 0x0000);
  /* Every TTL, and headers of every shape: the updated checksum is valid and equals a full one. */
  world();
  srand(1624);
  uint8_t f[64], copy[64];
  int bad = 0, rounds = 0;
  for (int ttl = 2; ttl <= 255; ttl++)
    for (int k = 0; k < 200; k++, rounds++) {
      ipv4(f, 64, TAPMAC_A, V4_A, V4_B, (uint8_t)ttl);
      uint8_t *ip = f + ETH_HDR_LEN;
      ip[1] = (uint8_t)rand(); /* TOS */
      ip[4] = (uint8_t)rand(), ip[5] = (uint8_t)rand();
      ip[6] = (uint8_t)(rand() & 0x5f), ip[7] = (uint8_t)rand(); /* flags, fragment offset */
      ip[9] = (uint8_t)rand();                                   /* protocol */
      if (k == 0) ip[1] = ip[4] = ip[5] = ip[6] = ip[7] = ip[9] = 0;
      if (k == 1) ip[1] = ip[4] = ip[5] = ip[6] = ip[7] = ip[9] = 0xff & 0x5f;
      ip[10] = ip[11] = 0;
      uint16_t c = ip_checksum(ip, 20);
      ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
      if (decide(&A, f, 64) != &B || ip[8] != ttl - 1 || ip_checksum(ip, 20) != 0) {
        bad++;
        continue;
      }
      memcpy(copy, f, 64);
      uint16_t want = full_checksum_after(copy + ETH_HDR_LEN);
      if ((uint16_t)(ip[10] << 8 | ip[11]) != want) bad++;
    }
  CHECK(rounds == 254 * 200);
  CHECK(bad == 0);
  if (bad) fprintf(stderr, "%d of %d checksum updates wrong\n", bad, rounds);
  world_free();
}

static int kicks[8], nkicks;
static void kick(int efd) {
  if (nkicks < 8) kicks[nkicks] = efd;
  nkicks++;
}

static struct frame one_iov(uint8_t *f, size_t len) {
  struct frame fr = {.niov = 1, .len = len, .slots = 1};
  fr.iov[0] = (struct iovec){f, len};
  return fr;
}

static void deliver(void) {
  world();
  char why[200] = "";
  struct fp_batch b = {0};
  struct fp_port *dst = NULL;
  uint8_t f[3000], orig[3000];
  post(&PB, 4);
  post(&PC, 4);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  memcpy(orig, f, 64);
  struct frame fr = one_iov(f, 64);
  nkicks = 0;
  for (int i = 0; i < 3; i++) {
    dst = NULL;
    CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_SENT && dst == &B);
  }
  CHECK(!memcmp(f, orig, 64)); /* the sender's buffer is never written */
  struct memif_ring *r = PB.c.m2s[0].ring;
  CHECK(r->tail == 0 && b.n == 1 && B.dirty); /* nothing visible before the flush */
  fp_flush(&b, kick);
  CHECK(r->tail == 3 && b.n == 0 && !B.dirty);
  CHECK(nkicks == 1 && kicks[0] == PB.c.m2s[0].efd); /* one kick for the batch */
  /* B's client reads the frame as routed: its MAC, our TAP's, TTL 63, valid checksum. */
  struct memif_desc *d = &r->desc[0];
  uint8_t *got = PB.mem + d->offset;
  CHECK(d->length == 64 && d->flags == 0);
  CHECK(!memcmp(got, PEERMAC_B, 6) && !memcmp(got + 6, TAPMAC_B, 6) && got[ETH_HDR_LEN + 8] == 63);
  CHECK(ip_checksum(got + ETH_HDR_LEN, 20) == 0);
  CHECK(!memcmp(got + ETH_HDR_LEN + 12, orig + ETH_HDR_LEN + 12, 64 - ETH_HDR_LEN - 12));
  /* A frame in four segments (the head split across three) to B, larger than one of B's buffers:
   * B gets it chained, byte for byte. Masked interrupts: no kick. */
  ipv4(f, 3000, TAPMAC_A, V4_A, V4_B, 9);
  memcpy(orig, f, 3000);
  struct frame seg = {.niov = 4, .len = 3000, .slots = 4};
  seg.iov[0] = (struct iovec){f, 10};
  seg.iov[1] = (struct iovec){f + 10, 20};
  seg.iov[2] = (struct iovec){f + 30, 1000};
  seg.iov[3] = (struct iovec){f + 1030, 1970};
  r->flags = MEMIF_RING_FLAG_MASK_INT;
  post(&PB, 1); /* one was left: two now */
  nkicks = 0;
  CHECK(fp_forward(&T, &A, &seg, &b, &dst, why, sizeof(why)) == FP_SENT);
  fp_flush(&b, kick);
  CHECK(nkicks == 0 && r->tail == 5);
  CHECK(r->desc[3].length == BUF_SIZE && r->desc[3].flags == MEMIF_DESC_FLAG_NEXT);
  CHECK(r->desc[4].length == 3000 - BUF_SIZE && r->desc[4].flags == 0);
  uint8_t *p1 = PB.mem + r->desc[3].offset, *p2 = PB.mem + r->desc[4].offset;
  CHECK(!memcmp(p1, PEERMAC_B, 6) && p1[ETH_HDR_LEN + 8] == 8 && ip_checksum(p1 + ETH_HDR_LEN, 20) == 0);
  CHECK(!memcmp(p1 + 34, orig + 34, BUF_SIZE - 34));
  CHECK(!memcmp(p2, orig + BUF_SIZE, 3000 - BUF_SIZE));
  /* Two destinations in one batch (C shares A's domain now): one kick each. */
  r->flags = 0;
  C.rns = 1;
  fp_table_free(&T);
  struct fp_port *all[] = {&A, &B, &C};
  CHECK(fp_table_build(&T, all, 3) == 0);
  post(&PB, 4);
  nkicks = 0;
  struct frame fb = one_iov(f, 64), fc = one_iov(orig, 64);
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  ipv4(orig, 64, TAPMAC_A, V4_A, V4_C, 64);
  CHECK(fp_forward(&T, &A, &fb, &b, &dst, why, sizeof(why)) == FP_SENT && dst == &B);
  CHECK(fp_forward(&T, &A, &fc, &b, &dst, why, sizeof(why)) == FP_SENT && dst == &C);
  CHECK(fp_forward(&T, &A, &fb, &b, &dst, why, sizeof(why)) == FP_SENT && dst == &B);
  CHECK(b.n == 2);
  fp_flush(&b, kick);
  CHECK(nkicks == 2 && kicks[0] == PB.c.m2s[0].efd && kicks[1] == PC.c.m2s[0].efd);
  CHECK(PC.c.m2s[0].ring->tail == 1);
  uint8_t *gc = PC.mem + PC.c.m2s[0].ring->desc[0].offset;
  CHECK(!memcmp(gc, PEERMAC_C, 6) && !memcmp(gc + 6, TAPMAC_C, 6));
  /* Not for the fast path: the caller writes it to the TAP; nothing is touched. */
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 1);
  CHECK(fp_forward(&T, &A, &fb, &b, &dst, why, sizeof(why)) == FP_KERNEL && b.n == 0);
  world_free();
}

static void ring_full(void) {
  world();
  char why[200] = "";
  struct fp_batch b = {0};
  struct fp_port *dst;
  uint8_t f[64];
  ipv4(f, 64, TAPMAC_A, V4_A, V4_B, 64);
  struct frame fr = one_iov(f, 64);
  /* No buffer posted at all: dropped. */
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_DROPPED && dst == &B);
  CHECK(b.n == 0);
  /* Two posted, three sent: the third is dropped, the two published. */
  post(&PB, 2);
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_SENT);
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_SENT);
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_DROPPED);
  nkicks = 0;
  fp_flush(&b, kick);
  CHECK(PB.c.m2s[0].ring->tail == 2 && PB.c.m2s[0].last == 2 && nkicks == 1);
  /* A frame that needs two buffers with one posted: dropped whole, the buffer keeps its capacity. */
  uint8_t big[3000];
  ipv4(big, 3000, TAPMAC_A, V4_A, V4_B, 64);
  struct frame fbig = one_iov(big, 3000);
  post(&PB, 1);
  CHECK(fp_forward(&T, &A, &fbig, &b, &dst, why, sizeof(why)) == FP_DROPPED);
  CHECK(PB.c.m2s[0].ring->desc[2].length == BUF_SIZE && PB.c.m2s[0].last == 2);
  /* A client whose head claims more than its ring, or posts a buffer outside its memory: FP_BAD. */
  PB.c.m2s[0].ring->head = (uint16_t)(PB.c.m2s[0].last + (1 << LOG2) + 1);
  why[0] = 0;
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_BAD && dst == &B);
  CHECK_STR_CONTAINS(why, "head beyond the ring size");
  PB.c.m2s[0].ring->head = 3;
  PB.c.m2s[0].ring->desc[2].offset = REGION_SIZE;
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_BAD);
  CHECK_STR_CONTAINS(why, "unusable");
  /* A destination whose client went away after its frames were put: the flush skips it. */
  PB.c.m2s[0].ring->desc[2].offset = BUF_OFF;
  CHECK(fp_forward(&T, &A, &fr, &b, &dst, why, sizeof(why)) == FP_SENT && b.n == 1);
  B.conn = NULL;
  nkicks = 0;
  fp_flush(&b, kick);
  CHECK(nkicks == 0 && b.n == 0 && !B.dirty && PB.c.m2s[0].ring->tail == 2);
  world_free();
}

int main(void) {
  RUN(table);
  RUN(decide_ipv4);
  RUN(decide_ipv6);
  RUN(decide_kernel);
  RUN(checksum);
  RUN(deliver);
  RUN(ring_full);
  return test_summary("test_fastpath");
}

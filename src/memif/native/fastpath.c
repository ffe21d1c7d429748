#include "fastpath.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ether.h"

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static uint32_t hash(uint32_t rns, const uint8_t addr[16]) {
  uint32_t h = rns * 0x9e3779b1u;
  for (int i = 0; i < 16; i += 4) {
    uint32_t w;
    memcpy(&w, addr + i, 4);
    h ^= w;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
  }
  return h ^ (h >> 16);
}

void fp_table_free(struct fp_table *t) {
  free(t->slot);
  t->slot = NULL;
  t->mask = 0;
}

int fp_table_build(struct fp_table *t, struct fp_port *const *ports, size_t n) {
  size_t keys = 0;
  t->slot = NULL;
  t->mask = 0;
  for (size_t i = 0; i < n; i++)
    if (ports[i]->fast) keys += ports[i]->nips;
  if (!keys) return 0;
  size_t cap = 8;
  while (cap < 2 * keys) cap *= 2; /* at most half full: short probes */
  struct fp_slot *slot = calloc(cap, sizeof(*slot));
  if (!slot) return -1;
  uint32_t mask = (uint32_t)(cap - 1);
  for (size_t i = 0; i < n; i++) {
    struct fp_port *p = ports[i];
    if (!p->fast) continue;
    for (unsigned k = 0; k < p->nips; k++) {
      uint32_t at = hash(p->rns, p->ips[k].b) & mask;
      while (slot[at].used && !(slot[at].rns == p->rns && !memcmp(slot[at].ip.b, p->ips[k].b, 16)))
        at = (at + 1) & mask;
      if (slot[at].used) {
        slot[at].port = NULL; /* two interfaces of one domain claim it: leave it to the kernel */
        continue;
      }
      slot[at] = (struct fp_slot){.rns = p->rns, .used = 1, .ip = p->ips[k], .port = p};
    }
  }
  t->slot = slot;
  t->mask = mask;
  return 0;
}

struct fp_port *fp_lookup(const struct fp_table *t, uint32_t rns, const uint8_t addr[16]) {
  if (!t->slot) return NULL;
  for (uint32_t at = hash(rns, addr) & t->mask;; at = (at + 1) & t->mask) {
    const struct fp_slot *s = &t->slot[at];
    if (!s->used) return NULL;
    if (s->rns == rns && !memcmp(s->ip.b, addr, 16)) return s->port;
  }
}

uint16_t ip_checksum(const uint8_t *p, size_t len) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(p[i] << 8 | p[i + 1]);
  if (len & 1) sum += (uint32_t)(p[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

uint16_t csum_update16(uint16_t sum, uint16_t old, uint16_t new_) {
  /* HC' = ~(~HC + ~m + m') */
  uint32_t s = (uint32_t)(uint16_t)~sum + (uint16_t)~old + new_;
  s = (s & 0xffff) + (s >> 16);
  s = (s & 0xffff) + (s >> 16);
  return (uint16_t)~s;
}

static int has_ip(const struct fp_port *p, const uint8_t addr[16]) {
  for (unsigned i = 0; i < p->nips; i++)
    if (!memcmp(p->ips[i].b, addr, 16)) return 1;
  return 0;
}

struct fp_port *fp_decide(const struct fp_table *t, const struct fp_port *src, uint8_t *hdr, size_t caplen,
                          size_t framelen) {
  if (!src->fast || caplen < ETH_HDR_LEN + 20 || caplen > framelen) return NULL;
  if (memcmp(hdr, src->tapmac, 6) != 0) return NULL; /* not routed through the gateway */
  uint16_t type = (uint16_t)(hdr[12] << 8 | hdr[13]);
  uint8_t *ip = hdr + ETH_HDR_LEN;
  uint8_t saddr[16], daddr[16];
  struct fp_port *dst;
  if (type == ETHERTYPE_IPV4) {
    if (ip[0] != 0x45) return NULL; /* version 4 without options (the kernel handles options) */
    uint16_t total = (uint16_t)(ip[2] << 8 | ip[3]);
    if (total < 20 || total > framelen - ETH_HDR_LEN) return NULL;
    if (ip_checksum(ip, 20) != 0) return NULL; /* the kernel drops (and counts) it */
    memcpy(saddr, v4mapped, 12);
    memcpy(saddr + 12, ip + 12, 4);
    memcpy(daddr, v4mapped, 12);
    memcpy(daddr + 12, ip + 16, 4);
    if (!has_ip(src, saddr)) return NULL;
    dst = fp_lookup(t, src->rns, daddr);
    if (!dst || dst == src || !dst->fast || !dst->conn) return NULL;
    if (ip[8] <= 1) return NULL; /* time exceeded: the kernel answers */
    uint16_t old = (uint16_t)(ip[8] << 8 | ip[9]);
    ip[8]--;
    uint16_t c = csum_update16((uint16_t)(ip[10] << 8 | ip[11]), old, (uint16_t)(ip[8] << 8 | ip[9]));
    ip[10] = (uint8_t)(c >> 8);
    ip[11] = (uint8_t)c;
  } else if (type == ETHERTYPE_IPV6) {
    if (caplen < ETH_HDR_LEN + 40 || (ip[0] >> 4) != 6) return NULL;
    uint16_t payload = (uint16_t)(ip[4] << 8 | ip[5]);
    if (payload > framelen - ETH_HDR_LEN - 40) return NULL;
    if (ip[6] == 0) return NULL; /* hop-by-hop options: for every router to read */
    /* IPv4-mapped addresses would look like IPv4 ones in the table (and are not for the wire). */
    if (!memcmp(ip + 8, v4mapped, 12) || !memcmp(ip + 24, v4mapped, 12)) return NULL;
    memcpy(saddr, ip + 8, 16);
    memcpy(daddr, ip + 24, 16);
    if (!has_ip(src, saddr)) return NULL;
    dst = fp_lookup(t, src->rns, daddr);
    if (!dst || dst == src || !dst->fast || !dst->conn) return NULL;
    if (ip[7] <= 1) return NULL;
    ip[7]--;
  } else {
    return NULL;
  }
  memcpy(hdr, dst->peermac, 6);
  memcpy(hdr + 6, dst->tapmac, 6);
  return dst;
}

enum fp_result fp_forward(const struct fp_table *t, const struct fp_port *src, const struct frame *f,
                          struct fp_batch *b, struct fp_port **dst, char *why, size_t whylen) {
  if (!src->fast || !t->slot) return FP_KERNEL;
  /* One read of the head out of the client's memory (it may write it concurrently). */
  uint8_t hdr[FP_HDR_MAX];
  size_t cap = f->len < FP_HDR_MAX ? f->len : FP_HDR_MAX, got = 0;
  unsigned seg = 0;
  size_t off = 0; /* into f->iov[seg]: where the rest of the frame starts */
  while (got < cap) {
    size_t run = f->iov[seg].iov_len;
    if (run > cap - got) run = cap - got;
    memcpy(hdr + got, f->iov[seg].iov_base, run);
    got += run;
    off = run;
    if (off == f->iov[seg].iov_len) {
      seg++;
      off = 0;
    }
  }
  struct fp_port *d = fp_decide(t, src, hdr, cap, f->len);
  if (!d) return FP_KERNEL;
  *dst = d;
  struct iovec iov[FRAME_MAX_SEGS + 1];
  unsigned n = 0;
  iov[n++] = (struct iovec){hdr, cap};
  for (; seg < f->niov; seg++, off = 0)
    iov[n++] = (struct iovec){(uint8_t *)f->iov[seg].iov_base + off, f->iov[seg].iov_len - off};
  struct memif_queue *q = &d->conn->m2s[0];
  int free_slots = m2s_free(q);
  if (free_slots < 0) {
    snprintf(why, whylen, "M2S ring 0 head beyond the ring size");
    return FP_BAD;
  }
  enum frame_result res = m2s_putv(d->conn, q, (uint16_t)free_slots, iov, n, f->len, why, whylen);
  if (res == FRAME_BAD) return FP_BAD;
  if (res == FRAME_DROP) return FP_DROPPED;
  if (!d->dirty && b->n < FP_BATCH_MAX) {
    d->dirty = 1;
    b->dirty[b->n++] = d;
  }
  return FP_SENT;
}

void fp_flush(struct fp_batch *b, void (*kick)(int efd)) {
  for (unsigned i = 0; i < b->n; i++) {
    struct fp_port *p = b->dirty[i];
    p->dirty = 0;
    if (p->conn && m2s_publish(&p->conn->m2s[0])) kick(p->conn->m2s[0].efd);
  }
  b->n = 0;
}

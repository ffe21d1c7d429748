#include "memif_ring.h"

#include <stdio.h>
#include <string.h>

uint8_t *region_span(const struct memif_conn *c, uint16_t region, uint32_t offset, uint32_t len) {
  if (region >= c->nregions || !c->region[region].addr) return NULL;
  if ((uint64_t)offset + len > c->region[region].size) return NULL;
  return c->region[region].addr + offset;
}

/* The descriptor lives in memory the client writes concurrently: read each field exactly once and
 * decide on the copy only. */
static struct memif_desc read_desc(const struct memif_queue *q, uint16_t slot) {
  const volatile struct memif_desc *d = &q->ring->desc[slot & (q->size - 1)];
  struct memif_desc copy;
  copy.flags = d->flags;
  copy.region = d->region;
  copy.length = d->length;
  copy.offset = d->offset;
  copy.metadata = 0;
  return copy;
}

int s2m_pending(const struct memif_queue *q) {
  uint16_t head = __atomic_load_n(&q->ring->head, __ATOMIC_ACQUIRE);
  uint16_t n = ring_distance(head, q->last);
  return n > q->size ? -1 : n;
}

enum frame_result s2m_frame(const struct memif_conn *c, const struct memif_queue *q, uint16_t at,
                            uint16_t avail, struct frame *f, char *why, size_t whylen) {
  f->niov = 0;
  f->len = 0;
  f->slots = 0;
  int drop = 0;
  for (;;) {
    if (f->slots == avail) return FRAME_DROP; /* chain runs past what was produced */
    uint16_t slot = (uint16_t)(q->last + at + f->slots);
    struct memif_desc d = read_desc(q, slot);
    f->slots++;
    uint8_t *p = region_span(c, d.region, d.offset, d.length);
    if (!p) {
      snprintf(why, whylen, "S2M descriptor %u (region %u, offset %u, length %u) outside the regions",
               slot & (q->size - 1), d.region, d.offset, d.length);
      return FRAME_BAD;
    }
    if (!drop && d.length) {
      if (f->niov == FRAME_MAX_SEGS || f->len + d.length > FRAME_MAX) {
        drop = 1; /* keep walking to the end of the chain, then drop it whole */
      } else {
        f->iov[f->niov].iov_base = p;
        f->iov[f->niov].iov_len = d.length;
        f->niov++;
        f->len += d.length;
      }
    }
    if (!(d.flags & MEMIF_DESC_FLAG_NEXT)) break;
  }
  return drop || f->len == 0 ? FRAME_DROP : FRAME_OK;
}

void s2m_release(struct memif_queue *q, uint16_t slots) {
  q->last = (uint16_t)(q->last + slots);
  __atomic_store_n(&q->ring->tail, q->last, __ATOMIC_RELEASE);
}

int m2s_free(const struct memif_queue *q) {
  uint16_t head = __atomic_load_n(&q->ring->head, __ATOMIC_ACQUIRE);
  uint16_t n = ring_distance(head, q->last);
  return n > q->size ? -1 : n;
}

enum frame_result m2s_put(const struct memif_conn *c, struct memif_queue *q, uint16_t free_slots,
                          const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t dlen, char *why,
                          size_t whylen) {
  struct iovec src[2] = {{(void *)hdr, hdr ? hlen : 0}, {(void *)data, dlen}};
  return m2s_putv(c, q, free_slots, src, 2, (hdr ? hlen : 0) + dlen, why, whylen);
}

enum frame_result m2s_putv(const struct memif_conn *c, struct memif_queue *q, uint16_t free_slots,
                           const struct iovec *src, unsigned nsrc, size_t total, char *why, size_t whylen) {
  if (total == 0 || total > FRAME_MAX) return FRAME_DROP;
  /* Plan first: a posted descriptor's length is its capacity until we fill it, so nothing is
   * written unless the whole frame fits. */
  uint8_t *buf[FRAME_MAX_SEGS];
  uint32_t cap[FRAME_MAX_SEGS];
  uint16_t used = 0;
  for (size_t room = 0; room < total; used++) {
    if (used == free_slots || used == FRAME_MAX_SEGS) return FRAME_DROP;
    uint16_t slot = (uint16_t)(q->last + used);
    struct memif_desc d = read_desc(q, slot);
    buf[used] = region_span(c, d.region, d.offset, d.length);
    if (!buf[used] || d.length == 0) {
      snprintf(why, whylen, "M2S descriptor %u (region %u, offset %u, capacity %u) unusable",
               slot & (q->size - 1), d.region, d.offset, d.length);
      return FRAME_BAD;
    }
    cap[used] = d.length;
    room += d.length;
  }
  size_t done = 0, soff = 0;
  unsigned si = 0;
  for (uint16_t i = 0; i < used; i++) {
    size_t n = total - done < cap[i] ? total - done : cap[i];
    for (size_t k = 0; k < n;) { /* the sources' bytes, in order */
      if (si == nsrc) break;     /* cannot happen when total is their sum */
      size_t run = src[si].iov_len - soff;
      if (run > n - k) run = n - k;
      if (run) memcpy(buf[i] + k, (const uint8_t *)src[si].iov_base + soff, run);
      k += run;
      soff += run;
      if (soff == src[si].iov_len) {
        si++;
        soff = 0;
      }
    }
    done += n;
    volatile struct memif_desc *w = &q->ring->desc[(uint16_t)(q->last + i) & (q->size - 1)];
    w->length = (uint32_t)n;
    w->flags = i + 1 < used ? MEMIF_DESC_FLAG_NEXT : 0;
  }
  q->last = (uint16_t)(q->last + used);
  return FRAME_OK;
}

int m2s_publish(struct memif_queue *q) {
  __atomic_store_n(&q->ring->tail, q->last, __ATOMIC_RELEASE);
  return !(__atomic_load_n(&q->ring->flags, __ATOMIC_RELAXED) & MEMIF_RING_FLAG_MASK_INT);
}

/* The data path on mapped rings: what the client produced on an S2M ring (as iovecs into its
 * buffers, every descriptor bounds-checked) and filling the buffers it posted on an M2S ring.
 * Indices are free-running u16 (wrap-around is the normal case); our own copy of the index we
 * own is authoritative, the client's is read with acquire and sanity-checked against the size. */
#ifndef MEMIFD_MEMIF_RING_H
#define MEMIFD_MEMIF_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include "memif_conn.h"

#define FRAME_MAX 9216   /* largest frame (bytes on the ring) we move */
#define FRAME_MAX_SEGS 64 /* longest descriptor chain we gather */

enum frame_result {
  FRAME_BAD = -1, /* a descriptor breaks the bounds: the client must be disconnected */
  FRAME_OK = 0,
  FRAME_DROP = 1 /* consumed but not deliverable (too large, chain cut short, empty, no room) */
};

struct frame {
  struct iovec iov[FRAME_MAX_SEGS];
  unsigned niov;
  size_t len;
  uint16_t slots; /* descriptors the frame occupies */
};

/* Slots between two free-running indices: (a - b) mod 2^16. */
static inline uint16_t ring_distance(uint16_t a, uint16_t b) { return (uint16_t)(a - b); }

/* Slots produced by the client and not yet consumed, or -1 when its head claims more than the
 * ring holds (a broken client). */
int s2m_pending(const struct memif_queue *q);
/* Gathers the frame starting `at` slots after q->last, with `avail` (> 0) produced slots from
 * there. On FRAME_OK and FRAME_DROP, f->slots says how many slots it took (consume them with
 * s2m_release after the batch; the iovecs point into the client's buffers until then). why gets
 * the reason on FRAME_BAD. */
enum frame_result s2m_frame(const struct memif_conn *c, const struct memif_queue *q, uint16_t at,
                            uint16_t avail, struct frame *f, char *why, size_t whylen);
/* Gives consumed slots back to the client (release store of tail). */
void s2m_release(struct memif_queue *q, uint16_t slots);

/* Buffers the client posted and we have not filled, or -1 when its head is out of range. */
int m2s_free(const struct memif_queue *q);
/* Copies one frame (hdr then data; hdr may be NULL) into the posted buffers from q->last, chaining
 * descriptors; on FRAME_OK q->last moves past it (not yet visible to the client). */
enum frame_result m2s_put(const struct memif_conn *c, struct memif_queue *q, uint16_t free_slots,
                          const uint8_t *hdr, size_t hlen, const uint8_t *data, size_t dlen, char *why,
                          size_t whylen);
/* The same with the frame given as iovecs (total = the sum of their lengths). */
enum frame_result m2s_putv(const struct memif_conn *c, struct memif_queue *q, uint16_t free_slots,
                           const struct iovec *src, unsigned nsrc, size_t total, char *why, size_t whylen);
/* Publishes filled slots (release store of tail); returns 1 if the client wants a kick. */
int m2s_publish(struct memif_queue *q);

/* Pointer to [offset, offset+len) of a mapped region, NULL if outside it. */
uint8_t *region_span(const struct memif_conn *c, uint16_t region, uint32_t offset, uint32_t len);

#endif

/* Ring arithmetic and descriptor handling on a fake mapped region: wrap-around of the free-running
 * indices, chains, and every way a descriptor can point outside the client's memory. */
#include <stdint.h>
#include <stdlib.h>

#include "../memif_ring.h"
#include "test.h"

#define REGION_SIZE 65536
#define BUF_OFF 4096
#define BUF_SIZE 256
#define LOG2 3 /* 8 slots: wrap-around comes quickly */

static struct memif_conn c;
static struct memif_queue q;
static uint8_t *mem;
static char why[200];

static void setup(uint16_t start) {
  memset(&c, 0, sizeof(c));
  memset(&q, 0, sizeof(q));
  mem = aligned_alloc(4096, REGION_SIZE);
  memset(mem, 0, REGION_SIZE);
  c.nregions = 1;
  c.region[0] = (struct memif_region){.fd = -1, .size = REGION_SIZE, .addr = mem};
  q.present = 1;
  q.log2 = LOG2;
  q.size = 1 << LOG2;
  q.ring = (struct memif_ring *)mem;
  q.ring->cookie = MEMIF_COOKIE;
  q.ring->head = q.ring->tail = start;
  q.last = start;
  q.efd = -1;
  for (unsigned i = 0; i < q.size; i++)
    q.ring->desc[i] = (struct memif_desc){.region = 0, .offset = BUF_OFF + i * BUF_SIZE, .length = BUF_SIZE};
}

static void teardown(void) { free(mem); }

/* The client produces a frame of `len` bytes of `byte` in one or more buffers at its head. */
static void client_produce(size_t len, uint8_t byte) {
  uint16_t h = q.ring->head;
  do {
    struct memif_desc *d = &q.ring->desc[h & (q.size - 1)];
    size_t n = len > BUF_SIZE ? BUF_SIZE : len;
    memset(mem + d->offset, byte, n);
    d->length = (uint32_t)n;
    len -= n;
    d->flags = len ? MEMIF_DESC_FLAG_NEXT : 0;
    h++;
  } while (len);
  __atomic_store_n(&q.ring->head, h, __ATOMIC_RELEASE);
}

static void distance(void) {
  CHECK(ring_distance(5, 3) == 2);
  CHECK(ring_distance(2, 65534) == 4); /* across the u16 wrap */
  CHECK(ring_distance(0, 0) == 0);
  CHECK(ring_distance(0, 1) == 65535);
}

static void s2m_wraps(void) {
  setup(65533); /* indices wrap past 65535 within the test */
  int got = 0;
  for (int round = 0; round < 10; round++) {
    client_produce(60, (uint8_t)round);
    client_produce(60, (uint8_t)(round + 100));
    CHECK(s2m_pending(&q) == 2);
    struct frame f;
    uint16_t at = 0;
    for (int k = 0; k < 2; k++) {
      CHECK(s2m_frame(&c, &q, at, (uint16_t)(2 - at), &f, why, sizeof(why)) == FRAME_OK);
      CHECK(f.len == 60 && f.niov == 1 && f.slots == 1);
      CHECK(((uint8_t *)f.iov[0].iov_base)[59] == (uint8_t)(k ? round + 100 : round));
      at = (uint16_t)(at + f.slots);
      got++;
    }
    s2m_release(&q, at);
    CHECK(q.ring->tail == q.last && q.last == q.ring->head);
    CHECK(s2m_pending(&q) == 0);
  }
  CHECK(got == 20);
  CHECK(q.last == (uint16_t)(65533 + 20));
  teardown();
}

static void s2m_chain(void) {
  setup(0);
  client_produce(3 * BUF_SIZE + 10, 7); /* 4 descriptors */
  struct frame f;
  CHECK(s2m_pending(&q) == 4);
  CHECK(s2m_frame(&c, &q, 0, 4, &f, why, sizeof(why)) == FRAME_OK);
  CHECK(f.slots == 4 && f.niov == 4 && f.len == 3 * BUF_SIZE + 10);
  /* A chain whose last descriptor still says NEXT runs past what was produced: dropped whole. */
  q.ring->desc[3].flags = MEMIF_DESC_FLAG_NEXT;
  CHECK(s2m_frame(&c, &q, 0, 4, &f, why, sizeof(why)) == FRAME_DROP && f.slots == 4);
  teardown();
}

static void s2m_limits(void) {
  setup(0);
  /* Larger than FRAME_MAX: one huge descriptor (inside the region) is consumed and dropped. */
  q.ring->desc[0] = (struct memif_desc){.offset = BUF_OFF, .length = FRAME_MAX + 1};
  q.ring->head = 1;
  struct frame f;
  CHECK(s2m_frame(&c, &q, 0, 1, &f, why, sizeof(why)) == FRAME_DROP && f.slots == 1);
  /* Exactly FRAME_MAX passes. */
  q.ring->desc[0].length = FRAME_MAX;
  CHECK(s2m_frame(&c, &q, 0, 1, &f, why, sizeof(why)) == FRAME_OK && f.len == FRAME_MAX);
  /* Empty frame. */
  q.ring->desc[0].length = 0;
  CHECK(s2m_frame(&c, &q, 0, 1, &f, why, sizeof(why)) == FRAME_DROP);
  teardown();
}

static void s2m_out_of_bounds(void) {
  struct frame f;
  struct memif_desc bad[] = {
      {.region = 1, .offset = 0, .length = 64},                         /* unknown region */
      {.region = 0, .offset = REGION_SIZE - 10, .length = 64},          /* runs off the end */
      {.region = 0, .offset = REGION_SIZE, .length = 1},                /* starts at the end */
      {.region = 0, .offset = 0xffffffffu, .length = 0xffffffffu},      /* u32 overflow bait */
      {.region = 0xffff, .offset = 0, .length = 1},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setup(0);
    q.ring->desc[0] = bad[i];
    q.ring->head = 1;
    why[0] = 0;
    CHECK(s2m_frame(&c, &q, 0, 1, &f, why, sizeof(why)) == FRAME_BAD);
    CHECK_STR_CONTAINS(why, "outside the regions");
    teardown();
  }
  /* The bad descriptor in the middle of a chain is caught too. */
  setup(0);
  client_produce(2 * BUF_SIZE, 1);
  q.ring->desc[1].offset = REGION_SIZE;
  CHECK(s2m_frame(&c, &q, 0, 2, &f, why, sizeof(why)) == FRAME_BAD);
  teardown();
  /* The last byte of the region is fine. */
  setup(0);
  q.ring->desc[0] = (struct memif_desc){.offset = REGION_SIZE - 1, .length = 1};
  q.ring->head = 1;
  CHECK(s2m_frame(&c, &q, 0, 1, &f, why, sizeof(why)) == FRAME_OK);
  teardown();
}

static void s2m_absurd_head(void) {
  setup(100);
  q.ring->head = (uint16_t)(100 + q.size + 1); /* claims more than the ring holds */
  CHECK(s2m_pending(&q) == -1);
  q.ring->head = (uint16_t)(100 + q.size);
  CHECK(s2m_pending(&q) == (int)q.size);
  q.ring->head = 99; /* behind us: also "more than the ring" modulo 2^16 */
  CHECK(s2m_pending(&q) == -1);
  teardown();
}

/* M2S: the client posts buffers (capacity in length) by advancing head. */
static void client_post(unsigned n) {
  uint16_t h = q.ring->head;
  for (unsigned i = 0; i < n; i++, h++) {
    struct memif_desc *d = &q.ring->desc[h & (q.size - 1)];
    d->length = BUF_SIZE;
    d->flags = 0;
  }
  __atomic_store_n(&q.ring->head, h, __ATOMIC_RELEASE);
}

static void m2s_fill_and_wrap(void) {
  setup(65530);
  uint8_t data[BUF_SIZE * 3];
  for (size_t i = 0; i < sizeof(data); i++) data[i] = (uint8_t)i;
  uint16_t seen = 65530;
  for (int round = 0; round < 12; round++) {
    client_post(q.size - ring_distance(q.ring->head, seen)); /* refill what we consumed */
    int free_slots = m2s_free(&q);
    CHECK(free_slots == (int)q.size);
    CHECK(m2s_put(&c, &q, (uint16_t)free_slots, NULL, 0, data, 100, why, sizeof(why)) == FRAME_OK);
    free_slots = m2s_free(&q);
    CHECK(free_slots == (int)q.size - 1);
    /* A header plus data across three buffers. */
    uint8_t hdr[14] = {0xee};
    CHECK(m2s_put(&c, &q, (uint16_t)free_slots, hdr, sizeof(hdr), data, 2 * BUF_SIZE + 50, why, sizeof(why)) ==
          FRAME_OK);
    CHECK(m2s_free(&q) == (int)q.size - 4);
    /* Nothing is visible before publish. */
    CHECK(q.ring->tail == seen);
    CHECK(m2s_publish(&q) == 1); /* interrupts not masked: kick */
    CHECK(q.ring->tail == (uint16_t)(seen + 4));
    /* The client reads what we wrote. */
    struct memif_desc *d = &q.ring->desc[seen & (q.size - 1)];
    CHECK(d->length == 100 && d->flags == 0 && mem[d->offset + 99] == 99);
    d = &q.ring->desc[(uint16_t)(seen + 1) & (q.size - 1)];
    CHECK(d->length == BUF_SIZE && d->flags == MEMIF_DESC_FLAG_NEXT && mem[d->offset] == 0xee);
    CHECK(mem[d->offset + 14] == 0);
    d = &q.ring->desc[(uint16_t)(seen + 3) & (q.size - 1)];
    CHECK(d->length == 14 + 2 * BUF_SIZE + 50 - 2 * BUF_SIZE && d->flags == 0);
    seen = (uint16_t)(seen + 4);
  }
  q.ring->flags = MEMIF_RING_FLAG_MASK_INT;
  CHECK(m2s_publish(&q) == 0); /* the client polls: no kick */
  teardown();
}

static void m2s_no_room(void) {
  setup(0);
  uint8_t data[BUF_SIZE * 2] = {0};
  CHECK(m2s_free(&q) == 0);
  CHECK(m2s_put(&c, &q, 0, NULL, 0, data, 64, why, sizeof(why)) == FRAME_DROP);
  client_post(1);
  /* Two buffers needed, one posted: dropped, and the posted buffer keeps its capacity. */
  CHECK(m2s_put(&c, &q, 1, NULL, 0, data, BUF_SIZE + 1, why, sizeof(why)) == FRAME_DROP);
  CHECK(q.ring->desc[0].length == BUF_SIZE && q.last == 0);
  CHECK(m2s_put(&c, &q, 1, NULL, 0, data, BUF_SIZE, why, sizeof(why)) == FRAME_OK);
  /* Too large for any chain, and empty. */
  client_post(7);
  CHECK(m2s_put(&c, &q, 7, NULL, 0, data, FRAME_MAX + 1, why, sizeof(why)) == FRAME_DROP);
  CHECK(m2s_put(&c, &q, 7, NULL, 0, data, 0, why, sizeof(why)) == FRAME_DROP);
  q.ring->head = (uint16_t)(q.last + q.size + 1);
  CHECK(m2s_free(&q) == -1);
  teardown();
}

static void m2s_iovecs(void) {
  setup(0);
  client_post(2);
  uint8_t a[5] = {1, 2, 3, 4, 5}, b[BUF_SIZE];
  for (size_t i = 0; i < sizeof(b); i++) b[i] = (uint8_t)(i + 6);
  struct iovec src[4] = {{a, 5}, {NULL, 0}, {b, 3}, {b + 3, BUF_SIZE - 3}}; /* an empty one inside */
  CHECK(m2s_putv(&c, &q, 2, src, 4, 5 + BUF_SIZE, why, sizeof(why)) == FRAME_OK);
  CHECK(q.ring->desc[0].length == BUF_SIZE && q.ring->desc[0].flags == MEMIF_DESC_FLAG_NEXT);
  CHECK(q.ring->desc[1].length == 5 && q.ring->desc[1].flags == 0);
  uint8_t *d0 = mem + q.ring->desc[0].offset, *d1 = mem + q.ring->desc[1].offset;
  int ok = 1;
  for (size_t i = 0; i < BUF_SIZE; i++) ok &= d0[i] == (uint8_t)(i + 1);
  for (size_t i = 0; i < 5; i++) ok &= d1[i] == (uint8_t)(BUF_SIZE + i + 1);
  CHECK(ok);
  teardown();
}

static void m2s_out_of_bounds(void) {
  uint8_t data[64] = {0};
  struct memif_desc bad[] = {
      {.region = 3, .offset = BUF_OFF, .length = BUF_SIZE},
      {.region = 0, .offset = REGION_SIZE - 8, .length = BUF_SIZE},
      {.region = 0, .offset = BUF_OFF, .length = 0}, /* no capacity: would never progress */
      {.region = 0, .offset = 0xfffffff0u, .length = 0x20},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setup(0);
    client_post(1);
    q.ring->desc[0] = bad[i];
    why[0] = 0;
    CHECK(m2s_put(&c, &q, 1, NULL, 0, data, sizeof(data), why, sizeof(why)) == FRAME_BAD);
    CHECK_STR_CONTAINS(why, "unusable");
    CHECK(q.last == 0);
    teardown();
  }
}

static void spans(void) {
  setup(0);
  CHECK(region_span(&c, 0, 0, REGION_SIZE) == mem);
  CHECK(region_span(&c, 0, 1, REGION_SIZE) == NULL);
  CHECK(region_span(&c, 0, REGION_SIZE, 0) != NULL); /* empty span at the end */
  CHECK(region_span(&c, 1, 0, 1) == NULL);
  c.region[0].addr = NULL; /* not mapped (before CONNECT) */
  CHECK(region_span(&c, 0, 0, 1) == NULL);
  teardown();
}

int main(void) {
  RUN(distance);
  RUN(s2m_wraps);
  RUN(s2m_chain);
  RUN(s2m_limits);
  RUN(s2m_out_of_bounds);
  RUN(s2m_absurd_head);
  RUN(m2s_fill_and_wrap);
  RUN(m2s_no_room);
  RUN(m2s_iovecs);
  RUN(m2s_out_of_bounds);
  RUN(spans);
  return test_summary("test_ring");
}

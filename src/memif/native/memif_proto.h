/* memif protocol 2.0 wire format: control messages (128 bytes each over SOCK_SEQPACKET) and the
 * shared-memory ring layout. Byte-compatible with FD.io libmemif and DPDK net_memif; written from
 * the published layout (memif.h), not copied. */
#ifndef MEMIFD_MEMIF_PROTO_H
#define MEMIFD_MEMIF_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define MEMIF_COOKIE 0x3E31F20u
#define MEMIF_VERSION 0x0200 /* major 2, minor 0 */
#define MEMIF_NAME_SZ 32
#define MEMIF_SECRET_SZ 24
#define MEMIF_REASON_SZ 96
#define MEMIF_MSG_SIZE 128

enum memif_msg_type {
  MEMIF_MSG_NONE = 0,
  MEMIF_MSG_ACK = 1,
  MEMIF_MSG_HELLO = 2,
  MEMIF_MSG_INIT = 3,
  MEMIF_MSG_ADD_REGION = 4,
  MEMIF_MSG_ADD_RING = 5,
  MEMIF_MSG_CONNECT = 6,
  MEMIF_MSG_CONNECTED = 7,
  MEMIF_MSG_DISCONNECT = 8,
};

enum memif_mode { MEMIF_MODE_ETHERNET = 0, MEMIF_MODE_IP = 1, MEMIF_MODE_PUNT_INJECT = 2 };

#define MEMIF_ADD_RING_FLAG_S2M 1 /* ring carries client->server (slave->master) traffic */
#define MEMIF_DESC_FLAG_NEXT 1    /* the frame continues in the next descriptor */
#define MEMIF_RING_FLAG_MASK_INT 1 /* the ring's receiver polls: the sender need not kick */

struct __attribute__((packed)) memif_msg_hello {
  uint8_t name[MEMIF_NAME_SZ];
  uint16_t min_version;
  uint16_t max_version;
  uint16_t max_region;   /* highest region index accepted (count - 1) */
  uint16_t max_m2s_ring; /* highest ring index accepted per direction */
  uint16_t max_s2m_ring;
  uint8_t max_log2_ring_size;
};

struct __attribute__((packed)) memif_msg_init {
  uint16_t version;
  uint32_t id;
  uint8_t mode;
  uint8_t secret[MEMIF_SECRET_SZ];
  uint8_t name[MEMIF_NAME_SZ];
};

struct __attribute__((packed)) memif_msg_add_region {
  uint16_t index;
  uint64_t size;
};

struct __attribute__((packed)) memif_msg_add_ring {
  uint16_t flags;
  uint16_t index;
  uint16_t region;
  uint32_t offset;
  uint8_t log2_ring_size;
  uint16_t private_hdr_size;
};

struct __attribute__((packed)) memif_msg_connect {
  uint8_t if_name[MEMIF_NAME_SZ];
};

struct __attribute__((packed)) memif_msg_disconnect {
  uint32_t code;
  uint8_t reason[MEMIF_REASON_SZ];
};

struct __attribute__((packed)) memif_msg {
  uint16_t type;
  union {
    struct memif_msg_hello hello;
    struct memif_msg_init init;
    struct memif_msg_add_region add_region;
    struct memif_msg_add_ring add_ring;
    struct memif_msg_connect connect; /* also CONNECTED */
    struct memif_msg_disconnect disconnect;
    uint8_t raw[MEMIF_MSG_SIZE - 2];
  };
};
_Static_assert(sizeof(struct memif_msg) == MEMIF_MSG_SIZE, "memif messages are 128 bytes");
_Static_assert(offsetof(struct memif_msg, init.mode) == 8, "init.mode offset");
_Static_assert(offsetof(struct memif_msg, add_ring.log2_ring_size) == 12, "add_ring layout");

/* One buffer descriptor. S2M: the client fills region/offset/length. M2S: the client posts
 * region/offset and the buffer's capacity in length; the server overwrites length with the bytes
 * it wrote. */
struct __attribute__((packed)) memif_desc {
  uint16_t flags;
  uint16_t region;
  uint32_t length;
  uint32_t offset;
  uint32_t metadata;
};
_Static_assert(sizeof(struct memif_desc) == 16, "memif descriptors are 16 bytes");

/* Ring header: producer and consumer indices on separate cache lines, descriptors from byte 128.
 * Indices are free-running u16, masked by the ring size. */
struct memif_ring {
  uint32_t cookie;
  uint16_t flags;
  uint16_t head;
  uint8_t pad0[56];
  uint16_t tail;
  uint8_t pad1[62];
  struct memif_desc desc[];
};
_Static_assert(offsetof(struct memif_ring, head) == 6, "ring head offset");
_Static_assert(offsetof(struct memif_ring, tail) == 64, "ring tail offset");
_Static_assert(offsetof(struct memif_ring, desc) == 128, "ring descriptors offset");

static inline uint64_t memif_ring_bytes(unsigned log2_size) {
  return (uint64_t)offsetof(struct memif_ring, desc) + ((uint64_t)sizeof(struct memif_desc) << log2_size);
}

#endif

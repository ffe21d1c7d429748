/* The fast path: memif-to-memif switching of one routing domain on this node without the kernel.
 *
 * multinet is routed: a pod sends every frame to its gateway, whose MAC is the TAP's. A frame from
 * interface A is switched straight into interface B's M2S ring when all of these hold:
 *   - A.fast and B.fast (both ethernet mode, with ips and peermac), B != A, B has a connected client;
 *   - Ethernet destination == A's TAP MAC, EtherType IPv4 (header without options, valid header
 *     checksum, consistent lengths) or IPv6 (no hop-by-hop options header, consistent length);
 *   - source address is one of A.ips (anything else goes to the kernel, whose source check drops
 *     spoofs), destination address is one of B.ips, A and B in the same routing domain (rns);
 *   - TTL / hop limit > 1 (else the kernel answers with ICMP time exceeded).
 * It is then rewritten as the kernel would route it (dst = B.peermac, src = B's TAP MAC, TTL or hop
 * limit - 1, IPv4 checksum updated incrementally, RFC 1624) and copied into B's M2S ring 0; B's
 * ring is published and kicked once per batch (fp_flush). Everything else goes to A's TAP.
 * Pure code over mapped rings: no system calls but the caller's kick. */
#ifndef MEMIFD_FASTPATH_H
#define MEMIFD_FASTPATH_H

#include <stddef.h>
#include <stdint.h>

#include "control.h"
#include "memif_conn.h"
#include "memif_ring.h"

/* Bytes of a frame's head the decision reads and rewrites (Ethernet + IPv6 header; IPv4 without
 * options is shorter): copied once out of the client's memory, then decided on the copy only. */
#define FP_HDR_MAX 54
#define FP_BATCH_MAX 64 /* destinations one batch can touch: flush at least every 64 frames */

/* One interface as the fast path sees it (owned by iface.c, updated on PUT, connect, close). */
struct fp_port {
  uint32_t rns;  /* routing domain: equal ids = the same rns path */
  int fast;      /* may switch directly (ethernet mode, ips and peermac given) */
  uint8_t tapmac[6];
  uint8_t peermac[6];
  unsigned nips;
  struct ip_addr ips[IPS_MAX];
  struct memif_conn *conn; /* the connected client, NULL when there is none */
  int dirty;               /* frames put on conn's M2S ring 0, not yet published */
  void *owner;
};

/* (rns, address) -> port, open addressing; rebuilt from scratch whenever interfaces change. */
struct fp_slot {
  uint32_t rns;
  int used;
  struct ip_addr ip;
  struct fp_port *port; /* NULL: claimed by two ports (ambiguous: left to the kernel) */
};
struct fp_table {
  struct fp_slot *slot;
  uint32_t mask; /* capacity - 1; 0 with slot == NULL when empty */
};

/* Builds t from the ports with fast set (other ports are ignored). 0, or -1 when out of memory
 * (t is then empty: everything goes to the kernel). Frees nothing: fp_table_free the old one. */
int fp_table_build(struct fp_table *t, struct fp_port *const *ports, size_t n);
void fp_table_free(struct fp_table *t);
/* The port owning addr (16 bytes, IPv4 mapped) in rns, NULL if none or ambiguous. */
struct fp_port *fp_lookup(const struct fp_table *t, uint32_t rns, const uint8_t addr[16]);

/* The decision on a copy of the frame's first caplen (min(framelen, FP_HDR_MAX)) bytes: the
 * destination port, with hdr rewritten for it, or NULL (to the kernel; hdr may be changed then). */
struct fp_port *fp_decide(const struct fp_table *t, const struct fp_port *src, uint8_t *hdr, size_t caplen,
                          size_t framelen);

enum fp_result {
  FP_KERNEL,  /* not for the fast path: write it to src's TAP */
  FP_SENT,    /* copied into the destination's ring (published by fp_flush) */
  FP_DROPPED, /* for the fast path, but the destination's ring had no room (no posted buffers) */
  FP_BAD      /* the destination's client broke its M2S ring (why says how): disconnect it */
};

/* Destinations with unpublished frames. */
struct fp_batch {
  struct fp_port *dirty[FP_BATCH_MAX];
  unsigned n;
};

/* One frame from src's S2M ring (f as gathered by s2m_frame). *dst is set for all but FP_KERNEL.
 * The caller must fp_flush before FP_BATCH_MAX frames have gone through one batch. */
enum fp_result fp_forward(const struct fp_table *t, const struct fp_port *src, const struct frame *f,
                          struct fp_batch *b, struct fp_port **dst, char *why, size_t whylen);
/* Publishes every destination's ring 0 and calls kick(eventfd) for those not masking interrupts;
 * ports whose client went away meanwhile (conn NULL) are skipped. */
void fp_flush(struct fp_batch *b, void (*kick)(int efd));

/* The Internet checksum of a header (RFC 1071): 0 when a header with its checksum field is valid. */
uint16_t ip_checksum(const uint8_t *p, size_t len);
/* RFC 1624 eqn. 3: the checksum after a 16-bit word of the summed data changed from old to new. */
uint16_t csum_update16(uint16_t sum, uint16_t old, uint16_t new_);

#endif

/* The forwarder's interfaces: what PUT/DEL/LIST act on, each a memif listener in a pod's netns
 * plus a TAP in its routing domain, with at most one memif client; and the data path between
 * them (batched, polled while busy, interrupt-driven when idle). */
#ifndef MEMIFD_IFACE_H
#define MEMIFD_IFACE_H

#include <stddef.h>
#include <stdint.h>
#include "control.h"
#include "loop.h"

/* Create-or-keep; writes the reply line (without newline) into reply. */
void iface_put(const struct put_req *p, char *reply, size_t n);
/* Tear down if present (DISCONNECT to its client, listener closed, TAP removed). */
void iface_del(const char *id);
/* Emits "OK <n>" then one IF line per interface, sorted by id. */
void iface_list(void (*emit)(void *ctx, const char *line), void *ctx);
/* Tears every interface down (SIGTERM). */
void iface_shutdown(const char *reason);

void iface_event(struct evsrc *src, uint32_t events);
/* One polling round over busy interfaces; returns 1 while any is still busy. */
int iface_poll(void);
/* Milliseconds until the next handshake deadline, -1 if none. */
int iface_next_timeout_ms(void);
void iface_expire(void);

#endif

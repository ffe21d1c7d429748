/* Doing things inside another network namespace: a socket or TAP keeps the namespace it was
 * created in, so the forwarder enters the namespace, creates, and returns to its own. */
#ifndef MEMIFD_NETNS_H
#define MEMIFD_NETNS_H

#include <stddef.h>

/* Remembers the forwarder's own namespace; call once at start. 0 or -1. */
int netns_init(void);
/* Enters the namespace at path (e.g. /var/run/netns/x or /proc/PID/ns/net). 0, or -1 with err. */
int netns_enter(const char *path, char *err, size_t errlen);
/* Back to the forwarder's own namespace (aborts if impossible: nothing else would be safe). */
void netns_leave(void);

/* A listening SOCK_SEQPACKET socket bound to the abstract name "\0<name>" in namespace nspath. */
int memif_listen_in(const char *nspath, const char *name, char *err, size_t errlen);

#endif

/* The TAP device that joins a memif to its routing domain's kernel stack. Not persistent: it
 * disappears with its file descriptor, so a forwarder that dies leaves no TAP behind. */
#ifndef MEMIFD_TAP_H
#define MEMIFD_TAP_H

#include <stddef.h>
#include <stdint.h>

/* Creates TAP `name` in namespace nspath, sets `mac` if non-NULL, brings it up; returns the
 * non-blocking fd and the MAC in mac_out, or -1 with err ("<field>: <reason>"). */
int tap_create(const char *nspath, const char *name, const uint8_t *mac, uint8_t mac_out[6], char *err,
               size_t errlen);

#endif

/* Server side of one memif control connection: the handshake state machine (HELLO, INIT,
 * ADD_REGION, ADD_RING, CONNECT -> CONNECTED), validation of everything the client sends, the
 * mapped regions and the rings it describes. No policy about interfaces lives here. */
#ifndef MEMIFD_MEMIF_CONN_H
#define MEMIFD_MEMIF_CONN_H

#include <stdint.h>
#include "memif_proto.h"

#define MEMIFD_MAX_REGIONS 4
#define MEMIFD_MAX_RINGS 2 /* per direction */
#define MEMIFD_MAX_LOG2_RING 14
#define MEMIFD_MAX_REGION_SIZE (1ull << 30)

/* DISCONNECT codes we send (the reason text says the details). */
enum memif_disc_code {
  DISC_PROTOCOL = 1, /* malformed or unexpected message */
  DISC_VERSION = 2,
  DISC_MODE = 3,
  DISC_SECRET = 4,
  DISC_REGION = 5,
  DISC_RING = 6,
  DISC_BUSY = 7,     /* another client is already attached */
  DISC_TIMEOUT = 8,  /* handshake did not complete in time */
  DISC_SHUTDOWN = 9, /* interface deleted or forwarder stopping */
  DISC_DATAPATH = 10 /* a descriptor or ring index broke the rules */
};

struct memif_cfg {
  uint8_t mode;                        /* enum memif_mode the client must ask for */
  char secret[MEMIF_SECRET_SZ + 1];    /* "" = none required */
  uint8_t max_log2;                    /* largest ring offered in HELLO */
  char name[MEMIF_NAME_SZ];            /* our name in HELLO and CONNECTED */
};

struct memif_region {
  int fd;
  uint64_t size;
  uint8_t *addr; /* mapped on CONNECT */
};

struct memif_queue {
  int present;
  uint16_t region;
  uint32_t offset;
  uint8_t log2;
  int efd;                 /* the client's eventfd for this ring */
  struct memif_ring *ring; /* set on CONNECT */
  uint16_t size;           /* 1 << log2 (log2 <= 14 keeps it in u16) */
  uint16_t last;           /* S2M: next slot to consume; M2S: next slot to fill (our tail) */
};

enum conn_state { CONN_WAIT_INIT, CONN_INITED, CONN_CONNECTED, CONN_CLOSED };
enum conn_event { CONN_EV_NONE, CONN_EV_CONNECTED, CONN_EV_CLOSED };

struct memif_conn {
  int fd;
  enum conn_state state;
  struct memif_cfg cfg;
  struct memif_region region[MEMIFD_MAX_REGIONS];
  unsigned nregions;
  struct memif_queue s2m[MEMIFD_MAX_RINGS];
  struct memif_queue m2s[MEMIFD_MAX_RINGS];
  unsigned ns2m, nm2s; /* valid after CONNECT */
  uint32_t peer_id;
  char peer_name[MEMIF_NAME_SZ + 1];
  uint32_t disc_code;                 /* why it closed: sent or received */
  char disc_reason[MEMIF_REASON_SZ + 32];
};

/* Takes ownership of fd (a connected SOCK_SEQPACKET socket). */
void conn_init(struct memif_conn *c, int fd, const struct memif_cfg *cfg);
/* Sends our HELLO; -1 if the socket refused it (the connection is then closed). */
int conn_start(struct memif_conn *c);
/* Reads and handles one message. CONN_EV_CLOSED: the connection is over (a DISCONNECT was sent
 * if it was our decision); the caller releases it. */
enum conn_event conn_on_readable(struct memif_conn *c);
/* Handles one received message; takes ownership of fd (-1 if none). For tests and the above. */
enum conn_event conn_handle_msg(struct memif_conn *c, const struct memif_msg *m, int fd);
/* Sends DISCONNECT (best effort) and marks the connection closed. */
void conn_disconnect(struct memif_conn *c, uint32_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Unmaps regions and closes every file descriptor. */
void conn_release(struct memif_conn *c);

/* Sends one message with an optional file descriptor; 0 or -1. Shared with the tests' fake client. */
int memif_send(int fd, const struct memif_msg *m, int pass_fd);
/* Receives one message: its size, 0 on EOF, -1 on error (errno); *fd_out is -1 or a received fd;
 * *bad is set when the message was truncated or carried more than one fd (all closed). */
long memif_recv(int fd, struct memif_msg *m, int *fd_out, int *bad);

#endif

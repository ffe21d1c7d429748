/* The agent's control protocol, version 1: one request per line, one reply line per request
 * (LIST: the OK line, then one IF line per interface). Parsing and validation only; no I/O. */
#ifndef MEMIFD_CONTROL_H
#define MEMIFD_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#define CONTROL_PROTOCOL_VERSION 1
#define CONTROL_MAX_LINE 4096
#define ID_MAX 64
#define PATH_MAX_LEN 255
#define SOCK_NAME_MAX 15
#define TAP_NAME_MAX 15 /* IFNAMSIZ - 1 */
#define SECRET_MAX 24
#define LOG2RING_MIN 4
#define LOG2RING_MAX 14
#define LOG2RING_DEFAULT 14
#define IPS_MAX 16 /* addresses per interface in ips= */

/* An address of the pod on this interface, IPv4 stored as IPv4-mapped IPv6 (::ffff:a.b.c.d), so
 * one 16-byte form keys both families. */
struct ip_addr {
  uint8_t b[16];
};

struct put_req {
  char id[ID_MAX + 1];
  char podns[PATH_MAX_LEN + 1];
  char sock[SOCK_NAME_MAX + 1];
  char rns[PATH_MAX_LEN + 1];
  char tap[TAP_NAME_MAX + 1];
  int mode; /* enum memif_mode */
  char secret[SECRET_MAX + 1]; /* "" = none */
  int log2ring;
  int has_mac;
  uint8_t mac[6];
  /* The fast path (memif-to-memif switching on this node, see fastpath.h). Changing only these
   * updates an interface in place. */
  unsigned nips;
  struct ip_addr ips[IPS_MAX];
  int has_peermac;
  uint8_t peermac[6]; /* the pod side's MAC: the Ethernet destination of frames switched to it */
  int fast;           /* 1: may take part in direct switching (needs ethernet mode, ips, peermac) */
};

enum control_cmd { CMD_HELLO, CMD_PUT, CMD_DEL, CMD_LIST };

struct control_req {
  enum control_cmd cmd;
  struct put_req put; /* PUT */
  char id[ID_MAX + 1]; /* DEL */
};

/* Parses one line (without its newline). 0, or -1 with the reply's text after "ERR " in err. */
int control_parse(const char *line, struct control_req *req, char *err, size_t errlen);
/* Same interface parameters (a PUT that changes nothing)? */
int put_same(const struct put_req *a, const struct put_req *b);
/* Same apart from the fast path's fields (ips, peermac, fast): such a PUT updates in place. */
int put_same_iface(const struct put_req *a, const struct put_req *b);
/* Text form of an address (IPv4 for mapped ones) into out[46]. */
void ip_addr_format(const struct ip_addr *a, char out[46]);

#endif

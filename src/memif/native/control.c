#include "control.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ether.h"
#include "memif_proto.h"

#define FAIL(...) (snprintf(err, errlen, __VA_ARGS__), -1)

static int all_of(const char *s, const char *allowed) { return s[strspn(s, allowed)] == 0; }

#define LOWER_DIGITS "abcdefghijklmnopqrstuvwxyz0123456789"
#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZ" LOWER_DIGITS "._-"

static int check_id(const char *v, char *err, size_t errlen) {
  if (!*v) return FAIL("id: empty");
  if (strlen(v) > ID_MAX) return FAIL("id: longer than %d characters", ID_MAX);
  if (!all_of(v, ID_CHARS)) return FAIL("id: only A-Z a-z 0-9 . _ - allowed");
  return 0;
}

static int check_path(const char *field, const char *v, char *err, size_t errlen) {
  if (v[0] != '/') return FAIL("%s: must be an absolute path", field);
  if (strlen(v) > PATH_MAX_LEN) return FAIL("%s: longer than %d characters", field, PATH_MAX_LEN);
  for (const char *p = v; *p; p++)
    if (*p < 0x21 || *p > 0x7e) return FAIL("%s: non-printable character", field);
  for (const char *p = v; (p = strstr(p, "..")); p += 2) {
    int starts = p[-1] == '/', ends = p[2] == '/' || p[2] == 0;
    if (starts && ends) return FAIL("%s: must not contain ..", field);
  }
  return 0;
}

/* Copies a value into a fixed field, checking the limit. */
static int set(char *dst, size_t cap, const char *v) {
  if (strlen(v) >= cap) return -1;
  strcpy(dst, v);
  return 0;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

/* One address of ips=: IPv4 (dotted quad) or IPv6 text, a unicast address a pod can have (not
 * unspecified, loopback, link-local, multicast or broadcast; no IPv4-mapped IPv6). */
static int parse_ip(const char *v, struct ip_addr *a, char *err, size_t errlen) {
  memset(a, 0, sizeof(*a));
  if (!*v) return FAIL("ips: empty address");
  if (strchr(v, ':')) {
    if (inet_pton(AF_INET6, v, a->b) != 1) return FAIL("ips: %.45s is not an IPv4 or IPv6 address", v);
    static const uint8_t zero[16];
    int loopback = !memcmp(a->b, zero, 15) && a->b[15] == 1;
    if (!memcmp(a->b, zero, 16) || loopback || a->b[0] == 0xff || (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) ||
        !memcmp(a->b, v4mapped, 12))
      return FAIL("ips: %.45s is not a unicast address of a pod", v);
    return 0;
  }
  memcpy(a->b, v4mapped, 12);
  if (inet_pton(AF_INET, v, a->b + 12) != 1) return FAIL("ips: %.45s is not an IPv4 or IPv6 address", v);
  const uint8_t *q = a->b + 12;
  if (q[0] == 0 || q[0] == 127 || q[0] >= 224 || (q[0] == 169 && q[1] == 254))
    return FAIL("ips: %.45s is not a unicast address of a pod", v);
  return 0;
}

static int parse_ips(const char *v, struct put_req *p, char *err, size_t errlen) {
  p->nips = 0;
  for (const char *at = v;;) {
    size_t len = strcspn(at, ",");
    char one[64];
    if (len >= sizeof(one)) return FAIL("ips: %.45s... is not an IPv4 or IPv6 address", at);
    memcpy(one, at, len);
    one[len] = 0;
    if (p->nips == IPS_MAX) return FAIL("ips: more than %d addresses", IPS_MAX);
    struct ip_addr *a = &p->ips[p->nips];
    if (parse_ip(one, a, err, errlen) < 0) return -1;
    for (unsigned i = 0; i < p->nips; i++)
      if (!memcmp(p->ips[i].b, a->b, 16)) return FAIL("ips: %s listed twice", one);
    p->nips++;
    if (!at[len]) return 0;
    at += len + 1;
  }
}

void ip_addr_format(const struct ip_addr *a, char out[46]) {
  if (!memcmp(a->b, v4mapped, 12))
    inet_ntop(AF_INET, a->b + 12, out, 46);
  else
    inet_ntop(AF_INET6, a->b, out, 46);
}

static int parse_put(char *args, struct put_req *p, char *err, size_t errlen) {
  memset(p, 0, sizeof(*p));
  p->mode = -1;
  p->log2ring = LOG2RING_DEFAULT;
  enum { F_ID = 1, F_PODNS = 2, F_SOCK = 4, F_RNS = 8, F_TAP = 16, F_MODE = 32, F_SECRET = 64, F_LOG2 = 128, F_MAC = 256,
         F_IPS = 512, F_PEERMAC = 1024, F_FAST = 2048 };
  unsigned seen = 0;
  for (char *tok = args; tok;) {
    char *next = strchr(tok, ' ');
    if (next) *next++ = 0;
    char *eq = strchr(tok, '=');
    if (!eq || eq == tok) return FAIL("PUT: expected key=value, got \"%.40s\"", tok);
    *eq = 0;
    const char *k = tok, *v = eq + 1;
    static const struct {
      const char *key;
      unsigned bit;
    } keys[] = {{"id", F_ID},     {"podns", F_PODNS},   {"sock", F_SOCK},       {"rns", F_RNS},  {"tap", F_TAP},
                {"mode", F_MODE}, {"secret", F_SECRET}, {"log2ring", F_LOG2}, {"mac", F_MAC},
                {"ips", F_IPS},   {"peermac", F_PEERMAC}, {"fast", F_FAST}};
    unsigned bit = 0;
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
      if (!strcmp(k, keys[i].key)) bit = keys[i].bit;
    if (!bit) return FAIL("%.32s: unknown field", k);
    if (seen & bit) return FAIL("%s: given twice", k);
    seen |= bit;
    switch (bit) {
    case F_ID:
      if (check_id(v, err, errlen) < 0) return -1;
      strcpy(p->id, v);
      break;
    case F_PODNS:
    case F_RNS:
      if (check_path(k, v, err, errlen) < 0) return -1;
      strcpy(bit == F_PODNS ? p->podns : p->rns, v);
      break;
    case F_SOCK:
      if (set(p->sock, sizeof(p->sock), v) < 0) return FAIL("sock: longer than %d characters", SOCK_NAME_MAX);
      if (strncmp(v, "memif", 5) != 0 || !all_of(v, LOWER_DIGITS))
        return FAIL("sock: must be [a-z0-9] starting with memif");
      break;
    case F_TAP:
      if (!*v) return FAIL("tap: empty");
      if (set(p->tap, sizeof(p->tap), v) < 0) return FAIL("tap: longer than %d characters", TAP_NAME_MAX);
      if (!all_of(v, LOWER_DIGITS)) return FAIL("tap: only a-z 0-9 allowed");
      break;
    case F_MODE:
      if (!strcmp(v, "ethernet")) p->mode = MEMIF_MODE_ETHERNET;
      else if (!strcmp(v, "ip")) p->mode = MEMIF_MODE_IP;
      else return FAIL("mode: must be ethernet or ip");
      break;
    case F_SECRET:
      if (!*v) return FAIL("secret: empty (omit it for none)");
      if (set(p->secret, sizeof(p->secret), v) < 0) return FAIL("secret: longer than %d characters", SECRET_MAX);
      for (const char *c = v; *c; c++)
        if (*c < 0x21 || *c > 0x7e) return FAIL("secret: non-printable character");
      break;
    case F_LOG2: {
      char *end;
      long n = strtol(v, &end, 10);
      if (!*v || *end || n < LOG2RING_MIN || n > LOG2RING_MAX)
        return FAIL("log2ring: must be an integer %d..%d", LOG2RING_MIN, LOG2RING_MAX);
      p->log2ring = (int)n;
      break;
    }
    case F_MAC: {
      if (mac_parse(v, p->mac) < 0) return FAIL("mac: expected aa:bb:cc:dd:ee:ff");
      static const uint8_t zero[6];
      if (mac_is_multicast(p->mac) || !memcmp(p->mac, zero, 6)) return FAIL("mac: must be a unicast address");
      p->has_mac = 1;
      break;
    }
    case F_IPS:
      if (parse_ips(v, p, err, errlen) < 0) return -1;
      break;
    case F_PEERMAC: {
      if (mac_parse(v, p->peermac) < 0) return FAIL("peermac: expected aa:bb:cc:dd:ee:ff");
      static const uint8_t zero[6];
      if (mac_is_multicast(p->peermac) || !memcmp(p->peermac, zero, 6))
        return FAIL("peermac: must be a unicast address");
      p->has_peermac = 1;
      break;
    }
    case F_FAST:
      if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) return FAIL("fast: must be 0 or 1");
      p->fast = v[0] == '1';
      break;
    }
    tok = next;
  }
  static const struct {
    unsigned bit;
    const char *name;
  } required[] = {{F_ID, "id"}, {F_PODNS, "podns"}, {F_SOCK, "sock"}, {F_RNS, "rns"}, {F_TAP, "tap"}, {F_MODE, "mode"}};
  for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
    if (!(seen & required[i].bit)) return FAIL("%s: missing", required[i].name);
  if (p->has_mac && p->has_peermac && !memcmp(p->mac, p->peermac, 6))
    return FAIL("peermac: must differ from mac (the TAP's)");
  if (p->fast) {
    if (p->mode != MEMIF_MODE_ETHERNET) return FAIL("fast: ip mode interfaces never switch directly");
    if (!p->nips) return FAIL("fast: needs ips");
    if (!p->has_peermac) return FAIL("fast: needs peermac");
  }
  return 0;
}

int control_parse(const char *line, struct control_req *req, char *err, size_t errlen) {
  char buf[CONTROL_MAX_LINE + 1];
  size_t len = strlen(line);
  if (len > CONTROL_MAX_LINE) return FAIL("line longer than %d bytes", CONTROL_MAX_LINE);
  memcpy(buf, line, len + 1);
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] > 0x7e) return FAIL("line is not printable ASCII");
  if (!len) return FAIL("empty line");
  if (buf[0] == ' ' || buf[len - 1] == ' ' || strstr(buf, "  ")) return FAIL("tokens must be separated by single spaces");
  memset(req, 0, sizeof(*req));
  char *args = strchr(buf, ' ');
  if (args) *args++ = 0;
  if (!strcmp(buf, "HELLO")) {
    req->cmd = CMD_HELLO;
    if (!args) return FAIL("HELLO: missing protocol version");
    if (strcmp(args, "1") != 0)
      return FAIL("unsupported protocol version %.16s (this forwarder speaks %d)", args, CONTROL_PROTOCOL_VERSION);
    return 0;
  }
  if (!strcmp(buf, "LIST")) {
    req->cmd = CMD_LIST;
    return args ? FAIL("LIST: takes no arguments") : 0;
  }
  if (!strcmp(buf, "DEL")) {
    req->cmd = CMD_DEL;
    if (!args || strncmp(args, "id=", 3) != 0 || strchr(args, ' ')) return FAIL("DEL: expected DEL id=<id>");
    if (check_id(args + 3, err, errlen) < 0) return -1;
    strcpy(req->id, args + 3);
    return 0;
  }
  if (!strcmp(buf, "PUT")) {
    req->cmd = CMD_PUT;
    if (!args) return FAIL("PUT: missing fields");
    return parse_put(args, &req->put, err, errlen);
  }
  return FAIL("unknown command %.32s (HELLO, PUT, DEL, LIST)", buf);
}

int put_same(const struct put_req *a, const struct put_req *b) {
  return put_same_iface(a, b) && a->nips == b->nips && !memcmp(a->ips, b->ips, a->nips * sizeof(a->ips[0])) &&
         a->has_peermac == b->has_peermac && (!a->has_peermac || !memcmp(a->peermac, b->peermac, 6)) &&
         a->fast == b->fast;
}

int put_same_iface(const struct put_req *a, const struct put_req *b) {
  return !strcmp(a->id, b->id) && !strcmp(a->podns, b->podns) && !strcmp(a->sock, b->sock) &&
         !strcmp(a->rns, b->rns) && !strcmp(a->tap, b->tap) && a->mode == b->mode && !strcmp(a->secret, b->secret) &&
         a->log2ring == b->log2ring && a->has_mac == b->has_mac && (!a->has_mac || !memcmp(a->mac, b->mac, 6));
}

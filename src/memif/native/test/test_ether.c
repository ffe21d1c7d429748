/* IP mode's framing and ARP answers. */
#include <stdint.h>

#include "../ether.h"
#include "test.h"

static const uint8_t tapmac[6] = {0x5a, 1, 2, 3, 4, 5}, podmac[6] = {2, 0, 0, 0, 0, 1};

static void macs(void) {
  uint8_t m[6];
  char s[18];
  CHECK(mac_parse("02:AB:cd:00:ff:10", m) == 0 && m[1] == 0xab && m[5] == 0x10);
  mac_format(m, s);
  CHECK(!strcmp(s, "02:ab:cd:00:ff:10"));
  CHECK(mac_parse("02:ab:cd:00:ff:1", m) < 0);
  CHECK(mac_parse("02:ab:cd:00:ff:1g", m) < 0);
  CHECK(mac_parse("02:ab:cd:00:ff:10:", m) < 0);
  CHECK(mac_parse("02.ab.cd.00.ff.10", m) < 0);
}

static void ip_headers(void) {
  uint8_t h[ETH_HDR_LEN];
  CHECK(ip_eth_header(0x45, tapmac, podmac, h) && h[12] == 0x08 && h[13] == 0x00);
  CHECK(!memcmp(h, tapmac, 6) && !memcmp(h + 6, podmac, 6));
  CHECK(ip_eth_header(0x60, tapmac, podmac, h) && h[12] == 0x86 && h[13] == 0xdd);
  CHECK(!ip_eth_header(0x00, tapmac, podmac, h));
  CHECK(!ip_eth_header(0x50, tapmac, podmac, h));
  uint8_t f[60] = {0};
  f[12] = 0x08;
  CHECK(eth_classify(f, sizeof(f)) == ETH_KIND_IP);
  CHECK(eth_classify(f, ETH_HDR_LEN) == ETH_KIND_OTHER); /* no payload */
  CHECK(eth_classify(f, 10) == ETH_KIND_OTHER);
  f[12] = 0x86, f[13] = 0xdd;
  CHECK(eth_classify(f, sizeof(f)) == ETH_KIND_IP);
  f[12] = 0x08, f[13] = 0x06;
  CHECK(eth_classify(f, sizeof(f)) == ETH_KIND_ARP);
  f[12] = 0x81, f[13] = 0x00;
  CHECK(eth_classify(f, sizeof(f)) == ETH_KIND_OTHER);
}

/* who-has tpa tell spa, from sha */
static void make_request(uint8_t *f, const uint8_t spa[4], const uint8_t tpa[4]) {
  static const uint8_t sha[6] = {0x5a, 1, 2, 3, 4, 5};
  memset(f, 0xff, 6);
  memcpy(f + 6, sha, 6);
  f[12] = 0x08, f[13] = 0x06;
  uint8_t *a = f + 14;
  a[0] = 0, a[1] = 1, a[2] = 8, a[3] = 0, a[4] = 6, a[5] = 4, a[6] = 0, a[7] = 1;
  memcpy(a + 8, sha, 6);
  memcpy(a + 14, spa, 4);
  memset(a + 18, 0, 6);
  memcpy(a + 24, tpa, 4);
}

static void arp(void) {
  uint8_t req[60] = {0}, out[ARP_FRAME_LEN];
  const uint8_t spa[4] = {10, 250, 0, 1}, tpa[4] = {10, 250, 0, 2}, zero[4] = {0};
  make_request(req, spa, tpa);
  CHECK(arp_reply(req, sizeof(req), podmac, out) == ARP_FRAME_LEN);
  CHECK(!memcmp(out, tapmac, 6));     /* to the asker */
  CHECK(!memcmp(out + 6, podmac, 6)); /* from the pod side */
  CHECK(out[12] == 0x08 && out[13] == 0x06);
  CHECK(out[14 + 7] == 2);                     /* reply */
  CHECK(!memcmp(out + 14 + 8, podmac, 6));     /* sha */
  CHECK(!memcmp(out + 14 + 14, tpa, 4));       /* spa = the address asked for */
  CHECK(!memcmp(out + 14 + 18, tapmac, 6));    /* tha */
  CHECK(!memcmp(out + 14 + 24, spa, 4));       /* tpa */
  CHECK(arp_reply(req, 41, podmac, out) == 0); /* truncated */
  req[14 + 7] = 2;
  CHECK(arp_reply(req, sizeof(req), podmac, out) == 0); /* a reply is not answered */
  make_request(req, zero, tpa);
  CHECK(arp_reply(req, sizeof(req), podmac, out) == 0); /* probe */
  make_request(req, tpa, tpa);
  CHECK(arp_reply(req, sizeof(req), podmac, out) == 0); /* announcement */
  make_request(req, spa, tpa);
  req[14 + 2] = 0x86;
  CHECK(arp_reply(req, sizeof(req), podmac, out) == 0); /* not IPv4 */
}

int main(void) {
  RUN(macs);
  RUN(ip_headers);
  RUN(arp);
  return test_summary("test_ether");
}

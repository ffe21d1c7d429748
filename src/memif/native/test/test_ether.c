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

static uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return (uint16_t)s;
}

/* An NS from fe80::1 (MAC tapmac) for target fd00::2. */
static void make_ns(uint8_t *f, int dad) {
  memset(f, 0, 86);
  f[0] = 0x33, f[1] = 0x33, f[2] = 0xff, f[5] = 2;
  memcpy(f + 6, tapmac, 6);
  f[12] = 0x86, f[13] = 0xdd;
  uint8_t *ip = f + 14, *ns = ip + 40;
  ip[0] = 0x60, ip[5] = 32, ip[6] = 58, ip[7] = 255;
  if (!dad) ip[8] = 0xfe, ip[9] = 0x80, ip[23] = 1;
  ip[24] = 0xff, ip[25] = 2, ip[35] = 1, ip[36] = 0xff, ip[39] = 2; /* ff02::1:ff00:2 */
  ns[0] = 135;
  ns[8] = 0xfd, ns[23] = 2; /* target fd00::2 */
}

static void ndp(void) {
  uint8_t req[86], out[NA_FRAME_LEN];
  make_ns(req, 0);
  CHECK(ndp_advert(req, sizeof(req), podmac, out) == NA_FRAME_LEN);
  CHECK(!memcmp(out, tapmac, 6) && !memcmp(out + 6, podmac, 6));
  const uint8_t *ip = out + 14, *na = ip + 40;
  CHECK(ip[0] == 0x60 && ip[5] == 32 && ip[6] == 58 && ip[7] == 255);
  CHECK(!memcmp(ip + 8, req + 14 + 40 + 8, 16));  /* from the target */
  CHECK(!memcmp(ip + 24, req + 14 + 8, 16));      /* to the asker */
  CHECK(na[0] == 136 && na[1] == 0 && na[4] == 0x60);
  CHECK(!memcmp(na + 8, req + 14 + 40 + 8, 16));
  CHECK(na[24] == 2 && na[25] == 1 && !memcmp(na + 26, podmac, 6));
  /* The checksum verifies: the sum over pseudo-header and message is 0xffff. */
  uint32_t sum = 32 + 58;
  for (int i = 8; i < 40; i += 2) sum += (uint32_t)(ip[i] << 8 | ip[i + 1]);
  for (int i = 0; i < 32; i += 2) sum += (uint32_t)(na[i] << 8 | na[i + 1]);
  CHECK(fold(sum) == 0xffff);
  CHECK(eth_classify(req, sizeof(req)) == ETH_KIND_IP);
  CHECK(ndp_advert(req, 14 + 40 + 23, podmac, out) == 0); /* truncated */
  make_ns(req, 1);
  CHECK(ndp_advert(req, sizeof(req), podmac, out) == 0); /* duplicate address detection */
  make_ns(req, 0);
  req[14 + 7] = 64;
  CHECK(ndp_advert(req, sizeof(req), podmac, out) == 0); /* hop limit must be 255 */
  make_ns(req, 0);
  req[14 + 40] = 128;
  CHECK(ndp_advert(req, sizeof(req), podmac, out) == 0); /* an echo request, not an NS */
  make_ns(req, 0);
  req[14 + 40 + 8] = 0xff;
  CHECK(ndp_advert(req, sizeof(req), podmac, out) == 0); /* multicast target */
}

int main(void) {
  RUN(macs);
  RUN(ip_headers);
  RUN(arp);
  RUN(ndp);
  return test_summary("test_ether");
}

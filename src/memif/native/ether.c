#include "ether.h"

#include <stdio.h>
#include <string.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

int mac_parse(const char *s, uint8_t mac[6]) {
  if (strlen(s) != 17) return -1;
  for (int i = 0; i < 6; i++) {
    int hi = hexval(s[3 * i]), lo = hexval(s[3 * i + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && s[3 * i + 2] != ':')) return -1;
    mac[i] = (uint8_t)(hi << 4 | lo);
  }
  return 0;
}

void mac_format(const uint8_t mac[6], char out[18]) {
  snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
}

int ip_eth_header(uint8_t first, const uint8_t dst[6], const uint8_t src[6], uint8_t hdr[ETH_HDR_LEN]) {
  uint16_t type = (first >> 4) == 4 ? ETHERTYPE_IPV4 : (first >> 4) == 6 ? ETHERTYPE_IPV6 : 0;
  if (!type) return 0;
  memcpy(hdr, dst, 6);
  memcpy(hdr + 6, src, 6);
  hdr[12] = (uint8_t)(type >> 8);
  hdr[13] = (uint8_t)type;
  return 1;
}

enum eth_kind eth_classify(const uint8_t *frame, size_t len) {
  if (len < ETH_HDR_LEN) return ETH_KIND_OTHER;
  uint16_t type = (uint16_t)(frame[12] << 8 | frame[13]);
  if (type == ETHERTYPE_IPV4 || type == ETHERTYPE_IPV6) return len > ETH_HDR_LEN ? ETH_KIND_IP : ETH_KIND_OTHER;
  if (type == ETHERTYPE_ARP) return ETH_KIND_ARP;
  return ETH_KIND_OTHER;
}

size_t arp_reply(const uint8_t *req, size_t len, const uint8_t mac[6], uint8_t out[ARP_FRAME_LEN]) {
  static const uint8_t eth_ipv4_request[8] = {0, 1, 8, 0, 6, 4, 0, 1}; /* htype, ptype, hlen, plen, op */
  if (len < ARP_FRAME_LEN || eth_classify(req, len) != ETH_KIND_ARP) return 0;
  const uint8_t *a = req + ETH_HDR_LEN;
  if (memcmp(a, eth_ipv4_request, 8) != 0) return 0;
  const uint8_t *sha = a + 8, *spa = a + 14, *tpa = a + 24;
  static const uint8_t zero[4];
  /* A probe (sender 0.0.0.0) or an announcement (sender == target) must not get an answer, or the
   * kernel would see its own address as taken. */
  if (memcmp(spa, zero, 4) == 0 || memcmp(spa, tpa, 4) == 0) return 0;
  memcpy(out, sha, 6);
  memcpy(out + 6, mac, 6);
  out[12] = ETHERTYPE_ARP >> 8;
  out[13] = ETHERTYPE_ARP & 0xff;
  uint8_t *r = out + ETH_HDR_LEN;
  memcpy(r, eth_ipv4_request, 7);
  r[7] = 2; /* reply */
  memcpy(r + 8, mac, 6);
  memcpy(r + 14, tpa, 4);
  memcpy(r + 18, sha, 6);
  memcpy(r + 24, spa, 4);
  return ARP_FRAME_LEN;
}

/* The ICMPv6 checksum: the pseudo-header (addresses, length, next header) and the message. */
static uint16_t icmp6_checksum(const uint8_t *ip6, const uint8_t *msg, size_t len) {
  uint32_t sum = 0;
  for (int i = 8; i < 40; i += 2) sum += (uint32_t)(ip6[i] << 8 | ip6[i + 1]); /* src, dst */
  sum += (uint32_t)len + 58;
  for (size_t i = 0; i + 1 < len; i += 2) sum += (uint32_t)(msg[i] << 8 | msg[i + 1]);
  if (len & 1) sum += (uint32_t)(msg[len - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

size_t ndp_advert(const uint8_t *req, size_t len, const uint8_t mac[6], uint8_t out[NA_FRAME_LEN]) {
  static const uint8_t unspecified[16];
  if (len < ETH_HDR_LEN + 40 + 24 || req[12] != 0x86 || req[13] != 0xdd) return 0;
  const uint8_t *ip = req + ETH_HDR_LEN, *ns = ip + 40;
  if ((ip[0] >> 4) != 6 || ip[6] != 58 || ip[7] != 255 || ns[0] != 135 || ns[1] != 0) return 0;
  const uint8_t *src = ip + 8, *target = ns + 8;
  /* Duplicate address detection (from ::) must stay unanswered; multicast targets are invalid. */
  if (!memcmp(src, unspecified, 16) || target[0] == 0xff) return 0;
  memset(out, 0, NA_FRAME_LEN);
  memcpy(out, req + 6, 6); /* to the asker */
  memcpy(out + 6, mac, 6);
  out[12] = 0x86;
  out[13] = 0xdd;
  uint8_t *oip = out + ETH_HDR_LEN, *na = oip + 40;
  oip[0] = 0x60;
  oip[5] = 32; /* payload: NA (24) + target link-layer address option (8) */
  oip[6] = 58;
  oip[7] = 255;
  memcpy(oip + 8, target, 16);
  memcpy(oip + 24, src, 16);
  na[0] = 136;
  na[4] = 0x60; /* solicited, override */
  memcpy(na + 8, target, 16);
  na[24] = 2; /* target link-layer address */
  na[25] = 1;
  memcpy(na + 26, mac, 6);
  uint16_t c = icmp6_checksum(oip, na, 32);
  na[2] = (uint8_t)(c >> 8);
  na[3] = (uint8_t)c;
  return NA_FRAME_LEN;
}

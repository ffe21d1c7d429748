/* Ethernet helpers for the TAP side: MAC text form, and IP mode's framing (an IP-mode memif carries
 * bare IP packets; the TAP carries Ethernet, so the forwarder adds/strips the header and answers
 * the kernel's ARP and IPv6 neighbour solicitations on behalf of the client, which has no MAC).
 * Pure functions. */
#ifndef MEMIFD_ETHER_H
#define MEMIFD_ETHER_H

#include <stddef.h>
#include <stdint.h>

#define ETH_HDR_LEN 14
#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_ARP 0x0806
#define ETHERTYPE_IPV6 0x86dd
#define ARP_FRAME_LEN 42

/* "aa:bb:cc:dd:ee:ff" (hex, either case) -> 0, else -1. */
int mac_parse(const char *s, uint8_t mac[6]);
/* Lower-case text form into out[18]. */
void mac_format(const uint8_t mac[6], char out[18]);
static inline int mac_is_multicast(const uint8_t mac[6]) { return mac[0] & 1; }

/* The Ethernet header for a bare IP packet whose first byte is `first` (version nibble);
 * 0 if it is neither IPv4 nor IPv6. */
int ip_eth_header(uint8_t first, const uint8_t dst[6], const uint8_t src[6], uint8_t hdr[ETH_HDR_LEN]);

enum eth_kind { ETH_KIND_IP, ETH_KIND_ARP, ETH_KIND_OTHER };
/* IP frames, ARP, or anything else (IPv6 neighbour solicitations are ETH_KIND_IP: see ndp_advert). */
enum eth_kind eth_classify(const uint8_t *frame, size_t len);

/* The reply, from `mac`, to an ARP request for any IPv4 address; 0 when `req` is not a request to
 * answer (not ARP over Ethernet/IPv4, a reply, a gratuitous announcement or a probe). */
size_t arp_reply(const uint8_t *req, size_t len, const uint8_t mac[6], uint8_t out[ARP_FRAME_LEN]);

/* The Neighbor Advertisement, from `mac`, answering an IPv6 Neighbor Solicitation for any unicast
 * target; 0 when `req` is not one to answer (not an NS, or duplicate address detection). */
#define NA_FRAME_LEN 86
size_t ndp_advert(const uint8_t *req, size_t len, const uint8_t mac[6], uint8_t out[NA_FRAME_LEN]);

#endif

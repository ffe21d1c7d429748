#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "netns.h"

int tap_create(const char *nspath, const char *name, const uint8_t *mac, uint8_t mac_out[6], char *err,
               size_t errlen) {
  char why[160];
  if (netns_enter(nspath, why, sizeof(why)) < 0) {
    snprintf(err, errlen, "rns: %s", why);
    return -1;
  }
  /* Both the tun file and the ioctl socket take the namespace current at their creation. */
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  int saved = errno;
  netns_leave();
  if (fd < 0 || sk < 0) {
    snprintf(err, errlen, "tap: %s: %s", fd < 0 ? "/dev/net/tun" : "socket", strerror(saved));
    goto fail;
  }
  struct ifreq ifr;
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  /* IFF_TUN_EXCL: never attach to an existing (persistent) device of that name. */
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_TUN_EXCL;
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    snprintf(err, errlen, "tap: %s in %s: %s", name, nspath,
             errno == EBUSY ? "a device of that name already exists" : strerror(errno));
    goto fail;
  }
  if (mac) {
    memset(&ifr, 0, sizeof(ifr));
    snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
    if (ioctl(sk, SIOCSIFHWADDR, &ifr) < 0) {
      snprintf(err, errlen, "mac: cannot set it on %s: %s", name, strerror(errno));
      goto fail;
    }
  }
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(sk, SIOCGIFHWADDR, &ifr) < 0) {
    snprintf(err, errlen, "tap: cannot read the MAC of %s: %s", name, strerror(errno));
    goto fail;
  }
  memcpy(mac_out, ifr.ifr_hwaddr.sa_data, 6);
  memset(&ifr, 0, sizeof(ifr));
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0) {
    snprintf(err, errlen, "tap: cannot read the flags of %s: %s", name, strerror(errno));
    goto fail;
  }
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0) {
    snprintf(err, errlen, "tap: cannot set %s up: %s", name, strerror(errno));
    goto fail;
  }
  close(sk);
  return fd;
fail:
  if (fd >= 0) close(fd); /* not persistent: closing removes the device */
  if (sk >= 0) close(sk);
  return -1;
}

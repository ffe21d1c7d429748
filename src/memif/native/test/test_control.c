/* The control protocol's parser: every field's validation, and the line rules. */
#include <stdint.h>

#include "../control.h"
#include "../memif_proto.h"
#include "test.h"

#define GOOD "PUT id=pod-1.a_b podns=/var/run/netns/p sock=memif1 rns=/run/netns/rd tap=mntap0 mode=ethernet"

static struct control_req req;
static char err[256];

static int parse(const char *line) {
  err[0] = 0;
  return control_parse(line, &req, err, sizeof(err));
}

/* The line must fail with a reason starting with `prefix`. */
static void refuses(const char *line, const char *prefix) {
  test_checks++;
  if (parse(line) != -1 || strncmp(err, prefix, strlen(prefix)) != 0) {
    test_failures++;
    fprintf(stderr, "expected \"%s\" to fail with \"%s...\", got \"%s\"\n", line, prefix, err);
  }
}

static void hello(void) {
  CHECK(parse("HELLO 1") == 0 && req.cmd == CMD_HELLO);
  refuses("HELLO 2", "unsupported protocol version 2 (this forwarder speaks 1)");
  refuses("HELLO 1 2", "unsupported protocol version 1 2");
  refuses("HELLO", "HELLO: missing protocol version");
}

static void put_minimal(void) {
  CHECK(parse(GOOD) == 0);
  CHECK(req.cmd == CMD_PUT);
  CHECK(!strcmp(req.put.id, "pod-1.a_b"));
  CHECK(!strcmp(req.put.podns, "/var/run/netns/p"));
  CHECK(!strcmp(req.put.rns, "/run/netns/rd"));
  CHECK(!strcmp(req.put.sock, "memif1"));
  CHECK(!strcmp(req.put.tap, "mntap0"));
  CHECK(req.put.mode == MEMIF_MODE_ETHERNET);
  CHECK(req.put.log2ring == LOG2RING_DEFAULT && LOG2RING_DEFAULT == 14);
  CHECK(req.put.secret[0] == 0 && !req.put.has_mac);
}

static void put_options(void) {
  CHECK(parse("PUT mode=ip tap=t id=x rns=/r podns=/p sock=memif0 secret=s3cr3t log2ring=14 mac=AA:bb:cc:dd:ee:0f") == 0);
  CHECK(req.put.mode == MEMIF_MODE_IP);
  CHECK(!strcmp(req.put.secret, "s3cr3t"));
  CHECK(req.put.log2ring == 14);
  CHECK(req.put.has_mac && req.put.mac[0] == 0xaa && req.put.mac[5] == 0x0f);
  CHECK(parse("PUT id=x podns=/p sock=memif0 rns=/r tap=t mode=ip log2ring=4 secret=123456789012345678901234") == 0);
}

static void put_invalid(void) {
  refuses("PUT id=bad/id podns=/p sock=memif1 rns=/r tap=t mode=ip", "id: ");
  refuses("PUT id= podns=/p sock=memif1 rns=/r tap=t mode=ip", "id: empty");
  refuses("PUT id=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa podns=/p sock=memif1 rns=/r tap=t mode=ip",
          "id: longer than 64");
  refuses("PUT id=x podns=p sock=memif1 rns=/r tap=t mode=ip", "podns: must be an absolute path");
  refuses("PUT id=x podns=/a/../b sock=memif1 rns=/r tap=t mode=ip", "podns: must not contain ..");
  refuses("PUT id=x podns=/a/.. sock=memif1 rns=/r tap=t mode=ip", "podns: must not contain ..");
  CHECK(parse("PUT id=x podns=/a/..b sock=memif1 rns=/r tap=t mode=ip") == 0); /* a name, not a step up */
  refuses("PUT id=x podns=/p sock=memif1 rns=/r/../../etc tap=t mode=ip", "rns: must not contain ..");
  char longpath[400] = "PUT id=x sock=memif1 rns=/r tap=t mode=ip podns=/";
  memset(longpath + strlen(longpath), 'a', 255);
  refuses(longpath, "podns: longer than 255");
  refuses("PUT id=x podns=/p sock=eth1 rns=/r tap=t mode=ip", "sock: must be [a-z0-9] starting with memif");
  refuses("PUT id=x podns=/p sock=memif_1 rns=/r tap=t mode=ip", "sock: must be");
  refuses("PUT id=x podns=/p sock=memifMEMIF rns=/r tap=t mode=ip", "sock: must be");
  refuses("PUT id=x podns=/p sock=memif12345678901 rns=/r tap=t mode=ip", "sock: longer than 15");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=Tap mode=ip", "tap: only a-z 0-9");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t-1 mode=ip", "tap: only a-z 0-9");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=abcdefghijklmnop mode=ip", "tap: longer than 15");
  CHECK(parse("PUT id=x podns=/p sock=memif1 rns=/r tap=abcdefghijklmno mode=ip") == 0);
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=l2", "mode: must be ethernet or ip");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip log2ring=3", "log2ring: must be an integer 4..14");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip log2ring=15", "log2ring: ");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip log2ring=1x", "log2ring: ");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip secret=1234567890123456789012345", "secret: longer than 24");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip secret=", "secret: empty");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip mac=01:00:5e:00:00:01", "mac: must be a unicast");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip mac=00:00:00:00:00:00", "mac: must be a unicast");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip mac=aa:bb:cc:dd:ee", "mac: expected");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip mac=aa-bb-cc-dd-ee-ff", "mac: expected");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t", "mode: missing");
  refuses("PUT podns=/p sock=memif1 rns=/r tap=t mode=ip", "id: missing");
  refuses("PUT id=x id=y podns=/p sock=memif1 rns=/r tap=t mode=ip", "id: given twice");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip sock=eth0", "sock: given twice");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip colour=blue", "colour: unknown field");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip junk", "PUT: expected key=value");
  refuses("PUT", "PUT: missing fields");
}

#define ETH "PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ethernet"

static void put_fast(void) {
  /* Old lines stay valid: no fast path. */
  CHECK(parse(GOOD) == 0 && !req.put.fast && !req.put.nips && !req.put.has_peermac);
  CHECK(parse(ETH " ips=10.1.2.3,fd00::1:2 peermac=0A:58:0a:01:02:03 fast=1") == 0);
  CHECK(req.put.fast == 1 && req.put.nips == 2 && req.put.has_peermac);
  CHECK(req.put.peermac[0] == 0x0a && req.put.peermac[5] == 0x03);
  static const uint8_t v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 1, 2, 3};
  static const uint8_t v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2};
  CHECK(!memcmp(req.put.ips[0].b, v4, 16));
  CHECK(!memcmp(req.put.ips[1].b, v6, 16));
  char text[46];
  ip_addr_format(&req.put.ips[0], text);
  CHECK(!strcmp(text, "10.1.2.3"));
  ip_addr_format(&req.put.ips[1], text);
  CHECK(!strcmp(text, "fd00::1:2"));
  /* Any order; fast=0 with or without the others; ips and peermac alone are fine (unused). */
  CHECK(parse("PUT fast=0 ips=2001:db8::7 id=x podns=/p sock=memif1 rns=/r tap=t mode=ethernet") == 0 &&
        !req.put.fast && req.put.nips == 1);
  CHECK(parse(ETH " fast=0") == 0);
  CHECK(parse(ETH " peermac=02:00:00:00:00:02") == 0 && req.put.has_peermac && !req.put.fast);
  CHECK(parse("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip ips=10.0.0.1 peermac=02:00:00:00:00:02") == 0);
  /* Sixteen addresses are the limit. */
  char many[1024] = ETH " ips=10.0.0.1";
  for (int i = 2; i <= 16; i++) snprintf(many + strlen(many), sizeof(many) - strlen(many), ",10.0.0.%d", i);
  CHECK(parse(many) == 0 && req.put.nips == 16);
  strcat(many, ",10.0.0.17");
  refuses(many, "ips: more than 16 addresses");

  refuses(ETH " ips=", "ips: empty address");
  refuses(ETH " ips=10.0.0.1,", "ips: empty address");
  refuses(ETH " ips=10.0.0.1,,10.0.0.2", "ips: empty address");
  refuses(ETH " ips=10.0.0", "ips: 10.0.0 is not an IPv4 or IPv6 address");
  refuses(ETH " ips=10.0.0.256", "ips: 10.0.0.256 is not an IPv4");
  refuses(ETH " ips=010.0.0.1", "ips: 010.0.0.1 is not an IPv4");
  refuses(ETH " ips=10.0.0.1/24", "ips: 10.0.0.1/24 is not an IPv4");
  refuses(ETH " ips=fd00::1%eth0", "ips: fd00::1%eth0 is not an IPv4");
  refuses(ETH " ips=fd00:::1", "ips: fd00:::1 is not");
  refuses(ETH " ips=example.com", "ips: example.com is not");
  refuses(ETH " ips=0.0.0.0", "ips: 0.0.0.0 is not a unicast address of a pod");
  refuses(ETH " ips=127.0.0.1", "ips: 127.0.0.1 is not a unicast");
  refuses(ETH " ips=169.254.1.1", "ips: 169.254.1.1 is not a unicast");
  refuses(ETH " ips=224.0.0.1", "ips: 224.0.0.1 is not a unicast");
  refuses(ETH " ips=255.255.255.255", "ips: 255.255.255.255 is not a unicast");
  refuses(ETH " ips=::", "ips: :: is not a unicast");
  refuses(ETH " ips=::1", "ips: ::1 is not a unicast");
  refuses(ETH " ips=fe80::1", "ips: fe80::1 is not a unicast");
  refuses(ETH " ips=febf::1", "ips: febf::1 is not a unicast");
  CHECK(parse(ETH " ips=fec0::1") == 0); /* outside fe80::/10 */
  refuses(ETH " ips=ff02::1", "ips: ff02::1 is not a unicast");
  refuses(ETH " ips=::ffff:10.0.0.1", "ips: ::ffff:10.0.0.1 is not a unicast");
  refuses(ETH " ips=10.0.0.1,fd00::1,10.0.0.1", "ips: 10.0.0.1 listed twice");
  refuses(ETH " ips=fd00::1,fd00:0::1", "ips: fd00:0::1 listed twice"); /* same address, other spelling */
  refuses(ETH " ips=10.0.0.1 ips=10.0.0.2", "ips: given twice");
  refuses(ETH " peermac=01:00:5e:00:00:01", "peermac: must be a unicast");
  refuses(ETH " peermac=00:00:00:00:00:00", "peermac: must be a unicast");
  refuses(ETH " peermac=aa:bb", "peermac: expected");
  refuses(ETH " mac=02:00:00:00:00:05 peermac=02:00:00:00:00:05", "peermac: must differ from mac");
  refuses(ETH " fast=2", "fast: must be 0 or 1");
  refuses(ETH " fast=", "fast: must be 0 or 1");
  refuses(ETH " fast=yes", "fast: must be 0 or 1");
  refuses(ETH " fast=1 fast=1", "fast: given twice");
  refuses(ETH " fast=1 peermac=02:00:00:00:00:02", "fast: needs ips");
  refuses(ETH " fast=1 ips=10.0.0.1", "fast: needs peermac");
  refuses("PUT id=x podns=/p sock=memif1 rns=/r tap=t mode=ip fast=1 ips=10.0.0.1 peermac=02:00:00:00:00:02",
          "fast: ip mode interfaces never switch directly");
}

static void lines(void) {
  refuses("", "empty line");
  refuses("PUT  id=x", "tokens must be separated by single spaces");
  refuses(" LIST", "tokens must be");
  refuses("LIST ", "tokens must be");
  refuses("LIST\tx", "line is not printable ASCII");
  refuses("LIST now", "LIST: takes no arguments");
  refuses("list", "unknown command list");
  refuses("FROB a=b", "unknown command FROB");
  char huge[CONTROL_MAX_LINE + 10];
  memset(huge, 'A', sizeof(huge) - 1);
  huge[sizeof(huge) - 1] = 0;
  refuses(huge, "line longer than");
  CHECK(parse("LIST") == 0 && req.cmd == CMD_LIST);
}

static void del(void) {
  CHECK(parse("DEL id=abc") == 0 && req.cmd == CMD_DEL && !strcmp(req.id, "abc"));
  refuses("DEL abc", "DEL: expected DEL id=<id>");
  refuses("DEL id=a b", "DEL: expected");
  refuses("DEL id=a/b", "id: ");
  refuses("DEL", "DEL: expected");
}

static void same(void) {
  struct put_req a, b;
  CHECK(parse(GOOD) == 0);
  a = req.put;
  CHECK(parse(GOOD) == 0);
  b = req.put;
  CHECK(put_same(&a, &b));
  CHECK(parse(GOOD " log2ring=11") == 0);
  CHECK(!put_same(&a, &req.put));
  CHECK(parse(GOOD " mac=02:11:22:33:44:55") == 0);
  CHECK(!put_same(&a, &req.put));
  CHECK(parse(GOOD " secret=x") == 0);
  CHECK(!put_same(&a, &req.put) && !put_same_iface(&a, &req.put));
  /* The fast path's fields: another PUT, but the same interface (updated in place). */
  const char *fast[] = {GOOD " ips=10.0.0.1", GOOD " peermac=02:00:00:00:00:02",
                        GOOD " ips=10.0.0.1 peermac=02:00:00:00:00:02 fast=1"};
  for (size_t i = 0; i < sizeof(fast) / sizeof(fast[0]); i++) {
    CHECK(parse(fast[i]) == 0);
    CHECK(!put_same(&a, &req.put) && put_same_iface(&a, &req.put));
  }
  CHECK(parse(GOOD " ips=10.0.0.1,10.0.0.2") == 0);
  a = req.put;
  CHECK(parse(GOOD " ips=10.0.0.1,10.0.0.2") == 0 && put_same(&a, &req.put));
  CHECK(parse(GOOD " ips=10.0.0.1,10.0.0.3") == 0 && !put_same(&a, &req.put));
  CHECK(parse(GOOD " ips=10.0.0.1") == 0 && !put_same(&a, &req.put));
  CHECK(parse(GOOD " ips=10.0.0.1,10.0.0.2 fast=0") == 0 && put_same(&a, &req.put)); /* 0 is the default */
}

int main(void) {
  RUN(hello);
  RUN(put_minimal);
  RUN(put_options);
  RUN(put_invalid);
  RUN(put_fast);
  RUN(lines);
  RUN(del);
  RUN(same);
  return test_summary("test_control");
}

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
  CHECK(req.put.log2ring == 10);
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
  CHECK(!put_same(&a, &req.put));
}

int main(void) {
  RUN(hello);
  RUN(put_minimal);
  RUN(put_options);
  RUN(put_invalid);
  RUN(lines);
  RUN(del);
  RUN(same);
  return test_summary("test_control");
}

/*
 * multinet CNI shim: what the container runtime executes. It forwards the CNI environment and the
 * config on stdin to the node agent over its unix socket; the agent runs the plugin (the same
 * TypeScript code as dist/multinet-cni.mjs) and answers with the exact stdout and exit code.
 * Why native: a Node process needs 70 ms or more to start on our machines, this needs about 1 ms.
 * Protocol: see src/cni/protocol.ts (shim framing). With no agent: CNI error 11 (try again later).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

extern char **environ;

#define MAX_IN (1 << 20)
#define DEFAULT_SOCKET "/run/multinet/cni.sock"

struct buf { char *p; size_t n, cap; };

static void put(struct buf *b, const char *s, size_t n) {
  if (b->n + n + 1 > b->cap) {
    b->cap = (b->n + n + 1) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) exit(5);
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = 0;
}
static void puts_(struct buf *b, const char *s) { put(b, s, strlen(s)); }

/* JSON string literal of s[0..n). */
static void put_json(struct buf *b, const char *s, size_t n) {
  char esc[8];
  puts_(b, "\"");
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; put(b, esc, 2); }
    else if (c < 0x20) { snprintf(esc, sizeof esc, "\\u%04x", c); puts_(b, esc); }
    else put(b, (const char *)&s[i], 1);
  }
  puts_(b, "\"");
}

/* Value of a top-level-ish string key in the config ("key": "value"), without a JSON parser. */
static int find_string(const char *json, const char *key, char *out, size_t outsz) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = strstr(json, pat);
  if (!p) return 0;
  p += strlen(pat);
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != ':') return 0;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
  if (*p++ != '"') return 0;
  size_t i = 0;
  while (*p && *p != '"' && *p != '\\' && i + 1 < outsz) out[i++] = *p++;
  out[i] = 0;
  return *p == '"';
}

static int fail(const char *version, int code, const char *msg, const char *details) {
  struct buf b = {0};
  puts_(&b, "{\"cniVersion\":");
  put_json(&b, version, strlen(version));
  char num[16];
  snprintf(num, sizeof num, "%d", code);
  puts_(&b, ",\"code\":"); puts_(&b, num);
  puts_(&b, ",\"msg\":"); put_json(&b, msg, strlen(msg));
  puts_(&b, ",\"details\":"); put_json(&b, details, strlen(details));
  puts_(&b, "}\n");
  fwrite(b.p, 1, b.n, stdout);
  return code;
}

static int read_all(int fd, char *p, size_t n) {
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, p + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    got += (size_t)r;
  }
  return 0;
}

int main(void) {
  /* stdin: the network config */
  struct buf in = {0};
  char chunk[65536];
  if (!isatty(0)) {
    for (;;) {
      ssize_t r = read(0, chunk, sizeof chunk);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      if (in.n + (size_t)r > MAX_IN) return fail("1.0.0", 6, "config too large", "stdin over 1 MiB");
      put(&in, chunk, (size_t)r);
    }
  }
  if (!in.p) puts_(&in, "");
  char version[32] = "1.0.0";
  find_string(in.p, "cniVersion", version, sizeof version);

  const char *cmd = getenv("CNI_COMMAND");
  if (cmd && strcmp(cmd, "VERSION") == 0) {
    /* Answered here: VERSION must work without an agent. Keep in step with SUPPORTED_VERSIONS. */
    printf("{\"cniVersion\":\"%s\",\"supportedVersions\":[\"0.3.0\",\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n",
           strcmp(version, "") ? version : "1.1.0");
    return 0;
  }

  char sockpath[108] = DEFAULT_SOCKET;
  const char *envsock = getenv("MULTINET_CNI_SOCKET");
  if (envsock && *envsock) snprintf(sockpath, sizeof sockpath, "%s", envsock);
  else if (!find_string(in.p, "agent_socket", sockpath, sizeof sockpath)) {
    if (!find_string(in.p, "agentSocket", sockpath, sizeof sockpath)) snprintf(sockpath, sizeof sockpath, "%s", DEFAULT_SOCKET);
  }

  /* the request: every variable of the environment (the plugin reads what it needs) */
  struct buf req = {0};
  puts_(&req, "{\"shim\":1,\"env\":{");
  int first = 1;
  for (char **e = environ; *e; e++) {
    const char *eq = strchr(*e, '=');
    if (!eq) continue;
    if (!first) puts_(&req, ",");
    first = 0;
    put_json(&req, *e, (size_t)(eq - *e));
    puts_(&req, ":");
    put_json(&req, eq + 1, strlen(eq + 1));
  }
  puts_(&req, "},\"stdin\":");
  put_json(&req, in.p, in.n);
  puts_(&req, "}\n");

  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return fail(version, 5, "cannot create a socket", strerror(errno));
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof addr);
  addr.sun_family = AF_UNIX;
  snprintf(addr.sun_path, sizeof addr.sun_path, "%s", sockpath);
  if (connect(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
    char details[256];
    snprintf(details, sizeof details, "multinet agent socket %s: %s", sockpath, strerror(errno));
    return fail(version, 11, "multinet agent is not available; try again later", details);
  }
  for (size_t off = 0; off < req.n;) {
    ssize_t w = write(fd, req.p + off, req.n - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return fail(version, 11, "multinet agent hung up; try again later", strerror(errno));
    off += (size_t)w;
  }

  /* header "<exit> <len>\n", then len bytes of stdout */
  char head[64];
  size_t h = 0;
  for (;;) {
    if (h + 1 >= sizeof head) return fail(version, 6, "bad answer from the agent", "header too long");
    ssize_t r = read(fd, head + h, 1);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return fail(version, 11, "multinet agent hung up; try again later", "no answer");
    if (head[h] == '\n') { head[h] = 0; break; }
    h++;
  }
  int code = 0;
  unsigned long len = 0;
  if (sscanf(head, "%d %lu", &code, &len) != 2 || len > MAX_IN) return fail(version, 6, "bad answer from the agent", head);
  char *out = malloc(len + 1);
  if (!out || read_all(fd, out, len) < 0) return fail(version, 11, "multinet agent hung up; try again later", "short answer");
  if (fwrite(out, 1, len, stdout) != len || fflush(stdout) != 0) return 5;
  /* the result reached the runtime: only now may the agent keep an ADD */
  if (write(fd, "ack\n", 4) < 0) { /* the agent undoes the ADD by itself */ }
  close(fd);
  return code;
}

/* The single epoll loop's shared pieces: what each registered fd belongs to, and freeing objects
 * only after the current batch of events (a later event in the batch may still point at them). */
#ifndef MEMIFD_LOOP_H
#define MEMIFD_LOOP_H

#include <stdint.h>

enum ev_kind { EV_CONTROL_LISTEN, EV_CONTROL_CLIENT, EV_SIGNAL, EV_MEMIF_LISTEN, EV_TAP, EV_MEMIF_SOCK, EV_MEMIF_IRQ };

struct evsrc {
  enum ev_kind kind;
  void *obj;
  int idx;
};

int loop_init(void);
int loop_add(int fd, uint32_t events, struct evsrc *src);
int loop_mod(int fd, uint32_t events, struct evsrc *src);
/* Always before close(): fds shared with a client process (eventfds) would otherwise stay in the
 * epoll set after we close ours. */
void loop_del(int fd);
void loop_defer_free(void *p);
void loop_flush(void);
int loop_fd(void);

#endif

/* One line per event on stderr. */
#ifndef MEMIFD_LOG_H
#define MEMIFD_LOG_H

void log_event(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif

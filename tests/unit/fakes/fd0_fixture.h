/* Tests that check "fd 0 was not closed" need fd 0 open. */
#pragma once

/* Opens /dev/null as fd 0 only when fd 0 is closed: when the runner started
 * with stdin closed, Criterion's own descriptors may sit at 0, and replacing
 * one of them would crash the test worker. Returns 0, or -errno. */
int fd0_ensure_open(void);

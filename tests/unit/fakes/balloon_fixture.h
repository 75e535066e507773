/* Shared by the balloon_*_test.c files driven by the simulated Linux driver:
 * one test bed per test (bed, drv), brought up by up()/up_with() and freed
 * by balloon_fixture_teardown (each suite's .fini). */
#ifndef TESTS_FAKES_BALLOON_FIXTURE_H
#define TESTS_FAKES_BALLOON_FIXTURE_H

#include "fakes/fake_balloon_driver.h"

#include <stdint.h>

#define F(b) FBD_BIT(b)
#define F_REPORTING 5
#define MIB (1ULL << 20)
#define PFN(gpa) ((uint32_t)((gpa) >> 12))

extern struct fbd_bed *bed;
extern struct fbd *drv;
extern const struct fbd_opts linux_opts;

void balloon_fixture_teardown(void);
void up_with(const struct balloon_config *cfg, const struct fbd_layout *layout,
	     const struct fbd_opts *o);
void up(void);
struct balloon_metrics metrics(void);
/* A driver reset with discards in flight: it returns only once they are
 * done, so another thread completes them as the main loop would. */
void reset_completing_discards(void);
/* Asserts that exactly these [gpa, len) ranges were queued. */
void expect_ranges(const uint64_t (*want)[2], unsigned n);

#endif

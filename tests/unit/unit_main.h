/* The end of every unit test's main(): run the suite (check forks each
 * test unless CK_FORK=no), report, exit 0 when every test passed. */
#ifndef HASENTINEL_UNIT_MAIN_H
#define HASENTINEL_UNIT_MAIN_H

#include <check.h>
#include <stdlib.h>

static inline int
unit_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif

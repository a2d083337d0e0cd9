//go:build panictest

package guard

import "os"

// A build with the panictest tag panics at TestPoint(where) when
// REDIS_AUTOPILOT_TEST_PANIC names where and the file named by
// REDIS_AUTOPILOT_TEST_PANIC_ARMED exists: the cluster tests use it to
// check that a panic ends in the ordered stop.
func init() {
	testPanic = func(where string) {
		if where != os.Getenv("REDIS_AUTOPILOT_TEST_PANIC") {
			return
		}
		if _, err := os.Stat(os.Getenv("REDIS_AUTOPILOT_TEST_PANIC_ARMED")); err == nil {
			panic("test panic at " + where)
		}
	}
}

package pitr

import (
	"runtime"

	"golang.org/x/sys/unix"
)

// shipNice is the nice value of the shipper's thread. Under contention
// the kernel gives it about a third of what a thread at nice 0 gets
// (weights 335 and 1024), so redis-server, on the same cores, wins: a
// master that ships its own AOF keeps its write throughput, and the
// shipper catches up in the idle time (it reads the AOF at hundreds of
// MB/s, a master writes it at tens).
const shipNice = 5

// lowerPriority runs the calling goroutine on a thread of its own at
// shipNice until the goroutine ends: it never unlocks, so the thread ends
// with it and its nice value is never handed to other goroutines (and the
// Go runtime starts new threads from its template thread, not from a
// locked one).
func lowerPriority() error {
	runtime.LockOSThread()
	return unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), shipNice)
}

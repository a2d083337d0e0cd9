// Package supervisor is the PID 1 core of redis-autopilot: the one place in
// the program that reaps child processes, the restart policy of the
// long-lived children (redis-server, redis-sentinel, the Consul agent), the
// runner of one-shot commands (redis-check-rdb, …), and the translation of
// the signals the container receives into requests for the node.
//
// # Reaping
//
// Exactly one goroutine calls wait4(-1, WNOHANG): the reaper installed by
// [Supervisor.Start]. It runs on every SIGCHLD and on a periodic safety sweep
// and owns the exit status of every child. Every process the program starts
// must therefore be started through [Supervisor.Add] or [Supervisor.Run];
// exec.Cmd.Wait or Run anywhere else in the program races with the reaper and
// loses ("wait: no child process"). Only one Supervisor may be started at a
// time in a process ([ErrReaperRunning]).
//
// A child is registered under a mutex held across fork and registration, and
// the reaper takes that mutex before looking a reaped pid up, so an exit
// status is never lost however early the child exits. Statuses of pids the
// supervisor did not start (orphans re-parented to it) are counted
// ([Supervisor.OrphansReaped]) and logged at debug level. When the process is
// not PID 1 it makes itself a child subreaper (PR_SET_CHILD_SUBREAPER), so
// orphans of its descendants are re-parented to it and reaped too.
//
// Children run in their own process group, with stdin on /dev/null and
// stdout and stderr on one pipe whose lines are logged through hclog under a
// logger named after the child.
//
// # Signals
//
// SIGCHLD is consumed by the reaper. SIGURG belongs to the Go runtime and is
// never touched. Nothing is forwarded to children automatically: the node
// decides, and stops children in order with [Supervisor.StopAll]. The other
// signals arrive as a [Request] on [Supervisor.Requests]:
//
//	SIGTERM, SIGINT, RequestStop    an orderly stop: the node runs its preStop,
//	SIGQUIT                         calls StopAll and exits 0 (SIGQUIT too: Go's
//	                                default, a goroutine dump and exit 2, would
//	                                leave redis and sentinel running)
//	SIGHUP           RequestReload  re-read the sentinel settings Consul
//	                                overrides (quorum, failover-timeout) and
//	                                apply them to the running sentinel; the
//	                                log level and other settings are read
//	                                once, at start
//	SIGUSR1          RequestStatus  dump the node's status to the log
//	SIGUSR2          RequestBackup  take a backup now
//
// # Exit codes
//
// The program exits 0 after an orderly stop. When it ends because a
// required child ([ChildSpec.Required]) ended for good (exited under
// RestartNever, or was given up crash looping), it exits with that child's
// status: its exit code, or 128+signal when it was killed by a signal.
// [ExitCode] maps the outcome to that code.
package supervisor

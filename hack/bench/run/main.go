// Command run is the process runner of `make bench`: it runs one command, its standard
// streams inherited, and reports what the command used, from the kernel's wait4 rusage of that
// one process: wall time, user and system CPU time, peak RSS, exit status.
//
//	bench-run -report 3 -timeout 10m BIN ARGS...
//
// writes "wall_ns user_ns sys_ns maxrss_bytes exit_status" to the file descriptor -report names
// (inherited from the harness) and exits 0; it exits 2 when the command cannot be started.
//
// Why a runner: Go starts a child with vfork (CLONE_VM), so until it execs, the child shares its
// parent's memory, and Linux counts that memory's high-water mark in the child's ru_maxrss. A
// harness that once held a dump in memory would report its own peak for every command it
// starts. This runner is small, and it is what starts the measured command: the command's peak
// RSS is its own (this runner's few megabytes at most).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("bench-run", flag.ContinueOnError)
	report := fs.Int("report", 3, "file descriptor to write the report line to")
	timeout := fs.Duration("timeout", 10*time.Minute, "kill the command after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: bench-run [-report FD] [-timeout D] BIN ARGS...")
		return 2
	}
	out := os.NewFile(uintptr(*report), "report")
	if out == nil {
		fmt.Fprintf(os.Stderr, "bench-run: no file descriptor %d\n", *report)
		return 2
	}
	closeOnExec(out) // the measured command must not hold the report open
	defer out.Close()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, fs.Arg(0), fs.Args()[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		fmt.Fprintf(os.Stderr, "bench-run: %v\n", err)
		return 2
	}
	status := cmd.ProcessState.ExitCode()
	if ctx.Err() != nil {
		status = -2 // killed by the timeout
	}
	user, sys, rss := usage(cmd.ProcessState)
	if _, err := fmt.Fprintf(out, "%d %d %d %d %d\n", wall.Nanoseconds(), user.Nanoseconds(), sys.Nanoseconds(), rss, status); err != nil {
		fmt.Fprintf(os.Stderr, "bench-run: writing the report: %v\n", err)
		return 2
	}
	return 0
}

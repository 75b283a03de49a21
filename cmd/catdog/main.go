// Command catdog takes the Kaggle "Dogs vs. Cats" photos from raw files to trained binary
// classifiers exported as ONNX models, each with its own written record.
//
// Run "catdog --help" for the list of commands.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/catdog-ml/catdog/serve"
)

// interruptGrace is how long catdog waits, after SIGINT or SIGTERM, for the command to
// stop by itself before it exits anyway (see graceFor).
const interruptGrace = 5 * time.Second

// graceFor is how long the command of the command line args has to stop after a signal:
// serve answers the requests in flight for up to serve.ShutdownTimeout, then
// interruptGrace; the others stop at their next step, within interruptGrace.
func graceFor(args []string) time.Duration {
	root := newRootCmd(newApp(io.Discard, io.Discard))
	if cmd, _, err := root.Find(args); err == nil && cmd.Name() == "serve" {
		return serve.ShutdownTimeout + interruptGrace
	}
	return interruptGrace
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run runs the catdog command line args and returns the exit status: 0, 1 for an error,
// 128 + the signal's number (130 for SIGINT, 143 for SIGTERM) for a command stopped by a
// signal. The first SIGINT or SIGTERM cancels the command's context and gives the
// signals back their default action, so that a second one ends catdog at once; a
// command still running its grace period (graceFor) after the first is ended with a
// notice.
func run(args []string, stdout, stderr io.Writer) int {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan struct{})
	defer close(done)
	w := &interrupts{
		sigs:   sigs,
		cancel: cancel,
		grace:  graceFor(args),
		stderr: stderr,
		reset:  func() { signal.Reset(os.Interrupt, syscall.SIGTERM) },
		exit:   os.Exit,
	}
	go w.watch(done)

	err := execute(ctx, newApp(stdout, stderr), args)
	if err == nil {
		return 0
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintln(stderr, "catdog:", shownText(line))
	}
	var sig signalError
	if !errors.As(context.Cause(ctx), &sig) {
		return 1
	}
	if !strings.Contains(err.Error(), sig.Error()) {
		fmt.Fprintln(stderr, "catdog:", sig) // the command said only "context canceled"
	}
	return sig.status()
}

// signalError is the cause of a command's context cancelled by a signal.
type signalError struct{ sig syscall.Signal }

func (e signalError) Error() string {
	switch e.sig {
	case syscall.SIGINT:
		return "interrupted (SIGINT)"
	case syscall.SIGTERM:
		return "interrupted (SIGTERM)"
	}
	return "interrupted (" + e.sig.String() + ")"
}

// status is the exit status of a process ended by the signal, as shells report it.
func (e signalError) status() int { return 128 + int(e.sig) }

// interrupts turns the first signal into a cancelled context and makes sure it ends the
// process, whether the command watches its context or not.
type interrupts struct {
	sigs   <-chan os.Signal
	cancel context.CancelCauseFunc
	grace  time.Duration
	stderr io.Writer
	reset  func()         // gives the signals back their default action
	exit   func(code int) // os.Exit
}

// watch waits for a signal until done is closed. The first signal cancels the context
// with a signalError and calls reset; if done is still open grace later, watch writes a
// notice and exits with the signal's status.
func (in *interrupts) watch(done <-chan struct{}) {
	var s os.Signal
	select {
	case <-done:
		return
	case s = <-in.sigs:
	}
	sig, ok := s.(syscall.Signal)
	if !ok {
		sig = syscall.SIGINT
	}
	in.reset()
	err := signalError{sig}
	in.cancel(err)
	t := time.NewTimer(in.grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		fmt.Fprintf(in.stderr, "\ncatdog: %v, and the command did not stop within %v: exiting now\n", err, in.grace)
		in.exit(err.status())
	}
}

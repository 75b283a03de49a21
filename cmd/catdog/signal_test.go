//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/internal/ort"
	"github.com/catdog-ml/catdog/serve"
)

// TestInterruptsWatch: the first signal cancels the context with its cause and gives the
// signals back their default action; a command still running after the grace period is
// ended with the signal's status and a notice; one that returns in time is not.
func TestInterruptsWatch(t *testing.T) {
	tests := []struct {
		name     string
		sig      syscall.Signal // 0: none
		returns  bool           // the command returns within the grace period
		wantExit int            // -1: no exit
	}{
		{"no signal", 0, true, -1},
		{"SIGTERM, command stops", syscall.SIGTERM, true, -1},
		{"SIGTERM, command deaf", syscall.SIGTERM, false, 143},
		{"SIGINT, command deaf", syscall.SIGINT, false, 130},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sigs := make(chan os.Signal, 1)
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			var stderr bytes.Buffer
			exited, reset := make(chan int, 1), 0
			grace := time.Hour // a command that returns does so well within it, however loaded the machine
			if !tt.returns {
				grace = 20 * time.Millisecond
			}
			in := &interrupts{sigs: sigs, cancel: cancel, grace: grace, stderr: &stderr,
				reset: func() { reset++ }, exit: func(code int) { exited <- code }}
			done, finished := make(chan struct{}), make(chan struct{})
			go func() { in.watch(done); close(finished) }()
			if tt.sig != 0 {
				sigs <- tt.sig
				<-ctx.Done()
				var se signalError
				if !errors.As(context.Cause(ctx), &se) || se.sig != tt.sig {
					t.Errorf("cause %v, want the signal %v", context.Cause(ctx), tt.sig)
				}
			}
			if tt.returns {
				close(done)
			}
			select {
			case <-finished:
			case <-time.After(5 * time.Second):
				t.Fatal("watch neither exited nor returned")
			}
			if !tt.returns {
				close(done)
			}
			select {
			case code := <-exited:
				if code != tt.wantExit {
					t.Errorf("exit(%d), want %d", code, tt.wantExit)
				}
				if want := fmt.Sprintf("did not stop within %v: exiting now", in.grace); !strings.Contains(stderr.String(), want) {
					t.Errorf("notice %q lacks %q", stderr.String(), want)
				}
			default:
				if tt.wantExit >= 0 {
					t.Errorf("no exit, want exit(%d)", tt.wantExit)
				}
			}
			if want := map[bool]int{true: 1, false: 0}[tt.sig != 0]; reset != want {
				t.Errorf("reset %d times, want %d", reset, want)
			}
		})
	}
}

// TestGraceFor: serve has time to answer the requests in flight; the others have
// interruptGrace.
func TestGraceFor(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want time.Duration
	}{
		{[]string{"serve", "--model", "m.onnx"}, serve.ShutdownTimeout + interruptGrace},
		{[]string{"-q", "serve"}, serve.ShutdownTimeout + interruptGrace},
		{[]string{"predict", "--model", "m.onnx", "serve"}, interruptGrace},
		{[]string{"backbones", "list"}, interruptGrace},
		{nil, interruptGrace},
	} {
		if got := graceFor(tc.args); got != tc.want {
			t.Errorf("graceFor(%q) = %v, want %v", tc.args, got, tc.want)
		}
	}
}

// built is the command built once for every test of the package that runs it as a process
// (see TestMain, which removes it).
var built struct {
	once sync.Once
	dir  string
	exe  string
	err  error
}

// buildCatdog builds the command, once per test binary, and returns its path.
func buildCatdog(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go tool to build catdog: %v", err)
	}
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "catdog-test-"); built.err != nil {
			return
		}
		built.exe = filepath.Join(built.dir, "catdog")
		if out, err := exec.Command(goTool, "build", "-o", built.exe, ".").CombinedOutput(); err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.exe
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// manyPhotos makes a folder holding n links to one shared photo, under a long folder name
// so that each result line is long.
func manyPhotos(t *testing.T, n int) string {
	t.Helper()
	photo := fixtures.PhotoFiles(t, "dogs-vs-cats/train", 1)[0]
	dir := filepath.Join(t.TempDir(), strings.Repeat("many-copies-of-one-photo-", 8))
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if err := os.Symlink(photo, filepath.Join(dir, fmt.Sprintf("photo-%05d.jpg", i))); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// started is a catdog process with its stdout on a pipe.
type started struct {
	cmd    *exec.Cmd
	stdout *os.File // the pipe's read end
	stderr bytes.Buffer
	exited chan struct{}
	err    error // Wait's, once exited is closed
}

func startCatdog(t *testing.T, exe string, args ...string) *started {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	lib, err := ort.FindLibrary()
	if err != nil {
		t.Fatal(err)
	}
	p := &started{cmd: exec.Command(exe, args...), stdout: r, exited: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = w, &p.stderr
	p.cmd.Env = append(os.Environ(), ort.LibraryEnv+"="+lib)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
		r.Close()
	})
	return p
}

// waitExit waits at most d for the process to end and returns how long it took.
func (p *started) waitExit(t *testing.T, d time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case <-p.exited:
		return time.Since(start)
	case <-time.After(d):
		t.Fatalf("still running %v after the signal; stderr:\n%s", d, p.stderr.String())
		return 0
	}
}

// signalled reports the signal that killed the process, if one did.
func (p *started) signalled() (syscall.Signal, bool) {
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		return 0, false
	}
	return ws.Signal(), true
}

// blockOnFullPipe waits until the process has filled its stdout pipe (nobody reads it),
// so that it is stuck in a write, deaf to its context: the pipe holds more than half its
// capacity and has not grown for a second.
func (p *started) blockOnFullPipe(t *testing.T) {
	t.Helper()
	fd := int(p.stdout.Fd())
	size, err := unix.FcntlInt(uintptr(fd), unix.F_GETPIPE_SZ, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	last, since := -1, time.Now()
	for {
		n, err := unix.IoctlGetInt(fd, unix.TIOCINQ)
		if err != nil {
			t.Fatal(err)
		}
		if n != last {
			last, since = n, time.Now()
		} else if n > size/2 && time.Since(since) > time.Second {
			return
		}
		select {
		case <-p.exited:
			t.Fatalf("exited before filling its output (%d of %d bytes): %v\n%s", n, size, p.err, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the output pipe holds %d of %d bytes after 30s", n, size)
		}
	}
}

// TestSignals runs the built command: SIGTERM or SIGINT stops predict between groups of
// files within a second, with the complete lines of the groups done and the signal's exit
// status; a command stuck where it cannot see its context (a write to a pipe nobody
// reads) is ended by the grace period, or at once by a second signal.
func TestSignals(t *testing.T) {
	fixtures.RequireORT(t)
	exe := buildCatdog(t)
	model := fixtures.BrightnessModel(t, 32)
	const n = 3000
	dir := manyPhotos(t, n)
	predict := []string{"predict", "-q", "--ep", "cpu", "--model", model, dir}
	line := regexp.MustCompile(`^(dog|cat)  [01]\.\d{4}  ` + regexp.QuoteMeta(dir) + `/photo-\d{5}\.jpg$`)

	for _, tc := range []struct {
		sig    syscall.Signal
		status int
	}{{syscall.SIGTERM, 143}, {syscall.SIGINT, 130}} {
		t.Run(tc.sig.String()+" stops predict", func(t *testing.T) {
			p := startCatdog(t, exe, predict...)
			out := bufio.NewReader(p.stdout)
			first, err := out.ReadString('\n')
			if err != nil {
				t.Fatalf("no first line: %v\n%s", err, p.stderr.String())
			}
			p.cmd.Process.Signal(tc.sig)
			if took := p.waitExit(t, 3*time.Second); took > time.Second {
				t.Errorf("exited %v after the signal, want within 1s", took)
			}
			if got := p.cmd.ProcessState.ExitCode(); got != tc.status {
				t.Errorf("exit status %d, want %d; stderr:\n%s", got, tc.status, p.stderr.String())
			}
			rest := new(bytes.Buffer)
			rest.ReadFrom(out)
			text := first + rest.String()
			if !strings.HasSuffix(text, "\n") {
				t.Errorf("the output ends in a partial line: %q", text[max(0, len(text)-100):])
			}
			lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
			for _, l := range lines {
				if !line.MatchString(l) {
					t.Fatalf("bad line %q", l)
				}
			}
			m := regexp.MustCompile(`catdog: predict: stopped after (\d+) of 3000 files: interrupted \(` + sigName(tc.sig) + `\)\n$`).FindStringSubmatch(p.stderr.String())
			if m == nil || m[1] != fmt.Sprint(len(lines)) || len(lines)%predictChunk != 0 || len(lines) >= n {
				t.Errorf("%d lines; stderr %q, want 'stopped after %d of 3000 files' with a whole number of groups", len(lines), p.stderr.String(), len(lines))
			}
		})
	}

	t.Run("deaf command ended after the grace period", func(t *testing.T) {
		p := startCatdog(t, exe, predict...)
		p.blockOnFullPipe(t)
		p.cmd.Process.Signal(syscall.SIGTERM)
		took := p.waitExit(t, interruptGrace+3*time.Second)
		if took < interruptGrace-500*time.Millisecond {
			t.Errorf("exited %v after the signal, before the grace period", took)
		}
		want := "catdog: interrupted (SIGTERM), and the command did not stop within 5s: exiting now\n"
		if got := p.cmd.ProcessState.ExitCode(); got != 143 || !strings.HasSuffix(p.stderr.String(), want) {
			t.Errorf("exit status %d, stderr %q; want 143 and %q", got, p.stderr.String(), want)
		}
	})

	t.Run("a second signal ends it at once", func(t *testing.T) {
		p := startCatdog(t, exe, predict...)
		p.blockOnFullPipe(t)
		p.cmd.Process.Signal(syscall.SIGINT)
		time.Sleep(300 * time.Millisecond)
		p.cmd.Process.Signal(syscall.SIGINT)
		if took := p.waitExit(t, 3*time.Second); took > time.Second {
			t.Errorf("exited %v after the second signal, want at once", took)
		}
		if sig, ok := p.signalled(); !ok || sig != syscall.SIGINT {
			t.Errorf("ended by %v (%v), want killed by SIGINT", p.cmd.ProcessState, p.err)
		}
	})

	t.Run("results to /dev/full exit 1", func(t *testing.T) {
		full := devFull(t)
		cmd := exec.Command(exe, "models")
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = full, &stderr
		err := cmd.Run()
		want := "catdog: " + fullMessage + "\n"
		if cmd.ProcessState.ExitCode() != 1 || stderr.String() != want {
			t.Errorf("exit %v, stderr %q; want status 1 and %q", err, stderr.String(), want)
		}
	})
}

func sigName(s syscall.Signal) string {
	if s == syscall.SIGINT {
		return "SIGINT"
	}
	return "SIGTERM"
}

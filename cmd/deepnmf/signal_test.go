package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/train"
)

// waitFor polls until cond holds or the process ends; it reports whether cond held.
func waitFor(t *testing.T, p *process, cond func() bool) bool {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if p.exited() {
			return false
		}
		if time.Now().After(deadline) {
			t.Fatal("gave up waiting after 2 minutes")
		}
		time.Sleep(200 * time.Microsecond)
	}
	return true
}

// SIGINT and SIGTERM during training stop the run cleanly (its checkpoint
// resumes bit-identically) and exit 128 + the signal number, as a shell
// reports a process killed by that signal.
func TestSignalExitStatus(t *testing.T) {
	ref, _, _ := referenceRun(t)
	for _, c := range []struct {
		sig  syscall.Signal
		code int
	}{{syscall.SIGINT, 130}, {syscall.SIGTERM, 143}} {
		t.Run(c.sig.String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			p := startDeepnmf(t, tinyRunArgs(t, dir)...)
			// Right after the first checkpoint, three epochs before the end.
			if !waitFor(t, p, func() bool { return train.HasCheckpoint(dir) }) {
				t.Fatalf("deepnmf ended before its first checkpoint: %v\n%s", p.err, p.out.String())
			}
			if err := p.cmd.Process.Signal(c.sig); err != nil {
				t.Fatal(err)
			}
			p.wait(t, 30*time.Second)
			if code := p.cmd.ProcessState.ExitCode(); code != c.code {
				t.Fatalf("exit status %d (%v) after %v, want %d\n%s", code, p.err, c.sig, c.code, p.out.String())
			}
			if !strings.Contains(p.out.String(), "continue with: deepnmf train --resume "+dir) {
				t.Errorf("the output does not say how to continue:\n%s", p.out.String())
			}
			if _, err := os.Stat(filepath.Join(dir, train.FinalFile)); err == nil {
				t.Errorf("the run wrote its final weights although it was stopped in epoch %d", checkpointEpochs(dir))
			}
			r := startDeepnmf(t, "train", "--resume", dir)
			r.wait(t, 2*time.Minute)
			if r.err != nil {
				t.Fatalf("resume: %v\n%s", r.err, r.out.String())
			}
			sameAsReference(t, ref, dir)
		})
	}
}

// H1 of issue 16: with --iterations 1000000 one batch takes hours and two
// SIGINTs in 35 s did nothing. The network now looks at the signal between
// layers and NNMF iterations.
func TestSIGINTInsideAHugeBatch(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	p := startDeepnmf(t, append(tinyRunArgs(t, dir), "--iterations", "1000000")...)
	// run.json is written just before the first batch.
	if !waitFor(t, p, func() bool { return fileExists(filepath.Join(dir, train.RunInfoFile)) }) {
		t.Fatalf("deepnmf ended before training: %v\n%s", p.err, p.out.String())
	}
	time.Sleep(time.Second) // well inside the first batch, whose forward would take hours
	sent := time.Now()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 30*time.Second)
	t.Logf("ended %v after SIGINT:\n%s", time.Since(sent).Round(time.Millisecond), p.out.String())
	if code := p.cmd.ProcessState.ExitCode(); code != 130 {
		t.Fatalf("exit status %d (%v), want 130", code, p.err)
	}
	if !strings.Contains(p.out.String(), "inside batch 1 of") {
		t.Errorf("the message does not say the first batch was interrupted:\n%s", p.out.String())
	}
}

// The first SIGINT asks the command to stop cleanly; a second one, for a
// command that does not stop (here: stuck reading a config from a FIFO
// nobody writes to), kills it at once.
func TestSecondSIGINTKillsAtOnce(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "config.json")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("no FIFO: %v", err)
	}
	dir := filepath.Join(t.TempDir(), "run")
	args := tinyRunArgs(t, dir)
	for i, a := range args {
		if a == "--config" {
			args[i+1] = fifo
		}
	}
	p := startDeepnmf(t, args...)
	// Opening the FIFO for writing without blocking succeeds once deepnmf
	// waits in its open for reading: its signal handling is set up by then.
	var w *os.File
	if !waitFor(t, p, func() bool {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		w = f
		return err == nil
	}) {
		t.Fatalf("deepnmf ended before it read its config: %v\n%s", p.err, p.out.String())
	}
	defer w.Close() // never written: deepnmf's read waits
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
		t.Fatalf("the first SIGINT ended deepnmf (%v) although it cannot stop cleanly while it reads", p.err)
	case <-time.After(500 * time.Millisecond):
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	p.wait(t, 10*time.Second)
	ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
		t.Fatalf("after the second SIGINT: %v, want killed by SIGINT", p.err)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, os.ErrNotExist)
}

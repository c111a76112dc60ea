package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

func main() { os.Exit(run(os.Args[1:])) }

// run executes the command line and returns the exit status: 0, 1 for an
// error, or 128 + the signal number when SIGINT (130) or SIGTERM (143)
// stopped the command, as shells report a process killed by that signal;
// the command itself has by then stopped cleanly (a run keeps its last
// checkpoint). A second signal kills the process at once.
func run(args []string) int {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got atomic.Value
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		got.Store(s)
		signal.Reset(os.Interrupt, syscall.SIGTERM)
		cancel()
	}()
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	signal.Stop(sigs)
	if s, ok := got.Load().(os.Signal); ok {
		if n, ok := s.(syscall.Signal); ok {
			return 128 + int(n)
		}
	}
	if err != nil {
		return 1
	}
	return 0
}

func init() { subcommands = append(subcommands, newVersionCmd) }

// versionLine is what `deepnmf version` and `deepnmf --version` print.
func versionLine() string { return fmt.Sprintf("deepnmf %s", buildVersion()) }

package train

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// copyDir copies the files of src into a new directory dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.Mkdir(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.WriteFile(filepath.Join(dst, e.Name()), readFile(t, filepath.Join(src, e.Name())), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// Found by the SIGKILL test (cmd/deepnmf): a kill between Save's renames and
// its removal of checkpoint.prev left a superseded checkpoint that no resume
// removed; a kill between the two renames left checkpoint.prev the only
// checkpoint, which the next Save removed first of all.
func TestOpenSettlesCheckpointPrev(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	ctx := context.Background()
	full := filepath.Join(t.TempDir(), "full")
	if err := runSession(t, ctx, tinyOptions(2), full, false, ds, nil); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		setup  func(t *testing.T, dir string)
		notice string
	}{
		{"superseded", func(t *testing.T, dir string) {
			copyDir(t, filepath.Join(dir, CheckpointDir), filepath.Join(dir, checkpointPrev))
		}, "checkpoint.prev/ (superseded by checkpoint/)"},
		{"only", func(t *testing.T, dir string) {
			if err := os.Rename(filepath.Join(dir, CheckpointDir), filepath.Join(dir, checkpointPrev)); err != nil {
				t.Fatal(err)
			}
		}, "checkpoint.prev/ (restored as checkpoint/)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "run")
			if err := runSession(t, ctx, tinyOptions(1), dir, false, ds, nil); err != nil {
				t.Fatal(err)
			}
			c.setup(t, dir)
			s, err := Resume(dir, Overrides{Epochs: 2, Data: ds})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(strings.Join(s.Notices, "\n"), c.notice) {
				t.Errorf("notices %q do not mention %q", s.Notices, c.notice)
			}
			if _, err := os.Stat(filepath.Join(dir, checkpointPrev)); err == nil {
				t.Error("checkpoint.prev is still there after the resume opened the run")
			}
			if !fileExists(filepath.Join(dir, CheckpointDir, StateFile)) {
				t.Fatal("no checkpoint/ after the resume opened the run")
			}
			if _, err := s.Train(ctx, new(strings.Builder), nil); err != nil {
				t.Fatal(err)
			}
			s.Close()
			if got, want := metricsWithoutTimes(t, dir), metricsWithoutTimes(t, full); got != want {
				t.Errorf("metrics differ from the uninterrupted run:\n%s\nwant\n%s", got, want)
			}
			sameFiles(t, "final weights", filepath.Join(full, FinalFile), filepath.Join(dir, FinalFile))
		})
	}
}

// Found by the SIGKILL test: a kill between Start's writes of config.json
// and run.json left a directory that the same command refused as "not a run
// directory". run.json now comes first; killed before config.json, the run
// starts over with the same command and with --resume alike.
func TestKilledBeforeConfigJSONStartsOver(t *testing.T) {
	ds := syntheticCIFAR(t, 150, 50)
	ctx := context.Background()
	full := filepath.Join(t.TempDir(), "full")
	if err := runSession(t, ctx, tinyOptions(1), full, false, ds, nil); err != nil {
		t.Fatal(err)
	}
	for _, resume := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "run")
		cctx, cancel := context.WithCancel(ctx)
		cancel() // stopped before its first batch: run.json and config.json written
		if err := runSession(t, cctx, tinyOptions(1), dir, false, ds, nil); !errors.Is(err, ErrInterrupted) {
			t.Fatalf("cancelled run: %v", err)
		}
		if err := os.Remove(filepath.Join(dir, ConfigFile)); err != nil {
			t.Fatal(err)
		}
		if err := CheckStart(dir); err != nil {
			t.Errorf("CheckStart: %v", err)
		}
		if err := runSession(t, ctx, tinyOptions(1), dir, resume, ds, nil); err != nil {
			t.Fatalf("resume %v: %v", resume, err)
		}
		sameFiles(t, "final weights", filepath.Join(full, FinalFile), filepath.Join(dir, FinalFile))
		sameFiles(t, "config", filepath.Join(full, ConfigFile), filepath.Join(dir, ConfigFile))
	}
}

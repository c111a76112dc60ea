package sweep

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/deepnmf/deepnmf/train"
)

func TestStatusStates(t *testing.T) {
	study := t.TempDir()
	p, err := mustSpec(PaperSpec(BudgetFlags{Epochs: 2, Seeds: 1})).WritePlan(study)
	if err != nil {
		t.Fatal(err)
	}
	host, _ := os.Hostname()
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	// 0: finished; 1: running here (this process); 2: its process is gone;
	// 3: failed.
	fakeRun(t, p.Entries[0].RunDir, p.Entries[0].Options, []float64{10, 20}, true)
	for i, st := range []RunStatus{{State: StateRunning, PID: os.Getpid()}, {State: StateRunning, PID: dead.Process.Pid}, {State: StateFailed, Error: "boom"}} {
		e := p.Entries[i+1]
		fakeRun(t, e.RunDir, e.Options, []float64{15}, false)
		st.Host = host
		if err := writeRunStatus(e.RunDir, st); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Status(context.Background(), study)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{StateDone, StateRunning, StateInterrupted, StateFailed}
	for i, e := range s.Entries {
		if e.State != want[i] {
			t.Errorf("entry %d: %s, want %s", i, e.State, want[i])
		}
	}
	if s.Entries[0].Epoch != 2 || *s.Entries[0].TestAcc != 20 || s.Entries[3].Error != "boom" || s.Epochs != 5 || s.Total != 8 {
		t.Errorf("status %+v", s)
	}
	// Final weights alone do not make a run done before its epoch cap.
	os.WriteFile(filepath.Join(p.Entries[2].RunDir, train.FinalFile), nil, 0o644)
	if s, _ := Status(context.Background(), study); s.Entries[2].State == StateDone {
		t.Error("a run with 1 of 2 epochs counts as done")
	}
}

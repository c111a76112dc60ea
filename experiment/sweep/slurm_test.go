package sweep

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestScript(t *testing.T) {
	study := filepath.Join(t.TempDir(), "my study")
	p, err := mustSpec(PaperSpec(BudgetFlags{Epochs: 3, LimitTrain: 1000, Seeds: 2, Threads: 4})).WritePlan(study)
	if err != nil {
		t.Fatal(err)
	}
	path, err := WriteScript(p, SlurmOptions{Partition: "cpu", Time: "1-00:00:00", Mem: "4G", Account: "lab", MaxParallel: 3, Binary: "/opt/deepnmf/bin/deepnmf"})
	if err != nil {
		t.Fatal(err)
	}
	if path != filepath.Join(p.Dir, ScriptFile) {
		t.Errorf("script at %s", path)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, want := range []string{
		"#!/bin/bash\n",
		"#SBATCH --array=0-7%3\n",
		"#SBATCH --partition=cpu\n", "#SBATCH --time=1-00:00:00\n", "#SBATCH --mem=4G\n", "#SBATCH --account=lab\n",
		"#SBATCH --cpus-per-task=4\n",
		"#SBATCH --output=" + filepath.Join(p.Dir, "logs", "%A_%a.out") + "\n",
		"#SBATCH --requeue\n", "#SBATCH --signal=B:USR1@90\n",
		"deepnmf=/opt/deepnmf/bin/deepnmf\n",
		"study='" + p.Dir + "'\n",
		`"$deepnmf" sweep task "$study" --index "$SLURM_ARRAY_TASK_ID" &`,
		"trap on_usr1 USR1", `scontrol requeue "$SLURM_JOB_ID"`,
		"reduced budget: 1,000 images × 3 epochs × 2 seeds",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("script lacks %q:\n%s", want, s)
		}
	}
	if out, err := exec.Command("bash", "-n", path).CombinedOutput(); err != nil {
		t.Errorf("bash -n: %v\n%s", err, out)
	}
	// No partition etc. when not given; no %MAX without --max-parallel.
	s, err = Script(p, SlurmOptions{Binary: "/x/deepnmf"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "#SBATCH --array=0-7\n") || strings.Contains(s, "--partition") || strings.Contains(s, "--mem") {
		t.Errorf("defaults:\n%s", s)
	}
	for _, bad := range []SlurmOptions{{Partition: "a b"}, {Time: "1\n#SBATCH --x"}, {MaxParallel: -1}, {CPUsPerTask: -2}} {
		bad.Binary = "/x/deepnmf"
		if _, err := Script(p, bad); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

func TestGradcheckCommand(t *testing.T) {
	dataDir := filepath.Dir(sharedtest.Path(t, "data", "cifar10"))
	out := t.TempDir()
	stdout, _, err := runDeepnmf("gradcheck", "--out", out, "--iterations", "1,3", "--images", "2", "--data-dir", dataDir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res gradcheckResult
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("%v: %s", err, stdout)
	}
	// 2 cases × 2 T × 5 methods; unrolled's second computation agrees exactly.
	if len(res.Rows) != 20 {
		t.Fatalf("%d rows", len(res.Rows))
	}
	for _, r := range res.Rows {
		if r.Method == "unrolled" && (r.MAEX != 0 || r.MAEW != 0) {
			t.Fatalf("unrolled vs unrolled: %+v", r)
		}
	}
	for _, f := range []string{"gradcheck.csv", "gradcheck.json", "gradcheck_dense.png", "gradcheck_conv.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Fatal(err)
		}
	}
	csv, _ := os.ReadFile(filepath.Join(out, "gradcheck.csv"))
	if !strings.HasPrefix(string(csv), "case,method,iterations,cos_x,mae_x,rel_x,cos_w,mae_w,rel_w\n") {
		t.Fatalf("csv header: %q", csv[:60])
	}
}

func TestGradcheckCommandRejects(t *testing.T) {
	for _, args := range [][]string{
		{"gradcheck", "--no-conv"},
		{"gradcheck", "--no-conv", "--out", t.TempDir(), "--iterations", "0"},
		{"gradcheck", "--out", t.TempDir(), "--images", "0"},
	} {
		if _, err := execute(args...); err == nil {
			t.Fatalf("%v accepted", args)
		}
	}
}

package experiment

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"testing"
)

// fakeBenchEnv makes the test binary act as `deepnmf bench --json` for the
// backward cost tests: it touches iterations × 16 MiB, so that the peak
// memory of each child is known, and prints a bench result.
const fakeBenchEnv = "EXPERIMENT_FAKE_BENCH"

func TestMain(m *testing.M) {
	if os.Getenv(fakeBenchEnv) == "1" {
		fakeBench(os.Args[1:])
		os.Exit(0)
	}
	os.Exit(m.Run())
}

var sink []byte

func fakeBench(args []string) {
	t, method := 0, ""
	for i := 0; i+1 < len(args); i++ {
		switch args[i] {
		case "--iterations":
			t, _ = strconv.Atoi(args[i+1])
		case "--backward":
			method = args[i+1]
		}
	}
	if method == "fail" {
		fmt.Fprintln(os.Stderr, "bench: unknown backward")
		os.Exit(1)
	}
	sink = make([]byte, t<<24)
	for i := range sink {
		sink[i] = byte(i)
	}
	json.NewEncoder(os.Stdout).Encode(map[string]any{
		"model": "fake", "iterations": t, "backward": method,
		"train": map[string]any{"images_per_s_median": 100.0 / float64(t), "step_s_median": 0.5 * float64(t)},
	})
}

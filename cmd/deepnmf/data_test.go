package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

func TestDataVerifyShared(t *testing.T) {
	dir := sharedtest.Path(t, "data")
	for _, tc := range []struct{ name, train, test, perClass string }{
		{"cifar10", "50000", "10000", "airplane   5000   1000"},
		{"mnist", "60000", "10000", "5923    980"},
		{"fashion-mnist", "60000", "10000", "Ankle boot   6000   1000"},
	} {
		out, errOut, err := runDeepnmf("data", "verify", "--dataset", tc.name, "--data-dir", dir)
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, errOut)
		}
		for _, want := range []string{"all", tc.train, tc.test, tc.perClass, "OK"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, want, out)
			}
		}
	}
}

func TestDataVerifyDefects(t *testing.T) {
	src := sharedtest.Path(t, "data", "mnist")
	root := t.TempDir()
	dst := filepath.Join(root, "mnist")
	os.MkdirAll(dst, 0o755)
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Name(), "t10k-labels") {
			b = b[:len(b)/2]
		}
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
	_, _, err = runDeepnmf("data", "verify", "--dataset", "mnist", "--data-dir", root)
	if err == nil || !strings.Contains(err.Error(), "t10k-labels-idx1-ubyte.gz") {
		t.Fatalf("truncated label file: %v", err)
	}
	_, _, err = runDeepnmf("data", "verify", "--dataset", "cifar10", "--data-dir", root)
	if err == nil || !strings.Contains(err.Error(), "deepnmf data fetch --dataset cifar10") {
		t.Fatalf("missing dataset: %v", err)
	}
	if _, _, err := runDeepnmf("data", "verify", "--dataset", "svhn", "--data-dir", root); err == nil {
		t.Fatal("unknown dataset accepted")
	}
	if _, _, err := runDeepnmf("data", "verify"); err == nil {
		t.Fatal("verify without --dataset accepted")
	}
}

// fetch from a mirror (--base-url) that serves the official MNIST files.
func TestDataFetch(t *testing.T) {
	src := sharedtest.Path(t, "data", "mnist")
	srv := httptest.NewServer(http.FileServer(http.Dir(src)))
	defer srv.Close()
	root := t.TempDir()
	out, errOut, err := runDeepnmf("data", "fetch", "--dataset", "mnist", "--data-dir", root, "--base-url", srv.URL)
	if err != nil {
		t.Fatalf("%v\n%s", err, errOut)
	}
	if !strings.Contains(out, "OK") || strings.Count(errOut, "md5 ok") != 4 {
		t.Fatalf("stdout:\n%s\nstderr:\n%s", out, errOut)
	}
	if _, err := os.Stat(filepath.Join(root, "mnist", "train-images-idx3-ubyte.gz")); err != nil {
		t.Fatal(err)
	}
}

func TestDataHelp(t *testing.T) {
	for _, args := range [][]string{{"data", "--help"}, {"data", "verify", "--help"}, {"data", "fetch", "--help"}} {
		out, _, err := runDeepnmf(args...)
		if err != nil || !strings.Contains(out, "Usage:") || !strings.Contains(out, "data-dir") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
}

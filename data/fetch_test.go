package data

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

func md5Hex(b []byte) string {
	s := md5.Sum(b)
	return hex.EncodeToString(s[:])
}

// fileServer serves fixed files by name with Range support, and records the
// Range header of every request.
type fileServer struct {
	mu     sync.Mutex
	files  map[string][]byte
	ranges []string
	// abortAfter > 0: the next response sends that many bytes, then drops the
	// connection.
	abortAfter int
}

func (s *fileServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	body, ok := s.files[strings.TrimPrefix(r.URL.Path, "/")]
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	abort := s.abortAfter
	s.abortAfter = 0
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	if abort > 0 {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
		w.Write(body[:abort])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

func startServer(t *testing.T, files map[string][]byte) (*fileServer, *httptest.Server) {
	fs := &fileServer{files: files}
	srv := httptest.NewServer(fs)
	t.Cleanup(srv.Close)
	return fs, srv
}

func TestFetchFile(t *testing.T) {
	archive := cifarTar(t, officialOrder(cifarMembersFor(11, 5)), true)
	sum := md5Hex(archive)
	corrupt := bytes.Clone(archive)
	corrupt[len(corrupt)/2] ^= 0x55
	fs, srv := startServer(t, map[string][]byte{"good": archive, "bad": corrupt})
	ctx := context.Background()

	t.Run("download", func(t *testing.T) {
		root := t.TempDir()
		dest := filepath.Join(root, "cifar10", cifarArchive)
		os.MkdirAll(filepath.Dir(dest), 0o755)
		if err := FetchFile(ctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err != nil {
			t.Fatal(err)
		}
		if exists(dest + ".part") {
			t.Error("part file left behind")
		}
		if _, err := Load("cifar10", root); err != nil {
			t.Fatal(err)
		}
		// Present with the right checksum: no request.
		n := len(fs.ranges)
		if err := FetchFile(ctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err != nil || len(fs.ranges) != n {
			t.Fatalf("second fetch: %v, %d requests", err, len(fs.ranges)-n)
		}
	})

	t.Run("checksum mismatch", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "f.tar.gz")
		err := FetchFile(ctx, nil, []string{srv.URL + "/bad"}, dest, sum, nil)
		wantErr(t, err, "checksum mismatch", sum)
		if exists(dest) || exists(dest+".part") {
			t.Fatal("a file with a bad checksum was kept")
		}
	})

	t.Run("fallback to the next URL", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "f.tar.gz")
		err := FetchFile(ctx, nil, []string{srv.URL + "/missing", srv.URL + "/bad", srv.URL + "/good"}, dest, sum, nil)
		if err != nil {
			t.Fatal(err)
		}
	})

	t.Run("interrupted then resumed", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "f.tar.gz")
		half := len(archive) / 2
		fs.mu.Lock()
		fs.abortAfter = half
		fs.mu.Unlock()
		if err := FetchFile(ctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err == nil {
			t.Fatal("interrupted download reported success")
		}
		if exists(dest) {
			t.Fatal("interrupted download left a final file")
		}
		st, err := os.Stat(dest + ".part")
		if err != nil || st.Size() == 0 || st.Size() > int64(half) {
			t.Fatalf("part file after interruption: %v, %v", st, err)
		}
		n := len(fs.ranges)
		if err := FetchFile(ctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err != nil {
			t.Fatal(err)
		}
		if want := "bytes=" + strconv.FormatInt(st.Size(), 10) + "-"; len(fs.ranges) != n+1 || fs.ranges[n] != want {
			t.Fatalf("resume requests %q, want one with Range %q", fs.ranges[n:], want)
		}
		got, _ := os.ReadFile(dest)
		if !bytes.Equal(got, archive) || exists(dest+".part") {
			t.Fatal("resumed file differs or part left")
		}
	})

	t.Run("stale part is discarded", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "f.tar.gz")
		writeFile(t, dest+".part", bytes.Repeat([]byte{1}, 100))
		n := len(fs.ranges)
		if err := FetchFile(ctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err != nil {
			t.Fatal(err)
		}
		if r := fs.ranges[n:]; len(r) != 2 || r[0] != "bytes=100-" || r[1] != "" {
			t.Fatalf("requests with Range %q, want a resume then a fresh download", r)
		}
		got, _ := os.ReadFile(dest)
		if !bytes.Equal(got, archive) {
			t.Fatal("file differs")
		}
	})

	t.Run("complete part", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "f.tar.gz")
		writeFile(t, dest+".part", archive)
		n := len(fs.ranges)
		if err := FetchFile(ctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err != nil {
			t.Fatal(err)
		}
		if r := fs.ranges[n:]; len(r) != 1 || r[0] != "bytes="+strconv.Itoa(len(archive))+"-" {
			t.Fatalf("requests with Range %q, want one past the end", r)
		}
	})

	t.Run("cancelled", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "f.tar.gz")
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := FetchFile(cctx, nil, []string{srv.URL + "/good"}, dest, sum, nil); err == nil || exists(dest) {
			t.Fatalf("cancelled fetch: %v", err)
		}
	})
}

// Fetch of a whole dataset from a mirror that serves the official MNIST
// files (../shared/data/mnist holds them, with the published MD5s).
func TestFetchDatasetFromMirror(t *testing.T) {
	src := sharedtest.Path(t, "data", "mnist")
	files := map[string][]byte{}
	for _, f := range remotes["mnist"].files {
		b, err := os.ReadFile(filepath.Join(src, f.name))
		if err != nil {
			t.Fatal(err)
		}
		files["mirror/"+f.name] = b
	}
	_, srv := startServer(t, files)
	root := t.TempDir()
	t.Setenv(MirrorEnv("mnist"), srv.URL+"/mirror/")
	var log bytes.Buffer
	if err := Fetch(context.Background(), "mnist", root, FetchOptions{Log: &log}); err != nil {
		t.Fatal(err)
	}
	if strings.Count(log.String(), "md5 ok") != 4 {
		t.Errorf("log:\n%s", log.String())
	}
	ds, err := Load("mnist", root)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckOfficial(ds); err != nil {
		t.Fatal(err)
	}
	if ds.Root != root {
		t.Errorf("Dataset.Root = %q, want the data root %q", ds.Root, root)
	}
	// A base URL that serves nothing fails, naming the file.
	err = Fetch(context.Background(), "fashion-mnist", root, FetchOptions{BaseURL: srv.URL + "/nothing"})
	wantErr(t, err, "train-images-idx3-ubyte.gz", "404")
	// The extracted CIFAR-10 folder is what the loader reads: with it present
	// nothing is downloaded (this base URL serves nothing).
	if err := os.MkdirAll(filepath.Join(DatasetDir(root, "cifar10"), cifarFolder), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Fetch(context.Background(), "cifar10", root, FetchOptions{BaseURL: srv.URL + "/nothing"}); err != nil {
		t.Errorf("fetch with the extracted CIFAR-10 present: %v", err)
	}
	// ... and leaves no empty folders behind, neither the dataset's nor a
	// data directory it had to create.
	newRoot := filepath.Join(t.TempDir(), "cache", "deepnmf")
	err = Fetch(context.Background(), "fashion-mnist", newRoot, FetchOptions{BaseURL: srv.URL + "/nothing"})
	wantErr(t, err, "404")
	if _, err := os.Stat(filepath.Dir(newRoot)); !os.IsNotExist(err) {
		t.Errorf("a failed fetch left %s behind (%v)", filepath.Dir(newRoot), err)
	}
	if _, err := os.Stat(DatasetDir(root, "fashion-mnist")); !os.IsNotExist(err) {
		t.Errorf("a failed fetch left %s behind (%v)", DatasetDir(root, "fashion-mnist"), err)
	}
	if MirrorEnv("fashion-mnist") != "DEEPNMF_FASHION_MNIST_URL" {
		t.Error(MirrorEnv("fashion-mnist"))
	}
}

package data

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
)

// remoteFile is one official file and its published MD5.
type remoteFile struct {
	name string
	md5  string
}

type remote struct {
	urls  []string // base URLs, tried in order
	files []remoteFile
	// extracted is the folder the archive unpacks to, if the loader reads
	// that instead of the archive when both exist.
	extracted string
}

// The official locations. MNIST's original site often refuses downloads, so
// the mirror torchvision uses comes first.
var remotes = map[string]remote{
	"cifar10": {
		urls:      []string{"https://www.cs.toronto.edu/~kriz/"},
		files:     []remoteFile{{cifarArchive, "c32a1d4ab5d03f1284b67883e8d87530"}},
		extracted: cifarFolder,
	},
	"mnist": {
		urls: []string{"https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"},
		files: []remoteFile{
			{idxFiles.trainImages + ".gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"},
			{idxFiles.trainLabels + ".gz", "d53e105ee54ea40749a09fcbcd1e9432"},
			{idxFiles.testImages + ".gz", "9fb629c4189551a2d022fa330f9573f3"},
			{idxFiles.testLabels + ".gz", "ec29112dd5afa0611ce80d1b7f02629c"},
		},
	},
	"fashion-mnist": {
		urls: []string{"http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"},
		files: []remoteFile{
			{idxFiles.trainImages + ".gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"},
			{idxFiles.trainLabels + ".gz", "25c81989df183df01b3e8a0aad5dffbe"},
			{idxFiles.testImages + ".gz", "bef4ecab320f06d8554ea6380940ec79"},
			{idxFiles.testLabels + ".gz", "bb300cfdad3c16e7a12a480ee83cd310"},
		},
	},
}

// MirrorEnv names the environment variable that replaces the official base
// URL of a dataset, e.g. DEEPNMF_FASHION_MNIST_URL.
func MirrorEnv(name string) string {
	return "DEEPNMF_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_URL"
}

// FetchOptions adjusts Fetch.
type FetchOptions struct {
	// BaseURL replaces the official locations: file f is fetched from
	// BaseURL/f. Empty: $MirrorEnv(name), else the official URLs.
	BaseURL string
	Client  *http.Client // nil: http.DefaultClient
	Log     io.Writer    // one line per file; nil: silent
}

// Fetch downloads the official files of a dataset into root/name, checks
// their published MD5s and keeps them as they are (the loaders read the
// archives directly). Files already present with the right checksum are not
// downloaded again. See FetchFile for resuming.
func Fetch(ctx context.Context, name, root string, opt FetchOptions) error {
	info, err := Lookup(name)
	if err != nil {
		return err
	}
	rem, ok := remotes[info.Name]
	if !ok {
		return fmt.Errorf("%s: no download location known", info.Name)
	}
	urls := rem.urls
	if base := opt.BaseURL; base != "" {
		urls = []string{base}
	} else if base := os.Getenv(MirrorEnv(info.Name)); base != "" {
		urls = []string{base}
	}
	dir := DatasetDir(root, info.Name)
	if rem.extracted != "" {
		if st, err := os.Stat(filepath.Join(dir, rem.extracted)); err == nil && st.IsDir() {
			// The loader would read the folder, never the archive: do not
			// download it (checking the folder is verify's job).
			if opt.Log != nil {
				fmt.Fprintf(opt.Log, "%s: present (extracted); the archive is not downloaded\n", filepath.Join(dir, rem.extracted))
			}
			return nil
		}
	}
	created := missingDirs(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range rem.files {
		var fileURLs []string
		for _, u := range urls {
			fileURLs = append(fileURLs, strings.TrimSuffix(u, "/")+"/"+f.name)
		}
		if err := FetchFile(ctx, opt.Client, fileURLs, filepath.Join(dir, f.name), f.md5, opt.Log); err != nil {
			// A failed first fetch (offline, wrong URL) must not leave an
			// empty dataset folder behind; os.Remove keeps any that holds a
			// part file to resume.
			for _, d := range created {
				os.Remove(d)
			}
			return err
		}
	}
	return nil
}

// missingDirs lists dir and those of its ancestors that do not exist yet,
// deepest first: what MkdirAll(dir) will create.
func missingDirs(dir string) []string {
	var missing []string
	for d := filepath.Clean(dir); ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || filepath.Dir(d) == d {
			return missing
		}
		missing = append(missing, d)
	}
}

// FetchFile downloads dest from the first of urls that delivers a file with
// the MD5 wantMD5 (hex). Bytes arrive in dest+".part"; only a part file whose
// checksum matches is renamed to dest, so an interrupted or corrupt download
// never leaves a file under the final name. A later call resumes a part file
// with an HTTP Range request; if the resumed file fails the checksum, the
// part is discarded and the file downloaded once more from the start.
func FetchFile(ctx context.Context, client *http.Client, urls []string, dest, wantMD5 string, log io.Writer) error {
	if client == nil {
		client = http.DefaultClient
	}
	if log == nil {
		log = io.Discard
	}
	wantMD5 = strings.ToLower(wantMD5)
	if exists(dest) {
		sum, err := md5File(dest)
		if err != nil {
			return err
		}
		if sum == wantMD5 {
			fmt.Fprintf(log, "%s: present, md5 ok\n", dest)
			return nil
		}
		fmt.Fprintf(log, "%s: md5 %s, want %s: downloading again\n", dest, sum, wantMD5)
	}
	part := dest + ".part"
	var errs []error
	for _, u := range urls {
		for attempt := 0; attempt < 2; attempt++ {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("fetch %s: %w", dest, err)
			}
			fmt.Fprintf(log, "%s: downloading %s\n", dest, u)
			resumed, n, err := downloadPart(ctx, client, u, part, log)
			if err != nil {
				errs = append(errs, err)
				break
			}
			sum, err := md5File(part)
			if err != nil {
				return err
			}
			if sum == wantMD5 {
				if err := os.Rename(part, dest); err != nil {
					return err
				}
				fmt.Fprintf(log, "%s: %d bytes, md5 ok\n", dest, n)
				return nil
			}
			if err := os.Remove(part); err != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("%s: checksum mismatch: md5 %s, want %s", u, sum, wantMD5))
			if !resumed {
				break
			}
		}
	}
	return fmt.Errorf("fetch %s: %w", dest, errors.Join(errs...))
}

// downloadPart appends the rest of url to part (all of it when part is
// absent) and reports whether it resumed earlier bytes and the part's final
// size. On a transfer error the bytes received so far stay in part.
func downloadPart(ctx context.Context, client *http.Client, url, part string, log io.Writer) (resumed bool, size int64, err error) {
	var offset int64
	if st, err := os.Stat(part); err == nil {
		offset = st.Size()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false, 0, err
	}
	if offset > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	resp, err := client.Do(req)
	if err != nil {
		return false, 0, err
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && offset > 0:
		want := fmt.Sprintf("bytes %d-", offset)
		if cr := resp.Header.Get("Content-Range"); !strings.HasPrefix(cr, want) {
			return false, 0, fmt.Errorf("GET %s: asked for bytes from %d, got Content-Range %q", url, offset, cr)
		}
		flags |= os.O_APPEND
		resumed = true
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC
		offset = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && offset > 0:
		// The part already holds the whole file; the checksum decides.
		return true, offset, nil
	default:
		return false, 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return false, 0, err
	}
	body := io.Reader(resp.Body)
	if resp.ContentLength > 4<<20 {
		body = &progress{r: resp.Body, log: log, name: part, done: offset, total: offset + resp.ContentLength, next: 10}
	}
	n, copyErr := io.Copy(f, body)
	syncErr := f.Sync()
	closeErr := f.Close()
	if err := errors.Join(copyErr, syncErr, closeErr); err != nil {
		return resumed, offset + n, fmt.Errorf("GET %s: after %d bytes: %w", url, offset+n, err)
	}
	return resumed, offset + n, nil
}

func md5File(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := md5.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// progress logs every 10 % of a large download, up to 90 % (the caller
// reports the end).
type progress struct {
	r           io.Reader
	log         io.Writer
	name        string
	done, total int64
	next        int64 // the next percentage to report
}

func (p *progress) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.done += int64(n)
	if pct := 100 * p.done / p.total; pct >= p.next && pct < 100 {
		fmt.Fprintf(p.log, "%s: %d%% (%.1f of %.1f MB)\n", p.name, pct, float64(p.done)/1e6, float64(p.total)/1e6)
		p.next = pct/10*10 + 10
	}
	return n, err
}

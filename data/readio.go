package data

import (
	"bufio"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// readExactly reads exactly n bytes. The buffer grows with the data that
// actually arrives (starting from hint, capped), so a corrupt header that
// claims gigabytes fails on the missing data instead of allocating them.
func readExactly(r io.Reader, n, hint int64) ([]byte, error) {
	if n < 0 {
		return nil, fmt.Errorf("negative size %d", n)
	}
	const startCap = 1 << 20
	c := min(n, max(hint, startCap))
	buf := make([]byte, 0, c)
	for int64(len(buf)) < n {
		if len(buf) == cap(buf) {
			grown := make([]byte, len(buf), min(2*int64(cap(buf)), n))
			copy(grown, buf)
			buf = grown
		}
		m, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if errors.Is(err, io.EOF) {
			if int64(len(buf)) < n {
				return nil, fmt.Errorf("truncated: %d of %d bytes", len(buf), n)
			}
			break
		}
		if err != nil {
			return nil, err
		}
	}
	return buf, nil
}

// expectEOF checks that r has nothing left. For a gzip stream, reaching EOF
// is also what verifies the CRC, so it must be called even when the payload is
// complete.
func expectEOF(r io.Reader) error {
	var one [1]byte
	for {
		m, err := r.Read(one[:])
		if m > 0 {
			extra, _ := io.Copy(io.Discard, r)
			return fmt.Errorf("%d unexpected trailing bytes", int64(m)+extra)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

var gzipMagic = []byte{0x1f, 0x8b}

// maybeGunzip returns r, decompressed when it starts with the gzip magic, so
// that both the official .gz files and extracted copies load.
func maybeGunzip(r io.Reader) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	head, err := br.Peek(2)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, false, err
	}
	if len(head) == 2 && head[0] == gzipMagic[0] && head[1] == gzipMagic[1] {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, true, fmt.Errorf("gzip header: %w", err)
		}
		return zr, true, nil
	}
	return br, false, nil
}

// fileSize is a hint for readExactly; 0 when unknown.
func fileSize(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	return st.Size()
}

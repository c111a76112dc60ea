package experiment

import (
	"bytes"
	"encoding/xml"
	"image/png"
	"io"
	"os"
	"strings"
	"testing"
)

// checkFigures fails unless every .png decodes as a PNG of some size and
// every .svg parses as XML with an <svg> root.
func checkFigures(t *testing.T, files []string) {
	t.Helper()
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(f, ".png"):
			img, err := png.Decode(bytes.NewReader(raw))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
				t.Fatalf("%s: %v", f, b)
			}
		case strings.HasSuffix(f, ".svg"):
			d := xml.NewDecoder(bytes.NewReader(raw))
			root := ""
			for {
				tok, err := d.Token()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatalf("%s: %v", f, err)
				}
				if se, ok := tok.(xml.StartElement); ok && root == "" {
					root = se.Name.Local
				}
			}
			if root != "svg" {
				t.Fatalf("%s: root element %q", f, root)
			}
		}
	}
}

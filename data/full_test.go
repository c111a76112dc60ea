package data

import (
	"slices"
	"testing"
)

// FillFull followed by CenterCrop is exactly the evaluation loader's batch,
// and the full images are the stored bytes /255.
func TestFillFullThenCenterCropIsFill(t *testing.T) {
	for _, name := range []string{"cifar10", "mnist"} {
		info, err := Lookup(name)
		if err != nil {
			t.Fatal(err)
		}
		split := synthSplit(info, 7, 5)
		cfg := EvalConfig()
		cfg.BatchSize = 3
		l, err := NewLoader(info, split, cfg)
		if err != nil {
			t.Fatal(err)
		}
		c, size, crop := info.Channels, info.Size, info.Crop
		for b := range l.NumBatches() {
			want := make([]float32, 3*c*crop*crop)
			wantLabels := make([]int, 3)
			n, err := l.Fill(0, b, want, wantLabels)
			if err != nil {
				t.Fatal(err)
			}
			full := make([]float32, 3*c*size*size)
			labels := make([]int, 3)
			m, err := l.FillFull(0, b, full, labels)
			if err != nil || m != n {
				t.Fatalf("%s batch %d: FillFull = %d, %v; Fill gave %d", name, b, m, err, n)
			}
			for k := range n {
				img := split.Image(b*3 + k)
				for i, v := range img {
					if full[k*len(img)+i] != float32(v)/255 {
						t.Fatalf("%s batch %d image %d value %d: %v, want %v/255", name, b, k, i, full[k*len(img)+i], v)
					}
				}
			}
			got := make([]float32, 3*c*crop*crop)
			if err := info.CenterCrop(got, full, n); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got[:n*c*crop*crop], want[:n*c*crop*crop]) || !slices.Equal(labels[:n], wantLabels[:n]) {
				t.Fatalf("%s batch %d: center crop of the full images differs from Fill", name, b)
			}
		}
		if err := info.CenterCrop(make([]float32, 1), make([]float32, c*size*size), 1); err == nil {
			t.Errorf("%s: CenterCrop into a short buffer gave no error", name)
		}
	}
}

package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestElementwise(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	x := randomSlice(rng, 37)
	x[3] = float32(math.NaN())
	y := randomSlice(rng, 37)
	y0 := append([]float32(nil), y...)
	if err := Axpy(-1.5, x, y); err != nil {
		t.Fatal(err)
	}
	for i := range y {
		if want := y0[i] + -1.5*x[i]; !sameFloat(y[i], want) {
			t.Fatalf("Axpy[%d] = %g, want %g", i, y[i], want)
		}
	}
	r := make([]float32, len(x))
	if err := ReLU(r, x); err != nil {
		t.Fatal(err)
	}
	dy := randomSlice(rng, len(x))
	dx := make([]float32, len(x))
	if err := ReLUBackward(dx, dy, x); err != nil {
		t.Fatal(err)
	}
	for i, v := range x {
		want := float32(math.Max(float64(v), 0))
		if math.IsNaN(float64(v)) {
			want = v
		}
		if !sameFloat(r[i], want) {
			t.Fatalf("ReLU(%g) = %g", v, r[i])
		}
		wantGrad := float32(0)
		if v > 0 {
			wantGrad = dy[i]
		}
		if dx[i] != wantGrad {
			t.Fatalf("ReLUBackward at x=%g: %g, want %g", v, dx[i], wantGrad)
		}
	}
	s := append([]float32(nil), y0...)
	Scale(0.5, s)
	for i := range s {
		if s[i] != 0.5*y0[i] {
			t.Fatalf("Scale[%d] = %g", i, s[i])
		}
	}
	const rows, cols = 5, 7
	m := randomSlice(rng, rows*cols)
	m0 := append([]float32(nil), m...)
	bias := randomSlice(rng, cols)
	if err := AddRowVector(m, rows, cols, bias); err != nil {
		t.Fatal(err)
	}
	for i := range m {
		if m[i] != m0[i]+bias[i%cols] {
			t.Fatalf("AddRowVector[%d] = %g, want %g", i, m[i], m0[i]+bias[i%cols])
		}
	}
	if AddRowVector(m, rows, cols, bias[1:]) == nil || AddRowVector(m[1:], rows, cols, bias) == nil {
		t.Fatal("AddRowVector accepted a short slice")
	}
	if Axpy(1, x, y[1:]) == nil || ReLU(r[1:], x) == nil || ReLUBackward(dx, dy[1:], x) == nil {
		t.Fatal("length mismatch accepted")
	}
}

func sameFloat(a, b float32) bool {
	return a == b || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
}

func TestReductions(t *testing.T) {
	rng := rand.New(rand.NewPCG(13, 14))
	const rows, cols = 53, 19
	x := randomSlice(rng, rows*cols)
	col32 := make([]float32, cols)
	col64 := make([]float64, cols)
	for j := range col32 {
		col32[j], col64[j] = 1, 1 // the sums are added to what is there
	}
	if err := AddColSums(col32, x, rows, cols); err != nil {
		t.Fatal(err)
	}
	if err := AddColSums64(col64, x, rows, cols); err != nil {
		t.Fatal(err)
	}
	mean := make([]float64, cols)
	dev := make([]float64, cols)
	row := make([]float32, rows)
	if err := RowSums(row, x, rows, cols); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < cols; j++ {
		var s float64
		for i := 0; i < rows; i++ {
			s += float64(x[i*cols+j])
		}
		if math.Abs(float64(col32[j])-(s+1)) > 1e-5 || math.Abs(col64[j]-(s+1)) > 1e-12 {
			t.Fatalf("column %d: sums %g, %g, want %g", j, col32[j], col64[j], s+1)
		}
		mean[j] = s / rows
	}
	if err := AddColSquaredDeviations64(dev, x, rows, cols, mean); err != nil {
		t.Fatal(err)
	}
	for j := 0; j < cols; j++ {
		var ss float64
		for i := 0; i < rows; i++ {
			d := float64(x[i*cols+j]) - mean[j]
			ss += d * d
		}
		if math.Abs(dev[j]-ss) > 1e-12*ss {
			t.Fatalf("column %d: squared deviations %g, want %g", j, dev[j], ss)
		}
	}
	for i := 0; i < rows; i++ {
		var s float64
		for j := 0; j < cols; j++ {
			s += float64(x[i*cols+j])
		}
		if math.Abs(float64(row[i])-s) > 1e-5 {
			t.Fatalf("row %d: sum %g, want %g", i, row[i], s)
		}
	}
	if AddColSums(col32, x[1:], rows, cols) == nil || RowSums(row[1:], x, rows, cols) == nil || AddColSquaredDeviations64(dev, x, rows, cols, mean[1:]) == nil {
		t.Fatal("short slice accepted")
	}
}

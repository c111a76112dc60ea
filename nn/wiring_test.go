package nn

import (
	"math"
	"testing"
)

// The NNMF layers of cnmf_nnmfpool with cnmf_nnmf1x1-style b-slots get the
// settings the official builder gives them (spec §2.1, §6 item 4): the
// --iterations override reaches the a- and b-slot layers only, NNMF pooling
// keeps T = 20, the block flags reach the a/b slots, the pooling flags reach
// the pooling layers, and epsilon reaches all of them as a float32.
func TestNNMFLayerWiring(t *testing.T) {
	cfg, err := Preset("cnmf_nnmfpool")
	if err != nil {
		t.Fatal(err)
	}
	// NNMF b-slots in blocks 0 and 2 so that every slot kind is present.
	cfg.TypeOfNeuronB = []int{1, 2, 1, 2}
	cfg.LocalLearning = []bool{true, false, false, true}
	cfg.LocalLearningKL = []bool{false, false, false, true}
	cfg.LocalLearningPooling = []bool{false, true, false, false}
	cfg.LocalLearningUseKLPooling = []bool{true, true, false, false}
	eps := 0.1
	cfg.Epsilon = &eps
	net, err := Build(cfg, Shape{3, 28, 28}, 2, Options{Threads: 1, Iterations: 3}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	type want struct {
		idx, iters int
		ll, kl     bool
		group      Group
	}
	// Layer indices follow spec §2.3's cnmf_nnmfpool table (the b-slot type
	// does not change them).
	wants := []want{
		{4, 3, true, false, GroupNeuronA},   // block 0 a-slot
		{8, 3, true, false, GroupNeuronB},   // block 0 b-slot (NNMF 1×1)
		{14, 20, false, true, GroupPool},    // block 0 NNMF pooling
		{20, 3, false, false, GroupNeuronA}, // block 1 a-slot
		{30, 20, true, true, GroupPool},     // block 1 NNMF pooling
		{36, 3, false, false, GroupNeuronA}, // block 2 a-slot
		{39, 3, false, false, GroupNeuronB}, // block 2 b-slot
		{44, 3, true, true, GroupNeuronA},   // block 3 a-slot
	}
	seen := 0
	for i, l := range net.layers {
		nl, ok := l.(*nnmfLayer)
		if !ok {
			continue
		}
		if seen >= len(wants) {
			t.Fatalf("unexpected NNMF layer at %d", i)
		}
		w := wants[seen]
		seen++
		c := nl.core.Config
		if i != w.idx || c.Iterations != w.iters || c.LocalLearning != w.ll || c.LocalLearningKL != w.kl || nl.weight.Group != w.group {
			t.Errorf("layer %d: T=%d local=%v kl=%v group %v; want layer %d T=%d local=%v kl=%v group %v",
				i, c.Iterations, c.LocalLearning, c.LocalLearningKL, nl.weight.Group, w.idx, w.iters, w.ll, w.kl, w.group)
		}
		if !c.UseEpsilon || c.Epsilon != float32(0.1) {
			t.Errorf("layer %d: epsilon %v (use %v), want float32(0.1)", i, c.Epsilon, c.UseEpsilon)
		}
	}
	if seen != len(wants) {
		t.Fatalf("%d NNMF layers, want %d", seen, len(wants))
	}
}

// PyTorch's default Conv2d init (kaiming_uniform_ with a = √5, and the bias
// rule) is U(±1/√fan_in) with fan_in = in_channels for a 1×1 kernel: the
// a-slot conv sees C·kh·kw inputs and so does the type-3 pooling conv.
func TestDefaultConvInitBounds(t *testing.T) {
	cfg, err := Preset("cnn")
	if err != nil {
		t.Fatal(err)
	}
	cfg.TypeOfPooling = []int{3, 1, 1, 1}
	net, err := Build(cfg, Shape{3, 28, 28}, 2, Options{Threads: 1}, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer net.Close()
	// kaiming_uniform_: gain = √(2/(1+a²)) = √(1/3), bound = gain·√(3/fan_in).
	bound := func(fanIn int) float64 { return math.Sqrt(1.0/3) * math.Sqrt(3/float64(fanIn)) }
	fans := map[string]int{
		"4.weight": 75, "4.bias": 75, // a-slot conv of block 0: 3·5·5 inputs
		"10.weight": 128, // type-3 pooling conv: 32·2·2 inputs, no bias
	}
	for _, p := range net.Params() {
		fan, ok := fans[p.Key]
		if !ok {
			continue
		}
		delete(fans, p.Key)
		if want := map[bool]Group{true: GroupPool, false: GroupNeuronA}[p.Key == "10.weight"]; p.Group != want {
			t.Errorf("%s: group %v, want %v", p.Key, p.Group, want)
		}
		b := bound(fan)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, v := range p.Data {
			lo, hi = math.Min(lo, float64(v)), math.Max(hi, float64(v))
		}
		// The extremes of n uniform draws come within a few b/n of the bounds.
		slack := 20 * b / float64(len(p.Data))
		if lo < -b || hi > b || lo > -b+slack || hi < b-slack {
			t.Errorf("%s: values in [%g, %g], want U(±%g)", p.Key, lo, hi, b)
		}
	}
	if len(fans) != 0 {
		t.Fatalf("parameters not found: %v", fans)
	}
}

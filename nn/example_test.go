package nn_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/deepnmf/deepnmf/nn"
)

// The paper's network on a random batch: build the cnmf_1x1 preset for
// CIFAR-10's 3×28×28 crops and read the class probabilities.
func ExampleBuild() {
	cfg, err := nn.Preset("cnmf_1x1")
	if err != nil {
		panic(err)
	}
	const batch = 4
	net, err := nn.Build(cfg, nn.Shape{C: 3, H: 28, W: 28}, batch, nn.Options{Threads: 2}, 21)
	if err != nil {
		panic(err)
	}
	defer net.Close() // stops the worker goroutines

	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, batch*3*28*28) // NCHW, values in [0, 1]
	for i := range x {
		x[i] = rng.Float32()
	}
	net.SetTraining(false)
	probs, err := net.Forward(x, batch)
	if err != nil {
		panic(err)
	}
	total, _ := net.ParamCount()
	fmt.Println("parameters:", total)
	fmt.Println("classes:", net.Classes())
	for b := range batch {
		sum := float32(0)
		for _, p := range probs[b*10 : (b+1)*10] {
			sum += p
		}
		fmt.Printf("image %d: probabilities sum to %.3f\n", b, sum)
	}
	// Output:
	// parameters: 167886
	// classes: 10
	// image 0: probabilities sum to 1.000
	// image 1: probabilities sum to 1.000
	// image 2: probabilities sum to 1.000
	// image 3: probabilities sum to 1.000
}

// Weights go to safetensors with the official PyTorch state_dict keys, so
// that the authors' code loads them and deepnmf loads theirs; the file also
// carries the network config, which ConfigFromWeights reads back.
func ExampleNetwork_SaveWeights() {
	cfg, _ := nn.Preset("cnmf_1x1")
	in := nn.Shape{C: 3, H: 28, W: 28}
	a, err := nn.Build(cfg, in, 1, nn.Options{}, 1)
	if err != nil {
		panic(err)
	}
	defer a.Close()
	dir, _ := os.MkdirTemp("", "weights")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.safetensors")
	if err := a.SaveWeights(path, map[string]string{"note": "example"}); err != nil {
		panic(err)
	}

	saved, err := nn.ConfigFromWeights(path)
	if err != nil {
		panic(err)
	}
	b, err := nn.Build(saved, in, 1, nn.Options{}, 2) // another seed: other initial weights
	if err != nil {
		panic(err)
	}
	defer b.Close()
	if err := b.LoadWeights(path); err != nil {
		panic(err)
	}
	tensors, meta, _ := nn.ReadSafetensors(path)
	fmt.Println("first key:", a.Params()[0].Key, tensors[a.Params()[0].Key].Shape)
	fmt.Println("note:", meta["note"])
	same := true
	for i, p := range a.Params() {
		for j, v := range p.Data {
			same = same && b.Params()[i].Data[j] == v
		}
	}
	fmt.Println("loaded weights equal the saved ones:", same)
	// Output:
	// first key: 4.weight [32 75]
	// note: example
	// loaded weights equal the saved ones: true
}

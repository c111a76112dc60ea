package train_test

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/train"
)

// generated is a small MNIST-shaped dataset whose class shows as a bright
// band, made in memory: an Example cannot rely on downloaded data.
func generated(nTrain, nTest int) *data.Dataset {
	info, _ := data.Lookup("mnist")
	rng := rand.New(rand.NewPCG(3, 4))
	split := func(n int) data.Split {
		s := data.Split{N: n, C: 1, H: 28, W: 28, Images: make([]uint8, n*28*28), Labels: make([]uint8, n)}
		for i := range n {
			label := i % 10
			s.Labels[i] = uint8(label)
			img := s.Image(i)
			for j := range img {
				img[j] = uint8(rng.IntN(60))
				if row := j / 28; row >= 2*label+4 && row < 2*label+7 {
					img[j] += 180
				}
			}
		}
		return s
	}
	return &data.Dataset{Info: info, Source: "generated", Train: split(nTrain), Test: split(nTest)}
}

// A short training run of the paper's model on a generated dataset, then
// the trained model opened from its run directory and evaluated, as
// `deepnmf train` and `deepnmf eval --run` do.
func Example() {
	ds := generated(200, 100)
	dir, _ := os.MkdirTemp("", "run")
	defer os.RemoveAll(dir)
	runDir := filepath.Join(dir, "cnmf_1x1-generated")

	opts := train.DefaultOptions() // the paper's protocol
	opts.Data, opts.Dataset = ds, ds.Name
	opts.Epochs = 2
	opts.Iterations = 5 // fewer NNMF iterations than the paper's 20, for speed
	opts.Threads = 2
	// StartOrResume starts the run, or continues it after a kill.
	s, err := train.StartOrResume(opts, runDir)
	if err != nil {
		panic(err)
	}
	sum, err := s.Train(context.Background(), io.Discard, nil)
	s.Close()
	if err != nil {
		panic(err)
	}
	fmt.Println("epochs:", sum.Epochs)
	entries, _ := os.ReadDir(runDir)
	for _, e := range entries {
		if e.Name()[0] != '.' {
			fmt.Println(" ", e.Name())
		}
	}

	m, err := train.OpenModel(train.ModelSource{RunDir: runDir}, train.OpenOptions{Threads: 2})
	if err != nil {
		panic(err)
	}
	defer m.Close()
	r, err := m.Evaluate(context.Background(), ds, train.EvalOptions{})
	if err != nil {
		panic(err)
	}
	fmt.Println("test images:", r.N, "- same accuracy as the run's last epoch:", r.Accuracy == sum.FinalTestAcc)
	// Output:
	// epochs: 2
	//   checkpoint
	//   config.json
	//   final.safetensors
	//   metrics.csv
	//   run.json
	// test images: 100 - same accuracy as the run's last epoch: true
}

package data

import (
	"fmt"
	"strings"
)

// Info describes a dataset: its image geometry, classes, the training
// augmentation that applies to it (spec §3.1) and the official split sizes.
type Info struct {
	Name     string // the name used on the command line and as the folder name
	Title    string
	Channels int
	Size     int // images are Size×Size
	Crop     int // RandomCrop during training, CenterCrop for evaluation
	Flip     bool
	Jitter   bool
	Classes  []string
	// Official per-class image counts, which Verify checks.
	TrainPerClass []int
	TestPerClass  []int
}

// NumClasses is the number of label values.
func (in Info) NumClasses() int { return len(in.Classes) }

func repeat(v, n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = v
	}
	return s
}

var datasets = []Info{
	{
		Name: "cifar10", Title: "CIFAR-10", Channels: 3, Size: 32, Crop: 28, Flip: true, Jitter: true,
		Classes: []string{"airplane", "automobile", "bird", "cat", "deer",
			"dog", "frog", "horse", "ship", "truck"},
		TrainPerClass: repeat(5000, 10),
		TestPerClass:  repeat(1000, 10),
	},
	{
		Name: "mnist", Title: "MNIST", Channels: 1, Size: 28, Crop: 24,
		Classes: []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"},
		// Published with the dataset (and in ../shared/data/README.md).
		TrainPerClass: []int{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949},
		TestPerClass:  []int{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009},
	},
	{
		Name: "fashion-mnist", Title: "Fashion-MNIST", Channels: 1, Size: 28, Crop: 24,
		Classes: []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
			"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"},
		TrainPerClass: repeat(6000, 10),
		TestPerClass:  repeat(1000, 10),
	},
}

// Names lists the datasets this package knows.
func Names() []string {
	names := make([]string, len(datasets))
	for i, d := range datasets {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the description of a dataset by name.
func Lookup(name string) (Info, error) {
	for _, d := range datasets {
		if d.Name == name {
			return d, nil
		}
	}
	return Info{}, fmt.Errorf("unknown dataset %q (known: %s)", name, strings.Join(Names(), ", "))
}

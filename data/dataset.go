package data

import "fmt"

// Split is one part (train or test) of a dataset, kept as the files store
// it: uint8 pixels, N×C×H×W, and one label per image.
type Split struct {
	Images     []uint8
	Labels     []uint8
	N, C, H, W int
}

// ImageSize is the number of bytes of one image, C·H·W.
func (s *Split) ImageSize() int { return s.C * s.H * s.W }

// Image returns image i (CHW), sharing memory with the split.
func (s *Split) Image(i int) []uint8 {
	n := s.ImageSize()
	return s.Images[i*n : (i+1)*n]
}

// Label returns the class of image i.
func (s *Split) Label(i int) int { return int(s.Labels[i]) }

// ClassCounts counts the images of each class.
func (s *Split) ClassCounts(classes int) []int {
	counts := make([]int, classes)
	for _, l := range s.Labels {
		if int(l) < classes {
			counts[l]++
		}
	}
	return counts
}

// Dataset is a loaded dataset with both splits in memory.
type Dataset struct {
	Info
	Source      string // the folder or archive the splits were read from
	Root        string // the data root it was loaded from (see ResolveDir)
	Train, Test Split
}

// Load reads a whole dataset from the data root (see ResolveDir). Missing
// files give an error wrapping ErrNotFound that says where it looked and how
// to fetch them; defective files give an error naming the file and the
// defect.
func Load(name, root string) (*Dataset, error) {
	info, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	var ds *Dataset
	switch info.Name {
	case "cifar10":
		ds, err = loadCIFAR(info, root)
	case "mnist", "fashion-mnist":
		ds, err = loadIDXDataset(info, root)
	default:
		return nil, fmt.Errorf("dataset %s has no loader", name)
	}
	if err != nil {
		return nil, err
	}
	ds.Root = root
	return ds, nil
}

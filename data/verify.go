package data

import (
	"errors"
	"fmt"
)

// CheckOfficial compares a loaded dataset with the official one: the number
// of images of each class in each split. Load has already checked the file
// structure (members, headers, record sizes, labels); this catches files that
// are well formed but incomplete or not the dataset they claim to be.
func CheckOfficial(ds *Dataset) error {
	var errs []error
	for _, sp := range []struct {
		name  string
		split *Split
		want  []int
	}{{"train", &ds.Train, ds.TrainPerClass}, {"test", &ds.Test, ds.TestPerClass}} {
		got := sp.split.ClassCounts(ds.NumClasses())
		wantN := 0
		for _, w := range sp.want {
			wantN += w
		}
		if sp.split.N != wantN {
			errs = append(errs, fmt.Errorf("%s: %s split has %d images, want %d", ds.Source, sp.name, sp.split.N, wantN))
		}
		for k, w := range sp.want {
			if got[k] != w {
				errs = append(errs, fmt.Errorf("%s: %s split has %d images of class %d (%s), want %d",
					ds.Source, sp.name, got[k], k, ds.Classes[k], w))
			}
		}
	}
	return errors.Join(errs...)
}

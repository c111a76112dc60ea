package data

import (
	"testing"
)

// The datasets in ../shared/data load, and their class counts are the
// official ones (CheckOfficial).
func TestLoadSharedDatasets(t *testing.T) {
	root := sharedPath(t, "data")
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			ds, err := Load(name, root)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckOfficial(ds); err != nil {
				t.Fatal(err)
			}
			if ds.Train.N+ds.Test.N != len(ds.Train.Labels)+len(ds.Test.Labels) {
				t.Fatal("label count")
			}
		})
	}
}

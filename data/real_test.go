package data

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/deepnmf/deepnmf/internal/sharedtest"
)

// sha256 sums published in ../shared/data/README.md: of the decompressed IDX
// files, and of the CIFAR-10 batch files.
var sharedSums = map[string]map[string]string{
	"mnist": {
		"train-images": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
		"train-labels": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
		"test-images":  "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
		"test-labels":  "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
	},
	"fashion-mnist": {
		"train-images": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
		"train-labels": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
		"test-images":  "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
		"test-labels":  "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
	},
	"cifar10": {
		"data_batch_1.bin": "d1eacf8cd2c8d58863e96ec6cf7236ae560eafed6a3ce5a2dd3fc999c6d83ce5",
		"data_batch_2.bin": "cfe3f0b22e8ba6dc8e5bfc28e5c78e78e6bac81f303970bf7f3672b1ce954c3a",
		"data_batch_3.bin": "7be2bc1462644875f4c81b6522b2200e63b6287ed41636d8d98b9a5562da2d2e",
		"data_batch_4.bin": "03c8cb79bb6dce0c26782f8c9cc15b1dca550183c29d2a067527265d64194921",
		"data_batch_5.bin": "438714a0c67d0c0982b116fee80f65288e1358ecb3f00ed473b7cb25f631ba7e",
		"test_batch.bin":   "e8eb486685a8e541e6634d4c530c7d90746d368f1a33d0a617c960d7c00ae1ff",
	},
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// cifarBatchBytes re-encodes records [first, first+n) of a split.
func cifarBatchBytes(s *Split, first, n int) []byte {
	out := make([]byte, 0, n*cifarRecord)
	for i := first; i < first+n; i++ {
		out = append(out, s.Labels[i])
		out = append(out, s.Image(i)...)
	}
	return out
}

// The datasets in ../shared/data load, have the official class counts, and
// re-encoded give back the published sums (so no byte is lost or moved).
func TestLoadSharedDatasets(t *testing.T) {
	root := sharedtest.Path(t, "data")
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			ds, err := Load(name, root)
			if err != nil {
				t.Fatal(err)
			}
			if err := CheckOfficial(ds); err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			if name == "cifar10" {
				for i, f := range cifarTrain {
					got[f] = sha(cifarBatchBytes(&ds.Train, i*10000, 10000))
				}
				got[cifarTest] = sha(cifarBatchBytes(&ds.Test, 0, 10000))
			} else {
				for sp, s := range map[string]*Split{"train": &ds.Train, "test": &ds.Test} {
					got[sp+"-images"] = sha(encodeIDX([]int{s.N, 28, 28}, s.Images))
					got[sp+"-labels"] = sha(encodeIDX([]int{s.N}, s.Labels))
				}
			}
			for k, want := range sharedSums[name] {
				if got[k] != want {
					t.Errorf("%s: sha256 %s, want %s", k, got[k], want)
				}
			}
		})
	}
}

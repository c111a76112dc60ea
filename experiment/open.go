package experiment

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/deepnmf/deepnmf/data"
	"github.com/deepnmf/deepnmf/nn"
	"github.com/deepnmf/deepnmf/train"
)

// Source names a trained model: a run directory, or a weights file with an
// optional config (file or preset; weights written by deepnmf carry theirs).
type Source struct {
	RunDir, Weights, Config string
}

// Label is how outputs name the model: the run directory or the weights file.
func (s Source) Label() string {
	if s.RunDir != "" {
		return s.RunDir
	}
	return s.Weights
}

// Opened is a trained model ready to evaluate.
type Opened struct {
	Source    Source
	Name      string // preset or config name
	Dataset   string
	BatchSize int
	DataRoot  string // where the run read its data ("" for bare weights)
	Net       *nn.Network
	input     nn.Shape
}

// Open builds the network of a trained model and loads its weights.
func Open(src Source, threads int) (*Opened, error) {
	o := &Opened{Source: src, Dataset: "cifar10", BatchSize: data.DefaultBatchSize}
	var cfg *nn.Config
	var err error
	runningStats := false
	weights := src.Weights
	switch {
	case src.RunDir != "":
		info, err := train.LoadRunOptions(src.RunDir)
		if err != nil {
			return nil, err
		}
		o.Name, o.Dataset, o.DataRoot = info.Options.ModelName(), info.Options.Dataset, info.DataRoot
		if info.Options.BatchSize > 0 {
			o.BatchSize = info.Options.BatchSize
		}
		runningStats = info.Options.RunningStats
		if cfg, err = nn.LoadConfig(filepath.Join(src.RunDir, "config.json")); err != nil {
			return nil, err
		}
		if weights == "" {
			weights = filepath.Join(src.RunDir, train.FinalFile)
			if _, err := os.Stat(weights); err != nil {
				weights = filepath.Join(src.RunDir, train.CheckpointDir, train.ModelFile)
			}
		}
	case src.Weights != "":
		o.Name = strings.TrimSuffix(filepath.Base(src.Weights), filepath.Ext(src.Weights))
		if src.Config != "" {
			o.Name = src.Config // a preset
			if _, err = os.Stat(src.Config); err == nil {
				cfg, err = nn.LoadConfig(src.Config)
				o.Name = strings.TrimSuffix(filepath.Base(src.Config), filepath.Ext(src.Config))
			} else {
				cfg, err = nn.Preset(src.Config)
			}
		} else {
			cfg, err = nn.ConfigFromWeights(src.Weights)
		}
		if err != nil {
			return nil, err
		}
		if _, meta, err := nn.ReadSafetensors(src.Weights); err == nil && meta["dataset"] != "" {
			o.Dataset = meta["dataset"]
		}
	default:
		return nil, fmt.Errorf("no model: give a run directory or a weights file")
	}
	info, err := data.Lookup(o.Dataset)
	if err != nil {
		return nil, err
	}
	o.input = nn.Shape{C: info.Channels, H: info.Crop, W: info.Crop}
	o.Net, err = nn.Build(cfg, o.input, o.BatchSize, nn.Options{Threads: threads, RunningStats: runningStats}, 0)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Label(), err)
	}
	if err := o.Net.LoadWeights(weights); err != nil {
		o.Net.Close()
		return nil, fmt.Errorf("%s: %w", src.Label(), err)
	}
	return o, nil
}

// Close releases the network.
func (o *Opened) Close() { o.Net.Close() }

// evaluator evaluates an opened model on a loaded dataset.
type evaluator struct {
	m     *Opened
	ds    *data.Dataset
	limit int
}

// Evaluator returns the model's evaluation on ds's test split (the first
// limit images; 0 = all) for Robustness.
func (o *Opened) Evaluator(ds *data.Dataset, limit int) Evaluator {
	return evaluator{o, ds, limit}
}

// Evaluate is the official test loop with a per-batch corruption of the full
// stored images before the CenterCrop (spec §5, §6 item 19).
func (e evaluator) Evaluate(ctx context.Context, corrupt func(batch int, full []float32, n int) error, progress func(int)) (int, int, error) {
	split := &e.ds.Test
	total := split.N
	if e.limit > 0 && e.limit < total {
		total = e.limit
	}
	B := e.m.BatchSize
	L := split.ImageSize()
	crop, size, ch := e.ds.Crop, split.H, split.C
	off := (size - crop + 1) / 2 // round((32−28)/2) = 2, as torchvision's CenterCrop
	full := make([]float32, B*L)
	x := make([]float32, B*ch*crop*crop)
	e.m.Net.SetTraining(false)
	correct := 0
	for b := 0; b*B < total; b++ {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		n := min(B, total-b*B)
		for j := range n {
			for i, v := range split.Image(b*B + j) {
				full[j*L+i] = float32(v) / 255
			}
		}
		if corrupt != nil {
			if err := corrupt(b, full[:n*L], n); err != nil {
				return 0, 0, err
			}
		}
		for j := range n {
			for c := range ch {
				for y := range crop {
					src := full[j*L+c*size*size+(y+off)*size+off:]
					copy(x[((j*ch+c)*crop+y)*crop:][:crop], src[:crop])
				}
			}
		}
		probs, err := e.m.Net.Forward(x[:n*ch*crop*crop], n)
		if err != nil {
			return 0, 0, err
		}
		k := e.m.Net.Classes()
		for j := range n {
			if train.Argmax(probs[j*k:(j+1)*k]) == split.Label(b*B+j) {
				correct++
			}
		}
		if progress != nil {
			progress(b*B + n)
		}
	}
	return correct, total, nil
}

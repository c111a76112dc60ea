package nn

import (
	"fmt"

	"github.com/deepnmf/deepnmf/nnmf"
)

// nnmfLayer is the official NNMF2d on channels-last rows: every forward
// normalises the raw weight V into W (spec §1.2) and runs package nnmf on each
// shard's rows; the backward sums the per-shard ∂L/∂W in shard order and
// chains it to V.
type nnmfLayer struct {
	layerBase
	core     *nnmf.Layer
	weight   *Param
	training *bool
	w        []float32 // normalised weight of the last forward
	gw       []float32 // reduced ∂L/∂W
	gwParts  [][]float32
	ws       []*nnmf.Workspace
	needGrad bool
	fwd, bwd func(int)
}

func newNNMF(in Shape, cfg nnmf.Config, training *bool) (*nnmfLayer, error) {
	core, err := nnmf.New(cfg)
	if err != nil {
		return nil, err
	}
	l := &nnmfLayer{core: core, training: training}
	l.in, l.out = in, Shape{cfg.Out, in.H, in.W}
	l.info.Type = "NNMF2d"
	l.info.Desc = fmt.Sprintf("NNMF2d(%d, %d, local_learning=%s, iterations=%d)", cfg.In, cfg.Out, pyBool(cfg.LocalLearning), cfg.Iterations)
	l.fwd, l.bwd = l.forwardShard, l.backwardShard
	return l, nil
}

func (l *nnmfLayer) allocate(shards, maxRows int) {
	l.core.Name = fmt.Sprintf("layer %d (NNMF2d %d→%d)", l.info.Index, l.in.C, l.out.C)
	n := len(l.weight.Data)
	l.w = make([]float32, n)
	l.gw = make([]float32, n)
	l.gwParts = make([][]float32, shards)
	l.ws = make([]*nnmf.Workspace, shards)
	perShard := (maxRows + shards - 1) / shards
	for s := range l.ws {
		l.ws[s] = l.core.NewWorkspace(perShard)
		if shards == 1 {
			l.gwParts[s] = l.gw
		} else {
			l.gwParts[s] = make([]float32, n)
		}
	}
}

func (l *nnmfLayer) forward(batch int) error {
	l.batch = batch
	l.needGrad = *l.training
	nnmf.NormalizeWeights(l.weight.Data, l.w, l.out.C, l.in.C)
	l.pool.Run(l.fwd)
	return l.firstErr()
}

func (l *nnmfLayer) forwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	if hi == lo {
		return // more shards than rows: nothing to do here
	}
	D, K := l.in.C, l.out.C
	l.shardErrs[s] = l.core.Forward(l.ws[s], l.x[lo*D:hi*D], hi-lo, l.w, l.y[lo*K:hi*K], l.needGrad)
}

func (l *nnmfLayer) backward(batch int) error {
	if !l.needGrad {
		return fmt.Errorf("layer %d (NNMF2d): backward after a forward in evaluation mode", l.info.Index)
	}
	l.batch = batch
	l.pool.Run(l.bwd)
	if err := l.firstErr(); err != nil {
		return err
	}
	if len(l.gwParts) > 1 {
		copy(l.gw, l.gwParts[0])
		for _, p := range l.gwParts[1:] {
			for i, v := range p {
				l.gw[i] += v
			}
		}
	}
	nnmf.RawWeightGrad(l.weight.Data, l.gw, l.weight.Grad, l.out.C, l.in.C)
	return nil
}

func (l *nnmfLayer) backwardShard(s int) {
	lo, hi := l.span(l.rowsIn(), s)
	D, K := l.in.C, l.out.C
	gw := l.gwParts[s]
	clear(gw)
	if hi == lo {
		return
	}
	l.shardErrs[s] = l.core.Backward(l.ws[s], l.x[lo*D:hi*D], hi-lo, l.w, l.y[lo*K:hi*K], l.gy[lo*K:hi*K], l.gx[lo*D:hi*D], gw)
}

// pyBool prints a bool as Python does, for PyTorch-like layer descriptions.
func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

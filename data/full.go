package data

import "fmt"

// FillFull writes batch b of epoch e as the full stored images
// (batch×C×Size×Size, pixel/255 in float32, exactly the values Fill crops
// from) into x and the labels into labels, in the loader's order, without any
// augmentation. It is for transformations that act on the whole stored image
// before the evaluation crop, such as the robustness study's corruptions
// (spec §5, §6 item 19); CenterCrop then gives what Fill would have.
func (l *Loader) FillFull(epoch, b int, x []float32, labels []int) (int, error) {
	if epoch < 0 || b < 0 || b >= l.NumBatches() {
		return 0, fmt.Errorf("%s loader: batch %d of %d, epoch %d", l.info.Name, b, l.NumBatches(), epoch)
	}
	first := b * l.cfg.BatchSize
	count := min(l.cfg.BatchSize, l.n-first)
	s := l.split
	size := s.ImageSize()
	if len(x) < count*size || len(labels) < count {
		return 0, fmt.Errorf("%s loader: batch of %d full images needs %d floats and %d labels, have %d and %d",
			l.info.Name, count, count*size, count, len(x), len(labels))
	}
	if l.cfg.Shuffle && l.permEpoch != epoch {
		l.shuffle(epoch)
	}
	for k := range count {
		idx := first + k
		if l.cfg.Shuffle {
			idx = int(l.perm[idx])
		}
		img := x[k*size : (k+1)*size]
		for i, v := range s.Image(idx) {
			img[i] = byteToUnit[v]
		}
		labels[k] = s.Label(idx)
	}
	return count, nil
}

// CenterCrop writes the evaluation crop (Crop×Crop at torchvision's center
// offset) of n full images src (n×C×Size×Size) into dst (n×C×Crop×Crop).
func (in Info) CenterCrop(dst, src []float32, n int) error {
	c, size, crop := in.Channels, in.Size, in.Crop
	if len(src) < n*c*size*size || len(dst) < n*c*crop*crop {
		return fmt.Errorf("%s center crop of %d images: have %d and %d floats, need %d and %d",
			in.Name, n, len(src), len(dst), n*c*size*size, n*c*crop*crop)
	}
	off := centerOffset(size, crop)
	for k := range n * c {
		plane := src[k*size*size : (k+1)*size*size]
		out := dst[k*crop*crop : (k+1)*crop*crop]
		for i := range crop {
			copy(out[i*crop:(i+1)*crop], plane[(off+i)*size+off:(off+i)*size+off+crop])
		}
	}
	return nil
}

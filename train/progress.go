package train

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Reporter prints training progress: on a terminal a progress bar over the
// images of the epoch (with rate and ETA) and of the test pass; elsewhere (a
// log file, CI) only one plain line per finished epoch.
type Reporter struct {
	Out     io.Writer // epoch lines
	Bar     io.Writer // progress bars; nil disables them
	Epochs  int
	Groups  []string
	imgs    int
	bar     *progressbar.ProgressBar
	testBar *progressbar.ProgressBar
}

// Hooks returns the engine hooks that drive the reporter; imagesPerEpoch and
// testImages size the bars.
func (r *Reporter) Hooks(imagesPerEpoch, testImages int) Hooks {
	r.imgs = imagesPerEpoch
	h := Hooks{EpochDone: r.epochDone}
	if r.Bar == nil {
		return h
	}
	h.EpochStart = func(epoch, _ int) {
		r.bar = r.newBar(imagesPerEpoch, fmt.Sprintf("epoch %d/%d train", epoch, r.Epochs))
	}
	h.BatchDone = func(_, _, images int, _ float32) { r.bar.Add(images) }
	h.TestStart = func(epoch, _ int) {
		r.finish(r.bar)
		r.testBar = r.newBar(testImages, fmt.Sprintf("epoch %d/%d test ", epoch, r.Epochs))
	}
	h.TestBatch = func(_, _, images int) { r.testBar.Add(images) }
	return h
}

func (r *Reporter) newBar(total int, desc string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(r.Bar),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionClearOnFinish(),
	)
}

func (r *Reporter) finish(b *progressbar.ProgressBar) {
	if b != nil {
		b.Finish()
		b.Clear()
	}
}

// Abort clears a half-drawn bar (after an interruption or an error).
func (r *Reporter) Abort() {
	r.finish(r.bar)
	r.finish(r.testBar)
	r.bar, r.testBar = nil, nil
}

func (r *Reporter) epochDone(m Metrics) {
	r.finish(r.testBar)
	r.bar, r.testBar = nil, nil
	fmt.Fprintln(r.Out, EpochLine(m, r.Groups))
}

// EpochLine is the one-line summary of an epoch.
func EpochLine(m Metrics, groups []string) string {
	var lrs []string
	for i, lr := range m.LRs {
		name := fmt.Sprint(i)
		if i < len(groups) {
			name = groups[i]
		}
		lrs = append(lrs, fmt.Sprintf("%s=%g", name, lr))
	}
	return fmt.Sprintf("epoch %d: train loss/img %.6f acc %.3f%% | test acc %.2f%% | train %.1fs (%.1f img/s) test %.1fs | lr %s",
		m.Epoch, m.TrainLossPerImage, m.TrainAcc(), m.TestAcc(), m.TrainSeconds,
		float64(m.TrainImages)/max(m.TrainSeconds, 1e-9), m.TestSeconds, strings.Join(lrs, " "))
}

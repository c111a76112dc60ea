package train

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
)

// LogInterval is how often a Reporter without a terminal prints a line
// during an epoch, so that a cluster log shows a run is alive.
const LogInterval = 30 * time.Second

// Reporter prints training progress. On a terminal (Bar set) it draws a
// progress bar over the images of the epoch and of the test pass, with rate
// and ETA. Without one (a log file, a cluster job) it prints a plain line at
// most every LogInterval during an epoch: images done, rate and the epoch's
// ETA. Either way it prints a line per finished epoch with the run's ETA
// under the epoch cap, and a summary at the end. Epochs are numbered from 1,
// as a person counts them.
type Reporter struct {
	Out        io.Writer // epoch lines, periodic lines and the summary
	Bar        io.Writer // progress bars; nil prints periodic lines instead
	Epochs     int       // the epoch cap
	FirstEpoch int       // the index of the first epoch this process runs
	Groups     []string
	Interval   time.Duration // periodic lines; 0 means LogInterval
	now        func() time.Time

	imgs, testImgs int
	bar, testBar   *progressbar.ProgressBar
	epochStart     time.Time
	lastLine       time.Time
	done           int
	runStart       time.Time
	epochsDoneHere int
}

// Hooks returns the engine hooks that drive the reporter; imagesPerEpoch and
// testImages size the bars and the ETAs.
func (r *Reporter) Hooks(imagesPerEpoch, testImages int) Hooks {
	if r.now == nil {
		r.now = time.Now
	}
	if r.Interval == 0 {
		r.Interval = LogInterval
	}
	r.imgs, r.testImgs = imagesPerEpoch, testImages
	r.runStart = r.now()
	h := Hooks{EpochDone: r.epochDone}
	h.EpochStart = func(epoch, _ int) {
		r.epochStart, r.lastLine, r.done = r.now(), r.now(), 0
		if r.Bar != nil {
			r.bar = r.newBar(imagesPerEpoch, fmt.Sprintf("epoch %d/%d train", epoch+1, r.Epochs))
		}
	}
	h.BatchDone = func(epoch, _, images int, _ float32) {
		r.done += images
		if r.bar != nil {
			r.bar.Add(images)
			return
		}
		if now := r.now(); now.Sub(r.lastLine) >= r.Interval {
			r.lastLine = now
			elapsed := now.Sub(r.epochStart).Seconds()
			rate := float64(r.done) / max(elapsed, 1e-9)
			left := time.Duration(float64(r.imgs-r.done) / max(rate, 1e-9) * float64(time.Second))
			fmt.Fprintf(r.Out, "epoch %d/%d: %d/%d images, %.1f img/s, epoch ETA %s\n",
				epoch+1, r.Epochs, r.done, r.imgs, rate, left.Round(time.Second))
		}
	}
	h.TestStart = func(epoch, _ int) {
		r.finish(r.bar)
		r.bar = nil
		if r.Bar != nil {
			r.testBar = r.newBar(testImages, fmt.Sprintf("epoch %d/%d test ", epoch+1, r.Epochs))
		}
	}
	h.TestBatch = func(_, _, images int) {
		if r.testBar != nil {
			r.testBar.Add(images)
		}
	}
	return h
}

func (r *Reporter) newBar(total int, desc string) *progressbar.ProgressBar {
	return NewProgressBar(r.Bar, total, desc, "img")
}

// NewProgressBar is the progress bar of every deepnmf command: count, rate
// and ETA over total units on w (a terminal), cleared when finished.
func NewProgressBar(w io.Writer, total int, desc, unit string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionSetWidth(30),
		// The first rate would be computed over the few milliseconds before
		// the first unit ends; only show one once there is something to average.
		progressbar.OptionThrottle(time.Second),
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
	r.epochsDoneHere++
	line := EpochLine(m, r.Groups)
	if left := r.Epochs - (m.Epoch + 1); left > 0 {
		perEpoch := r.now().Sub(r.runStart) / time.Duration(r.epochsDoneHere)
		line += fmt.Sprintf(" | run ETA %s for the %d epochs left under the cap (the stop rule may end it sooner)",
			(perEpoch * time.Duration(left)).Round(time.Second), left)
	}
	fmt.Fprintln(r.Out, line)
}

// Done prints the end-of-run summary.
func (r *Reporter) Done(s Summary) {
	why := "epoch cap reached"
	if s.Stopped {
		why = "learning rate below the limit"
	}
	fmt.Fprintf(r.Out, "done: %d epoch%s (%s); final test accuracy %.2f %%, best %.2f %% after epoch %d; weights in %s\n",
		s.Epochs, plural(s.Epochs), why, s.FinalTestAcc, s.BestTestAcc, s.BestEpoch, s.Weights)
}

// EpochLine is the one-line summary of an epoch, numbered from 1.
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
		m.Epoch+1, m.TrainLossPerImage, m.TrainAcc(), m.TestAcc(), m.TrainSeconds,
		float64(m.TrainImages)/max(m.TrainSeconds, 1e-9), m.TestSeconds, strings.Join(lrs, " "))
}

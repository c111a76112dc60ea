package experiment

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"os"
	"strconv"
)

func readJSONFile(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

var reportFuncs = template.FuncMap{
	"pm":       pm,
	"duration": duration,
	"digits":   groupDigits,
	"f2":       func(v float64) string { return fmt.Sprintf("%.2f", v) },
	"f4":       func(v float64) string { return fmt.Sprintf("%.4f", v) },
	"g3":       func(v float64) string { return strconv.FormatFloat(v, 'g', 3, 64) },
	"mib":      func(b int64) string { return fmt.Sprintf("%.0f", float64(b)/(1<<20)) },
	// full is a value at full precision for the data-* attributes a test or a
	// script can read back; "" for NaN (a single run has no spread).
	"full": func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	},
}

// reportTemplate is the page: inline CSS, and one inline script that marks
// images which did not load (so a broken page says so, and a headless
// browser test can read the result from the DOM). Nothing is fetched from
// anywhere but the page's own folder.
var reportTemplate = template.Must(template.New("report").Funcs(reportFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>deepnmf report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2em auto; max-width: 1180px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.05em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f2f2f2; }
td.l, th.l { text-align: left; }
.budget { display: inline-block; padding: 0.1em 0.5em; border-radius: 0.3em; background: #e8f3e8; }
.reduced { background: #fff1c2; border: 1px solid #e0b400; }
.banner { padding: 0.6em 1em; background: #fff1c2; border: 1px solid #e0b400; border-radius: 0.3em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #555; }
.grid { display: flex; flex-wrap: wrap; gap: 1em; }
.grid figure { flex: 1 1 520px; margin: 0; }
.note { color: #555; font-size: 0.9em; }
img.broken { outline: 3px solid red; }
#image-check.bad { color: #b00; font-weight: bold; }
</style>
</head>
<body data-images="pending">
<h1>deepnmf report</h1>
<p class="note">Generated {{.Generated}} from {{len .Runs}} run{{if ne (len .Runs) 1}}s{{end}}. Accuracies are percentages on the test split.
<span id="image-check"></span></p>
{{if .AnyReduced}}<p class="banner"><b>Reduced budget.</b> Some of these runs were trained on less than the paper's protocol
(50,000 images × up to 500 epochs for CIFAR-10); their numbers are not the paper's numbers. See the budget column.</p>{{end}}

<h2 id="accuracy">Accuracy by model</h2>
<table id="accuracy-table">
<thead><tr><th class="l">model</th><th class="l">dataset</th><th>runs</th><th>final test acc. (mean ± sample std)</th><th>best test acc. (mean ± sample std)</th><th>parameters</th><th>epochs</th><th>wall time per run</th><th class="l">budget</th></tr></thead>
<tbody>
{{range .Summaries}}<tr data-model="{{.Model}}" data-runs="{{.Runs}}" data-final-mean="{{full .FinalMean}}" data-final-std="{{full .FinalStd}}" data-best-mean="{{full .BestMean}}" data-best-std="{{full .BestStd}}" data-params="{{.Params}}">
<td class="l">{{.Model}}</td><td class="l">{{.Dataset}}</td><td>{{.Runs}}</td><td>{{pm .FinalMean .FinalStd}}</td><td>{{pm .BestMean .BestStd}}</td><td>{{digits .Params}}</td>
<td>{{if eq .EpochsMin .EpochsMax}}{{.EpochsMin}}{{else}}{{.EpochsMin}}–{{.EpochsMax}}{{end}}</td><td>{{duration .WallSecondsMean}}</td>
<td class="l"><span class="budget{{if .Reduced}} reduced{{end}}">{{.Budget}}</span></td></tr>
{{end}}</tbody>
</table>

<h3>Runs</h3>
<table id="runs-table">
<thead><tr><th class="l">run</th><th class="l">model</th><th>seed</th><th>epochs</th><th>final test acc.</th><th>best test acc. (epoch)</th><th>final training loss</th><th>wall time</th></tr></thead>
<tbody>
{{range .Runs}}<tr data-run="{{.Label}}"><td class="l">{{.Label}}</td><td class="l">{{.Model}}</td><td>{{.Options.Seed}}</td><td>{{len .Epochs}}</td>
<td>{{f2 .Final.TestAcc}}</td><td>{{f2 .Best.TestAcc}} ({{.Best.Epoch}})</td><td>{{f4 .Final.TrainLoss}}</td><td>{{duration .WallSeconds}}</td></tr>
{{end}}</tbody>
</table>

<h2 id="curves">Training curves</h2>
{{with .Curves}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}

{{if .Robustness}}<h2 id="robustness">Noise robustness</h2>
<p class="note">The four corruptions of the official scripts (spec §5), 21 levels each, applied to the full stored image before the
evaluation crop; test batches of 50 in file order, BatchNorm with each corrupted batch's statistics. Picture noise stops at η = 0.5.</p>
{{range .Robustness}}<p class="note">{{.Dir}}: {{.Note}}; wall time {{.WallTime}}.</p>
<div class="grid">{{range .Figures}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
<table class="robustness-table"><thead><tr>{{range $i, $h := .Header}}<th{{if lt $i 3}} class="l"{{end}}>{{$h}}</th>{{end}}</tr></thead>
<tbody>{{range .Rows}}<tr>{{range $i, $c := .}}<td{{if lt $i 3}} class="l"{{end}}>{{$c}}</td>{{end}}</tr>{{end}}</tbody></table>
{{end}}{{end}}

{{if .Grad}}<h2 id="gradients">Gradient accuracy of the backward methods</h2>
<p class="note">Each method against exact backprop through the T unrolled iterations (spec §1.7): cosine similarity and mean absolute
error of ∂L/∂x (through the L1 normalisation before the layer) and of ∂L/∂V (the raw weight).</p>
<div>{{range .Grad}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
<table id="grad-table"><caption>T = {{.GradT}}</caption>
<thead><tr><th class="l">case</th><th class="l">method</th><th>cos ∂L/∂x</th><th>MAE ∂L/∂x</th><th>cos ∂L/∂V</th><th>MAE ∂L/∂V</th></tr></thead>
<tbody>{{range .GradRows}}<tr><td class="l">{{.Case}}</td><td class="l">{{.Method}}</td><td>{{f4 .CosX}}</td><td>{{g3 .MAEX}}</td><td>{{f4 .CosW}}</td><td>{{g3 .MAEW}}</td></tr>
{{end}}</tbody></table>{{end}}

{{if .Cost}}<h2 id="cost">Backward cost</h2>
{{with .Cost}}<figure><img src="{{.Src}}" alt="{{.Alt}}"><figcaption>{{.Caption}}</figcaption></figure>{{end}}
<table><thead><tr><th class="l">backward</th><th>T</th><th>s per step</th><th>images/s</th><th>peak RSS (MiB)</th></tr></thead>
<tbody>{{range .CostRows}}<tr><td class="l">{{.Method}}</td><td>{{.Iterations}}</td><td>{{f4 .StepSeconds}}</td><td>{{f2 .ImagesPerS}}</td><td>{{mib .PeakRSSBytes}}</td></tr>
{{end}}</tbody></table>{{end}}

<h2 id="dictionaries">First-layer dictionaries</h2>
{{range .Summaries}}<h3>{{.Model}} ({{.Dataset}})</h3>
{{if .DictionaryFigure}}<div class="grid"><figure><img src="{{.DictionaryFigure}}" alt="dictionary of {{.Model}}"><figcaption>Rows of the normalised weight W of the first NNMF layer, {{.DictionaryNote}}.</figcaption></figure>
{{if .ReconFigure}}<figure><img src="{{.ReconFigure}}" alt="reconstructions of {{.Model}}"><figcaption>Input patches and their reconstructions h·W.</figcaption></figure>{{end}}</div>
{{else}}<p class="note">No dictionary: {{.DictionaryNote}}</p>{{end}}
{{end}}

<script>
// Mark images that did not decode, so that a broken page says so.
window.addEventListener("load", function () {
  var bad = [];
  var imgs = document.getElementsByTagName("img");
  for (var i = 0; i < imgs.length; i++) {
    if (!imgs[i].complete || imgs[i].naturalWidth === 0) {
      bad.push(imgs[i].getAttribute("src"));
      imgs[i].className += " broken";
    }
  }
  document.body.setAttribute("data-images", bad.length ? "broken:" + bad.join(",") : "ok:" + imgs.length);
  var note = document.getElementById("image-check");
  if (bad.length) {
    note.className = "bad";
    note.textContent = bad.length + " image(s) did not load: " + bad.join(", ");
  }
});
</script>
</body>
</html>
`))

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/internal/fixtures"
	"github.com/catdog-ml/catdog/report"
	"github.com/catdog-ml/catdog/runs"
)

// TestReportCommand prepares a few shared photos, records a run on them, and checks that
// catdog report writes the index and the run's report with the photos it got wrong, read
// through datasets.Open.
func TestReportCommand(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	os.MkdirAll(src, 0o755)
	for _, f := range fixtures.PhotoFiles(t, "dogs-vs-cats/train", 25) {
		if err := os.Symlink(f, filepath.Join(src, filepath.Base(f))); err != nil {
			t.Fatal(err)
		}
	}
	data := filepath.Join(t.TempDir(), "data")
	if _, _, err := runCatdog(t, "-q", "prepare", "--data", src, "--out", data, "--size", "32"); err != nil {
		t.Fatal(err)
	}
	ds, err := datasets.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	var labels []uint8
	var probs []float32
	for i, row := range ds.Split("test") {
		l := ds.Labels()[row]
		labels = append(labels, l)
		p := float32(0.8) // right on even positions, wrong on odd ones
		if (l == 1) != (i%2 == 0) {
			p = 0.2
		}
		probs = append(probs, p)
	}
	ds.Close()
	runsDir := t.TempDir()
	run := &report.Run{Dir: filepath.Join(runsDir, "vgg1-20261124-150000"), Arch: "vgg1", Kind: runs.Scratch, Data: data, InputSize: 32,
		History: runs.History{Epochs: []runs.Epoch{{Epoch: 1, TrainLoss: 0.7, ValidLoss: 0.7, TrainAcc: 0.5, ValidAcc: 0.5, Seconds: 1}}},
		Probs:   probs, Labels: labels}
	if err := report.Save(run); err != nil {
		t.Fatal(err)
	}
	out, _, err := runCatdog(t, "-q", "report", "--runs", runsDir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, filepath.Join(runsDir, "index.html")) {
		t.Errorf("output %q does not name the index", out)
	}
	html, err := os.ReadFile(filepath.Join(run.Dir, "report.html"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(run.Dir, "wrong.png")); err != nil || !strings.Contains(string(html), ".jpg</td>") {
		t.Errorf("the report does not show the wrong photos (%v)", err)
	}
	idx, err := os.ReadFile(filepath.Join(runsDir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(idx), `href="vgg1-20261124-150000/report.html"`) {
		t.Error("the index does not link the run")
	}
	if _, _, err := runCatdog(t, "-q", "report", "--runs", filepath.Join(runsDir, "missing")); err == nil {
		t.Error("a missing runsDir folder is not an error")
	}
}

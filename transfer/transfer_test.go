package transfer

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/catdog-ml/catdog/backbones"
	"github.com/catdog-ml/catdog/datasets"
	"github.com/catdog-ml/catdog/features"
	"github.com/catdog-ml/catdog/internal/fixtures"
)

// TestBackboneImported: the backbone of features computed with an imported backbone is
// found again in the backbone store, without the --file the features recorded (which an
// imported backbone refuses), and with the cut the features were taken at.
func TestBackboneImported(t *testing.T) {
	fixtures.RequireORT(t)
	data := filepath.Join(t.TempDir(), "data")
	if _, err := datasets.Prepare(context.Background(), datasets.Options{Data: fixtures.Photos(t, 20), Out: data, Size: 64, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	opts := backbones.Options{CacheDir: t.TempDir()}
	spec := backbones.Spec{Name: "darknet-tiny", InputSize: 224, Layout: backbones.NCHW, CutAt: "leaky_re_lu_15", Pool: "avg"}
	p, _ := backbones.Preset("unit")
	p.Apply(&spec)
	if _, err := backbones.Import(context.Background(), fixtures.Model(t, "darknet_tiny"), spec, false, opts); err != nil {
		t.Fatal(err)
	}
	fr, err := features.Extract(context.Background(), features.Options{Backbone: "darknet-tiny", Backbones: opts, Data: data, Provider: "cpu"})
	if err != nil {
		t.Fatal(err)
	}
	info, err := features.Open(fr.Dir)
	if err != nil {
		t.Fatal(err)
	}
	bb, err := Backbone(context.Background(), info, opts)
	if err != nil {
		t.Fatal(err)
	}
	if bb.Name != "darknet-tiny" || bb.Output != "leaky_re_lu_15_avgpool" {
		t.Errorf("backbone %s, output %s", bb.Name, bb.Output)
	}
}

package study

import (
	"fmt"
	"slices"
	"time"

	"github.com/catdog-ml/catdog/backbones"
)

// A plan lists the rungs a study will run, each with a rough cost, to say "rung i of n" and
// estimate the time left: the costs are in seconds of this project's 2-core reference
// machine (docs/study.md), and the estimate scales what is left by how fast the rungs
// done so far went against their cost.
type plan struct {
	names []string
	costs []float64
	done  int
	spent float64 // reference seconds of the rungs done
	start time.Time
}

// Training images per second of each from-scratch architecture at 64x64 on the reference
// machine (the quick run of docs/study.md): what a rung's cost is scaled from.
var scratchSpeed = map[string]float64{
	"vgg1": 580, "vgg2": 350, "vgg3": 265, "vgg3-dropout": 210,
	"vgg3-dropout-bn": 165, "vgg3-dropout-bn-aug": 160, "resnet-gap": 56,
}

// Feature extraction, images per second at 224x224 on the reference machine.
var backboneSpeed = map[string]float64{
	"mobilenet-v1-075": 220, "mobilenet-v2-035": 480, "vgg16": 6,
}

// newPlan lists the rungs of study s with their costs; scratchPhotos and transferPhotos are
// the photos each kind trains on (an estimate: the datasets are not prepared yet).
func newPlan(s *study, scratchPhotos, transferPhotos int) *plan {
	p := &plan{start: time.Now()}
	area := func(size int) float64 { return float64(size*size) / (64 * 64) }
	train := 0.6
	for _, a := range s.archs() {
		speed := scratchSpeed[a]
		if speed == 0 {
			speed = 150
		}
		// Training (60 % of the photos) and validation (20 %, about 3 times faster) per epoch.
		per := float64(scratchPhotos) * area(s.p.Size) * (train + 0.2/3) / speed
		for range max(s.opts.Seeds, 1) {
			p.add(a, float64(s.p.Epochs)*per+10)
		}
	}
	extract := func(name string) float64 {
		speed := backboneSpeed[name]
		if speed == 0 {
			speed = 100
		}
		return float64(transferPhotos) * area(s.p.TransferSize) / area(224) / speed
	}
	for _, b := range s.backbones() {
		if slices.Contains(s.p.AtHand, b) && s.opts.Backbones == nil && !s.weightsAtHand(b) {
			p.add(b+"-head", 1) // it will be listed as not run
			continue
		}
		p.add(b+"-head", extract(b)+extract(b)*0.2+10)
	}
	if s.opts.Backbones == nil {
		for _, f := range s.p.FineTune {
			p.add(f.Name(), 1.3*extract(f.Backbone)+float64(f.Epochs)*float64(transferPhotos)*train/600)
		}
		for _, j := range s.p.Joins {
			c := 10.0
			for _, b := range j {
				c += extract(b) * 0.2
			}
			p.add(fmt.Sprint(j), c)
		}
		if s.p.Flip {
			p.add("flip", extract(backboneOr(s.p.Backbones))*0.4)
		}
	}
	return p
}

func backboneOr(names []string) string {
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

func (p *plan) add(name string, cost float64) {
	p.names = append(p.names, name)
	p.costs = append(p.costs, cost)
}

// next marks the start of the next rung and says which it is, with the time left.
func (p *plan) next(name string) string {
	if p.done > 0 && p.done <= len(p.costs) {
		p.spent += p.costs[p.done-1]
	}
	p.done++
	left := 0.0
	for _, c := range p.costs[min(p.done-1, len(p.costs)):] {
		left += c
	}
	msg := fmt.Sprintf("rung %d of %d: %s", min(p.done, len(p.costs)), len(p.costs), name)
	if p.spent > 0 {
		rate := time.Since(p.start).Seconds() / p.spent
		msg += fmt.Sprintf(" (about %s left)", roundDuration(left*rate))
	}
	return msg
}

// roundDuration writes seconds as "40 s", "7 min" or "1 h 20 min".
func roundDuration(sec float64) string {
	switch {
	case sec < 60:
		return fmt.Sprintf("%.0f s", max(sec, 1))
	case sec < 3600:
		return fmt.Sprintf("%.0f min", sec/60)
	}
	return fmt.Sprintf("%d h %02d min", int(sec/3600), int(sec/60)%60)
}

// weightsAtHand reports whether backbone name's weights are given (--backbone-file) or in
// the cache, so that using them downloads nothing.
func (s *study) weightsAtHand(name string) bool {
	o := s.backboneOpts(name)
	spec, err := backbones.Lookup(name, o)
	return err == nil && backbones.AtHand(spec, o)
}

package serve

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// instance is one version of one model being served: the model and the goroutine that runs
// it on batches of the images waiting. Requests hold a reference while they use it; once
// retired (a newer version took its place, or the server closes), it stops when the last
// reference is released: its batch goroutine ends, then its model is closed.
type instance struct {
	name, version string
	model         Model
	closer        io.Closer // closes model once retired; nil when the caller owns it (New)
	stamp         fileStamp // the model file it was loaded from (repositories)

	jobs     chan *job
	stop     chan struct{} // closed to stop the batch goroutine
	finished chan struct{} // closed when the batch goroutine has returned
	closed   chan struct{} // closed once model is closed

	refs     atomic.Int64
	retired  atomic.Bool
	shutting sync.Once

	s *Server
}

// newInstance starts the batch goroutine of version of model name.
func (s *Server) newInstance(name, version string, m Model, closer io.Closer) *instance {
	in := &instance{
		name: name, version: version, model: m, closer: closer,
		jobs:     make(chan *job, s.opts.Queue),
		stop:     make(chan struct{}),
		finished: make(chan struct{}),
		closed:   make(chan struct{}),
		s:        s,
	}
	s.live.Add(1)
	go in.runBatches()
	return in
}

// release gives back a reference taken by Server.acquire.
func (in *instance) release() {
	if in.refs.Add(-1) == 0 && in.retired.Load() {
		in.shutdown()
	}
}

// retire marks in as replaced: it shuts down now if nobody holds it, else when the last
// holder releases it. The caller has already removed it from the server's table, so that
// nobody acquires it again.
func (in *instance) retire() {
	in.retired.Store(true)
	if in.refs.Load() == 0 {
		in.shutdown()
	}
}

// shutdown stops the batch goroutine (after the images queued), then closes the model, once.
func (in *instance) shutdown() {
	in.shutting.Do(func() {
		go func() {
			close(in.stop)
			<-in.finished
			if in.closer != nil {
				if err := in.closer.Close(); err != nil {
					in.s.opts.Log.Warn("closing model", "model", in.name, "version", in.version, "error", err)
				}
			}
			in.s.forgetUnlessServed(in.name, in.version)
			close(in.closed)
			in.s.live.Done()
		}()
	})
}

// runBatches runs the model on the images waiting: the first one, and whatever else comes
// within BatchWait, up to MaxBatch.
func (in *instance) runBatches() {
	defer close(in.finished)
	opts := &in.s.opts
	timer := time.NewTimer(0)
	<-timer.C
	var batch []*job
	for {
		batch = batch[:0]
		select {
		case j := <-in.jobs:
			batch = append(batch, j)
		case <-in.stop:
			// Answer what is queued, then stop.
			for {
				select {
				case j := <-in.jobs:
					in.run([]*job{j})
				default:
					return
				}
			}
		}
		timer.Reset(opts.BatchWait)
	fill:
		for len(batch) < opts.MaxBatch {
			select {
			case j := <-in.jobs:
				batch = append(batch, j)
			case <-timer.C:
				break fill
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		in.run(batch)
	}
}

func (in *instance) run(batch []*job) {
	n := len(batch)
	per := len(batch[0].px)
	px := make([]uint8, 0, n*per)
	for _, j := range batch {
		px = append(px, j.px...)
	}
	start := time.Now()
	preds, err := in.model.PredictPixels(px, n)
	if err == nil && len(preds) != n {
		err = fmt.Errorf("the model answered %d predictions for %d images", len(preds), n)
	}
	m := &in.s.m
	m.inference.WithLabelValues(in.name, in.version).Observe(time.Since(start).Seconds())
	m.batch.Observe(float64(n))
	for i, j := range batch {
		if err != nil {
			j.done <- result{err: err}
			continue
		}
		m.predictions.WithLabelValues(in.name, in.version, preds[i].Label).Inc()
		j.done <- result{p: preds[i]}
	}
}

// served is a model's versions being served, oldest first.
type served struct {
	versions []*instance
}

// latest returns the newest version.
func (sv *served) latest() *instance { return sv.versions[len(sv.versions)-1] }

// find returns version v, or nil.
func (sv *served) find(v string) *instance {
	for _, in := range sv.versions {
		if in.version == v {
			return in
		}
	}
	return nil
}

// versionNames lists the versions, oldest first.
func (sv *served) versionNames() []string {
	out := make([]string, len(sv.versions))
	for i, in := range sv.versions {
		out[i] = in.version
	}
	return out
}

// modelName is what a model may be called: it is a path segment of the protocol's URLs.
var modelName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// ValidModelName reports whether name can name a served model: 1 to 128 letters, digits,
// '.', '_' or '-', starting with a letter or a digit.
func ValidModelName(name string) bool { return modelName.MatchString(name) }

// errNoModel is a request for a model or a version that is not served.
var errNoModel = errors.New("no such model")

// acquire returns the instance that serves model name (the only or, with several, the
// first by name when name is empty) at version (the newest when empty), holding a
// reference that the caller releases.
func (s *Server) acquire(name, version string) (*instance, *httpError) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, refuse(http.StatusServiceUnavailable, "shutting_down", "the server is shutting down")
	}
	if name == "" {
		name = s.defaultModel()
	}
	sv := s.models[name]
	if sv == nil {
		return nil, refuse(http.StatusNotFound, "no_model", "%v %q (served: %v)", errNoModel, name, s.modelNames())
	}
	in := sv.latest()
	if version != "" {
		if in = sv.find(version); in == nil {
			return nil, refuse(http.StatusNotFound, "no_model", "%v: %q has no version %q (served: %v)", errNoModel, name, version, sv.versionNames())
		}
	}
	in.refs.Add(1)
	return in, nil
}

// defaultModel is the first model by name; the caller holds s.mu.
func (s *Server) defaultModel() string {
	names := s.modelNames()
	if len(names) == 0 {
		return ""
	}
	return names[0]
}

// modelNames lists the models served, sorted; the caller holds s.mu.
func (s *Server) modelNames() []string {
	names := make([]string, 0, len(s.models))
	for n := range s.models {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// install serves in as its model's version, in place of the instance of that version if
// there is one, which is retired. It reports false (and serves nothing) once the server is
// closed.
func (s *Server) install(in *instance) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return false
	}
	sv := s.models[in.name]
	if sv == nil {
		sv = &served{}
		s.models[in.name] = sv
	}
	var old *instance
	if i := slices.IndexFunc(sv.versions, func(o *instance) bool { return o.version == in.version }); i >= 0 {
		old, sv.versions[i] = sv.versions[i], in
	} else {
		sv.versions = append(sv.versions, in)
		slices.SortFunc(sv.versions, func(a, b *instance) int { return compareVersions(a.version, b.version) })
	}
	s.m.ready.WithLabelValues(in.name, in.version).Set(1) // under s.mu: see forgetUnlessServed
	s.mu.Unlock()
	if old != nil {
		old.retire()
	}
	return true
}

// remove stops serving version of model name, retiring its instance.
func (s *Server) remove(name, version string) {
	s.mu.Lock()
	sv := s.models[name]
	var old *instance
	if sv != nil {
		if i := slices.IndexFunc(sv.versions, func(o *instance) bool { return o.version == version }); i >= 0 {
			old = sv.versions[i]
			sv.versions = slices.Delete(sv.versions, i, i+1)
			if len(sv.versions) == 0 {
				delete(s.models, name)
			}
			s.m.ready.DeleteLabelValues(name, version) // not ready from now, whoever still holds it
		}
	}
	s.mu.Unlock()
	if old != nil {
		old.retire()
	}
}

// forgetUnlessServed deletes the metrics of version of model name unless that version is
// served (by a newer instance: reloaded in place). It holds s.mu, as install does when it
// sets a version ready, so that a version installed again keeps its series.
func (s *Server) forgetUnlessServed(name, version string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sv := s.models[name]; sv != nil && sv.find(version) != nil {
		return
	}
	s.m.forget(name, version)
}

// snapshot returns the instances served, by model name.
func (s *Server) snapshot() map[string][]*instance {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string][]*instance, len(s.models))
	for n, sv := range s.models {
		out[n] = slices.Clone(sv.versions)
	}
	return out
}

// compareVersions orders versions by number when both are whole numbers, else as strings.
func compareVersions(a, b string) int {
	x, errA := strconv.ParseInt(a, 10, 64)
	y, errB := strconv.ParseInt(b, 10, 64)
	if errA == nil && errB == nil {
		return cmp.Compare(x, y)
	}
	return strings.Compare(a, b)
}

// forget deletes the metrics of a version no longer served, so that a server that swaps
// versions for days keeps a bounded number of series.
func (m *metrics) forget(name, version string) {
	l := prometheus.Labels{"model": name, "version": version}
	m.predictions.DeletePartialMatch(l)
	m.inference.Delete(l)
	m.ready.Delete(l)
}

// fileStamp identifies the contents of a model file without reading it: a file changed in
// place has another size or modification time.
type fileStamp struct {
	path    string
	size    int64
	modTime time.Time
}

func (f fileStamp) String() string {
	return fmt.Sprintf("%s (%d bytes, %s)", f.path, f.size, f.modTime.UTC().Format(time.RFC3339Nano))
}

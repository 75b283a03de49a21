package serve

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A model repository is a folder of models, each a folder of versions, each version a
// folder that holds the exported model as ModelFile, the layout of Triton's model
// repository:
//
//	models/
//	  catdog/
//	    1/model.onnx
//	    2/model.onnx
//	  flowers/
//	    7/model.onnx
//
// A model's folder name is its name (see ValidModelName); a version's is a whole number from
// 1. Other entries are ignored. A new version is written as a temporary folder (its name
// not a number: ".2.tmp", say) renamed into place once complete, so that the server never
// sees half of it.
const ModelFile = "model.onnx"

// RepoVersion is one version of a model found in a repository.
type RepoVersion struct {
	Model   string
	Version int64
	Path    string // the version's ModelFile
	Size    int64
	ModTime time.Time
}

// ScanRepository lists the versions in the repository dir, by model name then version. A
// version folder without ModelFile, or whose ModelFile is not a regular file, is left out.
func ScanRepository(dir string) ([]RepoVersion, error) {
	models, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("serve: model repository: %w", err)
	}
	var out []RepoVersion
	isDir := func(path string) bool { // following symbolic links, as volumes often have them
		fi, err := os.Stat(path)
		return err == nil && fi.IsDir()
	}
	for _, m := range models {
		if !ValidModelName(m.Name()) || !isDir(filepath.Join(dir, m.Name())) {
			continue
		}
		versions, err := os.ReadDir(filepath.Join(dir, m.Name()))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) { // removed while scanning
				continue
			}
			return nil, fmt.Errorf("serve: model repository: %w", err)
		}
		for _, v := range versions {
			n, err := strconv.ParseInt(v.Name(), 10, 64)
			if err != nil || n < 1 || strconv.FormatInt(n, 10) != v.Name() || !isDir(filepath.Join(dir, m.Name(), v.Name())) {
				continue
			}
			path := filepath.Join(dir, m.Name(), v.Name(), ModelFile)
			fi, err := os.Stat(path)
			if err != nil || !fi.Mode().IsRegular() {
				continue
			}
			out = append(out, RepoVersion{Model: m.Name(), Version: n, Path: path, Size: fi.Size(), ModTime: fi.ModTime()})
		}
	}
	slices.SortFunc(out, func(a, b RepoVersion) int {
		if c := strings.Compare(a.Model, b.Model); c != 0 {
			return c
		}
		return cmp.Compare(a.Version, b.Version)
	})
	return out, nil
}

// VersionPolicy says which of a model's versions are served: the newest Latest of them
// (Latest > 0), every one (Latest < 0), or the Versions listed. The zero value serves the
// newest.
type VersionPolicy struct {
	Latest   int
	Versions []int64
}

// ParseVersionPolicy reads a policy: "latest" (the newest version), "latest:N" (the newest
// N), "all", or versions separated by commas ("1,3").
func ParseVersionPolicy(s string) (VersionPolicy, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "latest" || s == "":
		return VersionPolicy{Latest: 1}, nil
	case s == "all":
		return VersionPolicy{Latest: -1}, nil
	case strings.HasPrefix(s, "latest:"):
		n, err := strconv.Atoi(strings.TrimPrefix(s, "latest:"))
		if err != nil || n < 1 {
			return VersionPolicy{}, fmt.Errorf("version policy %q: want latest:N with N >= 1", s)
		}
		return VersionPolicy{Latest: n}, nil
	}
	var p VersionPolicy
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || n < 1 {
			return VersionPolicy{}, fmt.Errorf("version policy %q: want latest, latest:N, all, or versions such as 1,3", s)
		}
		p.Versions = append(p.Versions, n)
	}
	return p, nil
}

func (p VersionPolicy) String() string {
	switch {
	case p.Latest < 0:
		return "all"
	case p.Latest == 1 || (p.Latest == 0 && len(p.Versions) == 0):
		return "latest"
	case p.Latest > 1:
		return fmt.Sprintf("latest:%d", p.Latest)
	case len(p.Versions) > 0:
		s := make([]string, len(p.Versions))
		for i, v := range p.Versions {
			s[i] = strconv.FormatInt(v, 10)
		}
		return strings.Join(s, ",")
	}
	return "all"
}

// pick returns the versions of one model (ascending) that the policy serves.
func (p VersionPolicy) pick(vs []RepoVersion) []RepoVersion {
	switch {
	case p.Latest < 0:
		return vs
	case len(p.Versions) > 0 && p.Latest == 0:
		return slices.DeleteFunc(slices.Clone(vs), func(v RepoVersion) bool { return !slices.Contains(p.Versions, v.Version) })
	}
	return vs[max(0, len(vs)-max(p.Latest, 1)):]
}

// Loader opens the model file at path; closer, when not nil, is closed once the version is
// no longer served and the requests that use it are answered.
type Loader func(path string) (m Model, closer io.Closer, err error)

// Repository configures a server of a model repository.
type Repository struct {
	// Dir is the repository's folder.
	Dir string
	// Load opens a version's model file.
	Load Loader
	// Policy says which versions of each model are served (default: the newest).
	Policy VersionPolicy
	// Poll is how often Dir is scanned for new, changed and removed versions (default 2 s;
	// negative: never, only at start).
	Poll time.Duration
}

// NewRepository returns a Server of the models in r.Dir: every model with a version that
// loads, at the versions r.Policy picks. A version is loaded, then checked (a described
// model classifies a blank image) before it is served; a version that fails either is
// logged and left out, and the versions before it go on being served. Every r.Poll the
// folder is scanned again: a new version is loaded and swapped in without failing a
// request (the requests that already hold the old one finish on it, then it is closed); a
// model file changed in place is loaded again; a removed version, or one the policy no
// longer picks, stops being served. A version that failed is tried again once its file
// changes. It is an error when no model loads at start.
func NewRepository(r Repository, opts Options) (*Server, error) {
	if r.Load == nil {
		return nil, errors.New("serve: a repository needs a Loader")
	}
	if r.Poll == 0 {
		r.Poll = 2 * time.Second
	}
	s, err := newBareServer(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.repo = &repository{r: r, s: s, failed: map[string]fileStamp{}, cancel: cancel}
	if err := s.repo.sync(); err != nil {
		s.Close()
		return nil, err
	}
	if len(s.snapshot()) == 0 {
		s.Close()
		return nil, fmt.Errorf("serve: no model in %s loaded (want %s/<model>/<version>/%s)", r.Dir, r.Dir, ModelFile)
	}
	if r.Poll > 0 {
		s.repo.wg.Add(1)
		go s.repo.watch(ctx)
	}
	return s, nil
}

// repository keeps a server's models in step with its folder.
type repository struct {
	r      Repository
	s      *Server
	failed map[string]fileStamp // by model file path: the file as it was when it failed
	cancel context.CancelFunc
	wg     sync.WaitGroup
	syncMu sync.Mutex // one sync at a time
}

func (rp *repository) stop() {
	rp.cancel()
	rp.wg.Wait()
}

func (rp *repository) watch(ctx context.Context) {
	defer rp.wg.Done()
	t := time.NewTicker(rp.r.Poll)
	defer t.Stop()
	last := "" // the error of the last scan: logged when it changes, not at every scan
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			err := rp.sync()
			switch {
			case err != nil && err.Error() != last:
				rp.s.opts.Log.Warn("scanning the model repository failed: the versions served go on being served", "error", err)
				last = err.Error()
			case err == nil && last != "":
				rp.s.opts.Log.Info("scanning the model repository works again")
				last = ""
			}
		}
	}
}

// sync scans the folder once and brings the served versions in step with it.
func (rp *repository) sync() error {
	rp.syncMu.Lock()
	defer rp.syncMu.Unlock()
	found, err := ScanRepository(rp.r.Dir)
	if err != nil {
		return err
	}
	byModel := map[string][]RepoVersion{}
	for _, v := range found {
		byModel[v.Model] = append(byModel[v.Model], v)
	}
	served := rp.s.snapshot()
	for name, vs := range byModel {
		rp.syncModel(name, vs, served[name])
	}
	for path := range rp.failed { // failures of files no longer there are forgotten
		if !slices.ContainsFunc(found, func(v RepoVersion) bool { return v.Path == path }) {
			delete(rp.failed, path)
		}
	}
	for name, ins := range served { // models whose folder is gone
		if _, ok := byModel[name]; !ok {
			for _, in := range ins {
				rp.s.opts.Log.Info("model version removed", "model", name, "version", in.version)
				rp.s.remove(name, in.version)
			}
		}
	}
	return nil
}

// syncModel brings model name's served versions (ins) in step with those found (vs): the
// policy picks among the versions that have not failed as they are; a picked version that
// fails to load is set aside and the policy picks again.
func (rp *repository) syncModel(name string, vs []RepoVersion, ins []*instance) {
	stampOf := func(v RepoVersion) fileStamp { return fileStamp{path: v.Path, size: v.Size, modTime: v.ModTime} }
	current := map[string]*instance{}
	for _, in := range ins {
		current[in.version] = in
	}
	candidates := slices.DeleteFunc(slices.Clone(vs), func(v RepoVersion) bool {
		f, ok := rp.failed[v.Path]
		return ok && f == stampOf(v) && current[strconv.FormatInt(v.Version, 10)] == nil
	})
	var want []RepoVersion
	for {
		want = rp.r.Policy.pick(candidates)
		bad := -1
		for i, v := range want {
			ver := strconv.FormatInt(v.Version, 10)
			if in := current[ver]; in != nil && (in.stamp == stampOf(v) || rp.failed[v.Path] == stampOf(v)) {
				continue // served as it is, or as it was before a change that failed
			}
			in, err := rp.load(name, ver, stampOf(v))
			if err != nil {
				rp.failed[v.Path] = stampOf(v)
				rp.s.m.loads.WithLabelValues(name, "failed").Inc()
				if current[ver] != nil { // changed in place: the version as loaded before goes on
					rp.s.opts.Log.Error("model version refused: the same version as loaded before goes on being served", "model", name, "version", ver, "file", v.Path, "error", err)
					continue
				}
				rp.s.opts.Log.Error("model version refused: the versions before it go on being served", "model", name, "version", ver, "file", v.Path, "error", err)
				bad = i
				break
			}
			current[ver] = in
			delete(rp.failed, v.Path)
			rp.s.m.loads.WithLabelValues(name, "ok").Inc()
		}
		if bad < 0 {
			break
		}
		candidates = slices.DeleteFunc(candidates, func(v RepoVersion) bool { return v.Path == want[bad].Path })
	}
	for ver := range current {
		if !slices.ContainsFunc(want, func(v RepoVersion) bool { return strconv.FormatInt(v.Version, 10) == ver }) {
			rp.s.opts.Log.Info("model version no longer served", "model", name, "version", ver, "policy", rp.r.Policy.String())
			rp.s.remove(name, ver)
		}
	}
}

// load opens and checks one version and serves it, in place of the one of the same version
// if there is one.
func (rp *repository) load(name, version string, stamp fileStamp) (*instance, error) {
	start := time.Now()
	m, closer, err := rp.r.Load(stamp.path)
	if err != nil {
		return nil, err
	}
	if err := check(m); err != nil {
		if closer != nil {
			closer.Close()
		}
		return nil, err
	}
	in := rp.s.newInstance(name, version, m, closer)
	in.stamp = stamp
	if !rp.s.install(in) {
		in.retire()
		return nil, errors.New("the server is closing")
	}
	rp.s.opts.Log.Info("model version loaded", "model", name, "version", version, "file", stamp.String(), "took", time.Since(start).Round(time.Millisecond))
	return in, nil
}

// check runs a described model on one blank image: a model that loads but cannot run is
// refused before it serves a request.
func check(m Model) error {
	d, ok := m.(Described)
	if !ok {
		return nil
	}
	n := d.InputSize()
	if n < 1 || n > 1<<14 {
		return fmt.Errorf("checking the model: input size %d", n)
	}
	preds, err := m.PredictPixels(make([]uint8, n*n*3), 1)
	if err != nil {
		return fmt.Errorf("checking the model on a blank image: %w", err)
	}
	if len(preds) != 1 {
		return fmt.Errorf("checking the model on a blank image: %d answers for 1 image", len(preds))
	}
	return nil
}

package finetune

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/catdog-ml/catdog/internal/atomicfile"
	"github.com/catdog-ml/catdog/runs"
)

// checkpointFile is the one file of a run's checkpoint/ folder. It is replaced atomically
// after every epoch, so it always holds one consistent epoch: a magic line, the length
// of a JSON state, the state, then little-endian float32 arrays: the weights, the best
// weights so far, and the optimizer's moments; last, the SHA-256 of all that, checked
// before anything is resumed.
const checkpointFile = "checkpoint.bin"

const checkpointMagic = "catdog-checkpoint 2\n"

// checkpointState is the JSON part of a checkpoint.
type checkpointState struct {
	Epoch     int          `json:"epoch"` // epochs done
	Part      epochState   `json:"part"`  // the epoch in progress, if any
	RNG       []byte       `json:"rng"`   // the run's PCG generator
	History   runs.History `json:"history"`
	BadEpochs int          `json:"bad_epochs"`
	Optimizer *optimizer   `json:"optimizer"`
	Config    runs.Config  `json:"config"`
	Params    []paramRef   `json:"params"`
}

type paramRef struct {
	Name  string `json:"name"`
	Shape []int  `json:"shape"`
}

// save writes the checkpoint of the epochs done so far.
func (t *trainer) save() error {
	rng, err := t.pcg.MarshalBinary()
	if err != nil {
		return fmt.Errorf("saving the random generator: %w", err)
	}
	st := checkpointState{Epoch: t.epoch, Part: t.part, RNG: rng, History: t.hist, BadEpochs: t.badEpochs, Optimizer: t.opt, Config: t.runCfg}
	for _, p := range t.model.params {
		st.Params = append(st.Params, paramRef{p.Name, p.Shape})
	}
	js, err := json.Marshal(st)
	if err != nil {
		return err
	}
	dir := filepath.Join(t.dir, runs.CheckpointDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("creating the checkpoint folder: %w", err)
	}
	f, err := atomicfile.Create(filepath.Join(dir, checkpointFile))
	if err != nil {
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	h := sha256.New()
	w := &errWriter{w: io.MultiWriter(f, h)}
	io.WriteString(w, checkpointMagic)
	binary.Write(w, binary.LittleEndian, uint64(len(js)))
	w.Write(js)
	for _, p := range t.model.params {
		writeFloats(w, p.Data)
	}
	for _, b := range t.best {
		writeFloats(w, b)
	}
	for _, m := range t.opt.M {
		writeFloats(w, m)
	}
	for _, v := range t.opt.V {
		writeFloats(w, v)
	}
	w.Write(h.Sum(nil))
	if w.err != nil {
		f.Abort()
		return fmt.Errorf("writing the checkpoint: %w", w.err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("writing the checkpoint: %w", err)
	}
	t.saved = true
	return nil
}

// load restores the trainer from the checkpoint in run folder dir and returns the run's
// stored configuration, which must match want in everything that changes the result.
func (t *trainer) load(dir string, want runs.Config) (runs.Config, error) {
	var st checkpointState
	err := t.restoreFrom(dir, want, &st)
	return st.Config, err
}

// restoreFrom reads the checkpoint of run folder dir into st and the trainer.
func (t *trainer) restoreFrom(dir string, want runs.Config, st *checkpointState) error {
	path := filepath.Join(dir, runs.CheckpointDir, checkpointFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s has no checkpoint to resume from (finished runs remove theirs): %w", dir, err)
		}
		return fmt.Errorf("reading the checkpoint: %w", err)
	}
	bad := func(what string) error {
		return fmt.Errorf("checkpoint %s is damaged (%s): it cannot be resumed; train again without --resume", path, what)
	}
	if !bytes.HasPrefix(data, []byte(checkpointMagic)) {
		if bytes.HasPrefix(data, []byte("catdog-checkpoint ")) {
			return fmt.Errorf("checkpoint %s was written by another catdog version: it cannot be resumed; train again without --resume", path)
		}
		return bad("not a catdog checkpoint")
	}
	if len(data) < len(checkpointMagic)+sha256.Size {
		return bad("truncated")
	}
	body, sum := data[:len(data)-sha256.Size], data[len(data)-sha256.Size:]
	if got := sha256.Sum256(body); !bytes.Equal(got[:], sum) {
		return bad("its checksum does not match its content")
	}
	data = body[len(checkpointMagic):]
	if len(data) < 8 {
		return bad("truncated")
	}
	n := binary.LittleEndian.Uint64(data)
	data = data[8:]
	if uint64(len(data)) < n {
		return bad("truncated state")
	}
	if err := json.Unmarshal(data[:n], st); err != nil {
		return bad(err.Error())
	}
	data = data[n:]
	if diff := differs(st.Config, want); diff != "" {
		return fmt.Errorf("cannot resume %s: %s (resume with the run's own settings, see its config.json)", dir, diff)
	}
	if len(st.Params) != len(t.model.params) {
		return fmt.Errorf("cannot resume %s: it holds %d weight arrays, the model has %d", dir, len(st.Params), len(t.model.params))
	}
	for i, p := range t.model.params {
		if st.Params[i].Name != p.Name || fmt.Sprint(st.Params[i].Shape) != fmt.Sprint(p.Shape) {
			return fmt.Errorf("cannot resume %s: weight %d is %s%v there, %s%v in the model", dir, i, st.Params[i].Name, st.Params[i].Shape, p.Name, p.Shape)
		}
	}
	read := func(dst []float32) error {
		if len(data) < 4*len(dst) {
			return bad("truncated weights")
		}
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
		data = data[4*len(dst):]
		return nil
	}
	for _, p := range t.model.params {
		if err := read(p.Data); err != nil {
			return err
		}
	}
	t.best = make([][]float32, len(t.model.params))
	for i, p := range t.model.params {
		t.best[i] = make([]float32, len(p.Data))
		if err := read(t.best[i]); err != nil {
			return err
		}
	}
	o := st.Optimizer
	if o == nil || o.Kind != t.opt.Kind {
		return bad("optimizer state missing")
	}
	o.M, o.V = t.opt.M, t.opt.V
	for _, m := range o.M {
		if err := read(m); err != nil {
			return err
		}
	}
	for _, v := range o.V {
		if err := read(v); err != nil {
			return err
		}
	}
	if len(data) != 0 {
		return bad("trailing bytes")
	}
	if err := t.pcg.UnmarshalBinary(st.RNG); err != nil {
		return bad("random generator: " + err.Error())
	}
	t.opt = o
	t.epoch, t.hist, t.badEpochs, t.part = st.Epoch, st.History, st.BadEpochs, st.Part
	t.part.FirstBatch = t.part.NextBatch
	return nil
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func writeFloats(w io.Writer, d []float32) {
	buf := make([]byte, 4*len(d))
	for i, v := range d {
		binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
	}
	w.Write(buf)
}

package finetune

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/catdog-ml/catdog/runs"
)

// Config says how to train. The zero value of a field means its default: the recipe of
// defaults.go, the one definition that catdog train, catdog finetune and the study share.
type Config struct {
	// Name names the run: the run folder is RunsDir/<Name>-<timestamp>. Default: the
	// architecture's name (TrainCNN) or "<backbone>-head" (TrainHead).
	Name string `json:"name"`
	// RunsDir holds the run folders. Default "runs".
	RunsDir string `json:"runs_dir"`
	// Epochs is the most epochs to train (default DefaultEpochs).
	Epochs int `json:"epochs"`
	// Batch is the mini-batch size (default DefaultBatch). The last incomplete batch of
	// each shuffled epoch is left out of training (batch norm needs whole batches).
	Batch int `json:"batch"`
	// Init draws the initial weights (default DefaultInit).
	Init Init `json:"init,omitempty"`
	// Optimizer is "adam" or "sgd" with Momentum (default DefaultOptimizer).
	Optimizer string `json:"optimizer"`
	// LR is the peak learning rate (default DefaultLR).
	LR float64 `json:"lr"`
	// Schedule shapes the learning rate over the run (default DefaultSchedule): "constant",
	// or "cosine": from LR down to 0 along half a cosine, over the most epochs. Warmup, when
	// positive, first raises it linearly from 0 over that many epochs, fewer on a shorter
	// run, which keeps at least one epoch after the warm-up; 0 means none.
	Schedule string `json:"schedule,omitempty"`
	Warmup   int    `json:"warmup,omitempty"`
	// Momentum is SGD's momentum; 0 is plain SGD. Adam has none: it is recorded as 0.
	Momentum float64 `json:"momentum"`
	// Patience stops training after this many epochs without a lower validation loss; 0
	// trains every epoch. Either way the weights of the epoch with the lowest validation
	// loss are the ones kept and exported.
	Patience int `json:"patience"`
	// Classes are the class names in label order (label i is Classes[i]), recorded in the
	// run folder and the exported model. Nil means the data's: the prepared dataset's
	// (TrainCNN), else Dogs vs. Cats (DefaultClasses). Two classes train a sigmoid output
	// with binary cross-entropy; three or more a softmax output with categorical
	// cross-entropy (OutputLayers): TrainCNN ends its architecture so, a head (Head) must
	// end so already (WithClasses), unless it is the default head.
	Classes []string `json:"classes,omitempty"`
	// ClassWeights, when set, weight each sample's loss by its class's weight (one per
	// class, positive), the mean normalised by the weights' sum, as PyTorch's weighted
	// losses; BalancedWeights makes them from the class counts. It weights the training
	// loss and the losses reported (train, validation, test), and so the choice of the best
	// epoch. Nil means 1 for every class.
	ClassWeights []float64 `json:"class_weights,omitempty"`
	// Seed drives weight initialisation, shuffling, dropout and augmentation.
	Seed uint64 `json:"seed"`
	// Rand, if set, is the source of the run's random draws in place of the generator seeded
	// by Seed: each epoch's sample order (rand.Rand.Perm), then for each batch the
	// augmentation (six Float64 per image, image after image) and the dropout masks (one
	// Float64 per value, layer after layer, a value is dropped when its draw is below the
	// rate). Seed still draws the initial weights. It lets another engine replay exactly the
	// same draws (bench/parity -paired). A run with its own Rand cannot be resumed.
	Rand rand.Source `json:"-"`
	// Limit, when positive, uses at most Limit samples of each split, evenly spaced
	// through it (quick runs).
	Limit int `json:"limit,omitempty"`

	// Head is the layer spec of the transfer head (TrainHead; default DefaultHead).
	Head string `json:"head,omitempty"`
	// Augment is the augmentation of training images (TrainCNN). Nil means the
	// architecture's default: DefaultAugment for architectures marked Augment, none otherwise.
	Augment *AugmentOptions `json:"augment,omitempty"`

	// CheckpointEvery, when positive, also writes a checkpoint within an epoch once this
	// much time has passed since the last one, so that a resumed run loses at most that much
	// work. Checkpoints are always written at the end of every epoch.
	CheckpointEvery time.Duration `json:"-"`

	// Resume continues the newest run folder RunsDir/<Name>-* that holds a checkpoint.
	Resume bool `json:"-"`
	// ResumeDir continues the run in that folder (implies Resume).
	ResumeDir string `json:"-"`

	// Weights, if set, replaces the initial values of the weights it names (Param names
	// such as "conv1.weight"), for instance with a pretrained Block's; InitFrom says where
	// they come from, for the record.
	Weights  map[string][]float32 `json:"-"`
	InitFrom string               `json:"init_from,omitempty"`
	// JoinFeatures, for TrainHead, are more features folders of the same dataset whose
	// features are joined after those of featuresDir, sample by sample: one head on the
	// features of several backbones (Config.Backbone then joins them too, see JoinBackbones).
	JoinFeatures []string `json:"join_features,omitempty"`

	// Backbone, for TrainHead, is composed in front of the head into model.onnx. Without
	// it, TrainHead exports only head.onnx (input "features").
	Backbone *Backbone `json:"-"`
	// Metadata is added to the exported model's metadata_props (e.g. catdog.resize_filter).
	Metadata map[string]string `json:"-"`
	// Conv replaces the convolution op (nil: FastConv).
	Conv ConvFunc `json:"-"`
	// Progress, if set, is called after every training batch.
	Progress func(Progress) `json:"-"`
	// OnEpoch, if set, is called after every epoch, once its checkpoint is written.
	OnEpoch func(runs.Epoch) `json:"-"`
}

// Progress reports training within an epoch.
type Progress struct {
	Epoch, Epochs   int // 1-based epoch, most epochs
	Batch, Batches  int // batches done in this epoch, batches per epoch
	Loss, Accuracy  float64
	ImagesPerSecond float64
}

// Result is what a finished run returns; its files are in Dir.
type Result struct {
	Name      string       `json:"name"` // the run's name (Config.Name)
	Dir       string       `json:"dir"`
	ModelPath string       `json:"model"` // model.onnx, or head.onnx when no backbone was given
	Kind      string       `json:"kind"`  // runs.Scratch or runs.Transfer
	Arch      string       `json:"arch"`
	History   runs.History `json:"-"`
	Model     *Model       `json:"-"`
	Table     []runs.Layer `json:"-"`
	// Classes are the class names in label order.
	Classes []string `json:"classes"`
	// TestProbs are the probabilities on the test split (Gorgonia, best weights), in the
	// split's order: for two classes one per photo, the probability of label 1 (cat); for
	// C >= 3 classes C per photo, row after row (N·C values, row-major). TestLabels are the
	// true labels.
	TestProbs  []float32 `json:"-"`
	TestLabels []uint8   `json:"-"`
	TestLoss   float64   `json:"test_loss"`
	TestAcc    float64   `json:"test_accuracy"`
	// Params are the trainable values of the trained model; BackboneParams those of the
	// frozen backbone, if any.
	Params         int     `json:"params"`
	BackboneParams int     `json:"backbone_params,omitempty"`
	TrainSeconds   float64 `json:"train_seconds"`
	ImagesPerSec   float64 `json:"images_per_second"`
}

// DivergedError is the error of a training run whose outputs stopped being numbers: its
// learning rate is too high for the data and network.
type DivergedError struct {
	Epoch, Batch int
	LR           float64
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("training diverged at epoch %d, batch %d: the loss is no longer a number (NaN or infinite); lower the learning rate (now %g)", e.Epoch, e.Batch, e.LR)
}

// Resolved returns c with every default filled in: what training will use.
func (c Config) Resolved() (Config, error) {
	err := c.defaults("run")
	return c, err
}

func (c *Config) defaults(name string) error {
	if c.Name == "" {
		c.Name = name
	}
	if strings.ContainsAny(c.Name, `/\`) || c.Name == "." || c.Name == ".." {
		return fmt.Errorf("run name %q: must not contain slashes", c.Name)
	}
	if c.RunsDir == "" {
		c.RunsDir = "runs"
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.Batch == 0 {
		c.Batch = DefaultBatch
	}
	if c.Init == "" {
		c.Init = DefaultInit
	}
	if c.Optimizer == "" {
		c.Optimizer = DefaultOptimizer
	}
	if c.LR == 0 {
		c.LR = DefaultLR
	}
	if c.Schedule == "" {
		c.Schedule = DefaultSchedule
	}
	if c.Warmup > 0 {
		c.Warmup = max(0, min(c.Warmup, c.Epochs-1)) // a run of one epoch has none
	}
	if c.Optimizer != "sgd" {
		c.Momentum = 0
	}
	if c.Schedule != "constant" && c.Schedule != "cosine" {
		return fmt.Errorf("unknown learning-rate schedule %q (want constant or cosine)", c.Schedule)
	}
	if c.Warmup < 0 || c.Warmup >= c.Epochs && c.Warmup > 0 {
		return fmt.Errorf("warm-up of %d epochs: want 0 to %d (fewer than the %d epochs)", c.Warmup, c.Epochs-1, c.Epochs)
	}
	switch {
	case c.Epochs < 0:
		return fmt.Errorf("epochs must be positive, got %d", c.Epochs)
	case c.Batch < 1:
		return fmt.Errorf("batch size must be positive, got %d", c.Batch)
	case c.Patience < 0:
		return fmt.Errorf("patience must not be negative, got %d", c.Patience)
	case c.Optimizer != "sgd" && c.Optimizer != "adam":
		return fmt.Errorf("unknown optimizer %q (want sgd or adam)", c.Optimizer)
	}
	if c.ResumeDir != "" {
		c.Resume = true
	}
	return nil
}

// trainer is one run in progress.
type trainer struct {
	cfg     Config
	runCfg  runs.Config
	model   *Model
	src     source
	dir     string
	pcg     *rand.PCG
	rng     *rand.Rand
	opt     *optimizer
	augment func(raw []uint8, n int)

	hist      runs.History
	epoch     int        // epochs done
	part      epochState // the epoch in progress
	saved     bool       // a checkpoint of this run is on disk
	best      [][]float32
	badEpochs int

	train *graph
	infer map[int]*graph
	obj   objective // the loss and how the outputs read
}

// epochState is the progress of an unfinished epoch, saved in mid-epoch checkpoints.
type epochState struct {
	Perm       []int   `json:"perm,omitempty"` // this epoch's order of the train samples; nil between epochs
	NextBatch  int     `json:"next_batch,omitempty"`
	FirstBatch int     `json:"first_batch,omitempty"` // where this process started the epoch (for images/s)
	LossSum    float64 `json:"loss_sum,omitempty"`
	WeightSum  float64 `json:"weight_sum,omitempty"` // of the samples' class weights, when set
	Correct    int     `json:"correct,omitempty"`
	Seconds    float64 `json:"seconds,omitempty"` // training time spent before the last checkpoint
}

// newTrainer prepares a run: a fresh run folder, or the checkpointed state of the run
// being resumed.
func newTrainer(cfg Config, m *Model, src source, runCfg runs.Config) (*trainer, error) {
	m.SetConv(cfg.Conv)
	if err := m.SetWeights(cfg.Weights); err != nil {
		return nil, err
	}
	if cfg.Classes == nil {
		cfg.Classes = DefaultClasses()
	}
	if err := checkClasses(m, cfg.Classes, cfg.ClassWeights); err != nil {
		return nil, err
	}
	if err := checkLabels(src, cfg.Classes); err != nil {
		return nil, err
	}
	t := &trainer{cfg: cfg, runCfg: runCfg, model: m, src: limit(src, cfg.Limit), infer: map[int]*graph{},
		obj: objective{classes: len(cfg.Classes), weights: cfg.ClassWeights}}
	t.pcg = rand.NewPCG(cfg.Seed, 0x7a1e)
	t.rng = rand.New(t.pcg)
	if cfg.Rand != nil {
		if cfg.Resume {
			return nil, errors.New("a run with its own random source (Config.Rand) cannot be resumed: its state is not checkpointed")
		}
		t.rng = rand.New(cfg.Rand)
	}
	learn := trainable(m)
	var err error
	if t.opt, err = newOptimizer(cfg.Optimizer, cfg.LR, cfg.Momentum, learn); err != nil {
		return nil, err
	}
	if cfg.Resume {
		dir := cfg.ResumeDir
		if dir == "" {
			if dir, err = latestRun(cfg.RunsDir, cfg.Name); err != nil {
				return nil, err
			}
		}
		stored, err := t.load(dir, runCfg)
		if err != nil {
			return nil, err
		}
		// The run's own settings stay; only the epochs and the patience may change.
		stored.Epochs, stored.Patience = runCfg.Epochs, runCfg.Patience
		t.runCfg = stored
		if err := runs.WriteJSON(dir, runs.ConfigFile, stored); err != nil {
			return nil, err
		}
		t.dir, t.saved = dir, true
		t.hist.ResumedAt = append(t.hist.ResumedAt, t.epoch)
		return t, nil
	}
	if t.dir, err = runs.NewDir(cfg.RunsDir, cfg.Name); err != nil {
		return nil, err
	}
	if err := runs.WriteJSON(t.dir, runs.ConfigFile, runCfg); err != nil {
		return nil, err
	}
	t.best = m.snapshot()
	return t, nil
}

// trainable lists m's trainable params in model order.
func trainable(m *Model) []*Param {
	var ps []*Param
	for _, p := range m.params {
		if p.Trainable {
			ps = append(ps, p)
		}
	}
	return ps
}

// runStamp is the timestamp part of a run folder's name.
var runStamp = regexp.MustCompile(`^[0-9]{8}-[0-9]{6}(-[0-9]+)?$`)

// latestRun finds the newest run folder of name that holds a checkpoint.
func latestRun(runsDir, name string) (string, error) {
	all, _ := filepath.Glob(filepath.Join(runsDir, name+"-*", runs.CheckpointDir, checkpointFile))
	var matches []string
	for _, m := range all { // "vgg3-*" also matches vgg3-dropout-*: keep name-<timestamp>[-k]
		run := filepath.Base(filepath.Dir(filepath.Dir(m)))
		if runStamp.MatchString(strings.TrimPrefix(run, name+"-")) {
			matches = append(matches, m)
		}
	}
	if len(matches) == 0 {
		return "", fmt.Errorf("no run of %q to resume in %s (no %s-*/checkpoint/%s)", name, runsDir, name, checkpointFile)
	}
	sort.Strings(matches) // timestamps sort by time
	return filepath.Dir(filepath.Dir(matches[len(matches)-1])), nil
}

// InterruptedError is returned when the context ends a run before its last epoch. It
// wraps the context's error.
type InterruptedError struct {
	Dir    string // the run folder; removed when nothing had been checkpointed
	Epochs int    // whole epochs done
	// Resumable says a checkpoint is on disk: the end of epoch Epochs, or a point within
	// the next one (Config.CheckpointEvery).
	Resumable bool
	Err       error
}

func (e *InterruptedError) Error() string {
	if !e.Resumable {
		return fmt.Sprintf("interrupted before the first checkpoint (nothing to resume): %v", e.Err)
	}
	return fmt.Sprintf("interrupted after %d whole epochs, checkpointed in %s (resume to continue): %v", e.Epochs, e.Dir, e.Err)
}

func (e *InterruptedError) Unwrap() error { return e.Err }

// run trains until the last epoch, early stopping, or ctx's end. On ctx's end the last
// finished epoch's checkpoint stays on disk and run returns an *InterruptedError (a run
// folder with no finished epoch is removed).
func (t *trainer) run(ctx context.Context) (err error) {
	defer func() {
		var de *DivergedError
		if errors.As(err, &de) && !t.saved {
			os.RemoveAll(t.dir) // no stub run folder for a run that never had weights to keep
		}
		if ce := ctx.Err(); ce != nil && err != nil && errors.Is(err, ce) {
			if !t.saved {
				os.RemoveAll(t.dir)
			}
			err = &InterruptedError{Dir: t.dir, Epochs: t.epoch, Resumable: t.saved, Err: ce}
		}
	}()
	defer t.closeGraphs()
	n := t.src.len(Train)
	if n == 0 {
		return errors.New("the train split is empty")
	}
	if t.src.len(Valid) == 0 {
		return errors.New("the validation split is empty")
	}
	batch := min(t.cfg.Batch, n)
	if t.train == nil {
		if t.train, err = t.model.compile(batch, true, t.obj.weights); err != nil {
			return err
		}
	}
	learn := t.train.learn
	per := prod(t.model.Input)
	x, y := make([]float32, batch*per), make([]float32, batch)
	grads := make([][]float32, len(learn))
	batches := n / batch
	t.opt.Schedule = t.cfg.Schedule
	t.opt.WarmupSteps = int64(t.cfg.Warmup * batches)
	t.opt.TotalSteps = int64(t.cfg.Epochs * batches)
	lastSave := time.Now()
	for t.epoch < t.cfg.Epochs && !t.hist.StoppedEarly {
		if err := ctx.Err(); err != nil {
			return err
		}
		start := time.Now()
		ep := &t.part
		if ep.Perm == nil { // a new epoch (else one resumed mid-way)
			*ep = epochState{Perm: t.rng.Perm(n)}
		}
		for b := ep.NextBatch; b < batches; b++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			rows := ep.Perm[b*batch : (b+1)*batch]
			if err := t.src.read(Train, rows, x, y, t.augment); err != nil {
				return err
			}
			t.train.fillMasks(t.rng.Uint64)
			z, err := t.train.run(x, y)
			if err != nil {
				return err
			}
			for _, v := range z {
				if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
					return &DivergedError{Epoch: t.epoch + 1, Batch: b + 1, LR: t.cfg.LR}
				}
			}
			w := t.obj.width()
			for i := range y {
				loss, correct := t.obj.sample(z[i*w:(i+1)*w], y[i])
				if t.obj.weights != nil {
					wi := t.obj.weight(y[i])
					loss *= wi
					ep.WeightSum += wi
				}
				ep.LossSum += loss
				if correct {
					ep.Correct++
				}
			}
			if err := t.train.gradients(grads); err != nil {
				return err
			}
			t.opt.step(learn, grads)
			ep.NextBatch = b + 1
			if every := t.cfg.CheckpointEvery; every > 0 && b+1 < batches && time.Since(lastSave) >= every {
				ep.Seconds += time.Since(start).Seconds()
				start = time.Now()
				if err := t.save(); err != nil {
					return err
				}
				lastSave = time.Now()
			}
			if t.cfg.Progress != nil {
				done := (b + 1) * batch
				secs := ep.Seconds + time.Since(start).Seconds()
				t.cfg.Progress(Progress{Epoch: t.epoch + 1, Epochs: t.cfg.Epochs, Batch: b + 1, Batches: batches,
					Loss: meanLoss(ep.LossSum, ep.WeightSum, done), Accuracy: float64(ep.Correct) / float64(done),
					ImagesPerSecond: float64((b+1-ep.FirstBatch)*batch) / secs})
			}
		}
		lossSum, weightSum, correct := ep.LossSum, ep.WeightSum, ep.Correct
		trainSecs := ep.Seconds + time.Since(start).Seconds()
		seen := batches * batch
		timed := (batches - ep.FirstBatch) * batch // images trained in this process
		vl, va, _, err := t.evaluate(Valid)
		if err != nil {
			return err
		}
		t.epoch++
		st := runs.Epoch{Epoch: t.epoch, TrainLoss: meanLoss(lossSum, weightSum, seen), TrainAcc: float64(correct) / float64(seen),
			ValidLoss: vl, ValidAcc: va, ImagesPerSec: float64(timed) / trainSecs}
		if t.hist.BestEpoch == 0 || vl < t.hist.BestValidLoss {
			st.Best = true
			t.hist.BestEpoch, t.hist.BestValidLoss, t.hist.BestValidAcc = t.epoch, vl, va
			t.best = t.model.snapshot()
			t.badEpochs = 0
		} else {
			t.badEpochs++
			// Stopping early means stopping before the last epoch.
			if t.cfg.Patience > 0 && t.badEpochs >= t.cfg.Patience && t.epoch < t.cfg.Epochs {
				t.hist.StoppedEarly = true
			}
		}
		st.Seconds = ep.Seconds + time.Since(start).Seconds()
		t.hist.Epochs = append(t.hist.Epochs, st)
		*ep = epochState{}
		if err := t.save(); err != nil {
			return err
		}
		if err := runs.WriteJSON(t.dir, runs.HistoryFile, t.hist); err != nil {
			return err
		}
		if t.cfg.OnEpoch != nil {
			t.cfg.OnEpoch(st)
		}
	}
	t.model.restore(t.best)
	return nil
}

// meanLoss is the mean of n samples' losses summing to sum; with class weights, whose
// sum over the samples is weights (0 without), the weighted mean sum/weights.
func meanLoss(sum, weights float64, n int) float64 {
	if weights == 0 {
		return sum / float64(n)
	}
	return sum / weights
}

// evaluate returns the mean loss, the accuracy and the probabilities on split
// (inference mode: no dropout, batch norm with running statistics).
func (t *trainer) evaluate(split string) (loss, acc float64, probs []float32, err error) {
	n := t.src.len(split)
	return evaluate(t.model, t.obj, t.src, split, n, t.cfg.Batch, t.infer)
}

// evaluate runs m in inference mode over the first n samples of split, batch at a time,
// with compiled graphs cached by batch size in graphs. It returns the mean loss (weighted
// by obj's class weights), the accuracy and the probabilities (obj.probs: n values for two
// classes, n·C for C).
func evaluate(m *Model, obj objective, src source, split string, n, batch int, graphs map[int]*graph) (loss, acc float64, probs []float32, err error) {
	if n == 0 {
		return 0, 0, nil, fmt.Errorf("the %s split is empty", split)
	}
	per := prod(m.Input)
	batch = min(batch, n)
	x, y := make([]float32, batch*per), make([]float32, batch)
	w := obj.width()
	probs = make([]float32, 0, n*w)
	rows := make([]int, 0, batch)
	var correct int
	var weights float64
	for start := 0; start < n; start += batch {
		k := min(batch, n-start)
		rows = rows[:0]
		for i := range k {
			rows = append(rows, start+i)
		}
		if err := src.read(split, rows, x[:k*per], y[:k], nil); err != nil {
			return 0, 0, nil, err
		}
		gr := graphs[k]
		if gr == nil {
			if gr, err = m.build(k, false); err != nil {
				return 0, 0, nil, err
			}
			graphs[k] = gr
		}
		z, err := gr.run(x[:k*per], nil)
		if err != nil {
			return 0, 0, nil, err
		}
		for i := range k {
			zi := z[i*w : (i+1)*w]
			l, ok := obj.sample(zi, y[i])
			if obj.weights != nil {
				wi := obj.weight(y[i])
				l *= wi
				weights += wi
			}
			loss += l
			if ok {
				correct++
			}
			probs = obj.probs(probs, zi)
		}
	}
	return meanLoss(loss, weights, n), float64(correct) / float64(n), probs, nil
}

func (t *trainer) closeGraphs() {
	if t.train != nil {
		t.train.close()
		t.train = nil
	}
	for k, g := range t.infer {
		g.close()
		delete(t.infer, k)
	}
}

package finetune

// The training recipe: the defaults of Config, used by catdog train, catdog finetune and
// the study alike. Chosen by experiment on the quick profile's photos (1,800 training
// photos at 64x64, 10 epochs; docs/training.md): with He-uniform weights and Adam at 3e-4
// (the previous recipe) the dropout rung sat at chance (validation loss 0.692-0.693 for 10
// epochs, test 53.0 and 60.5 % with seeds 1 and 2; PyTorch the same); Glorot-uniform
// weights with Adam at 1e-3 leave that plateau by the fourth epoch (68.3 and 72.7 %
// constant, 68.2 and 70.8 % with one epoch of warm-up and a cosine decay, whose
// validation loss falls smoothly to the end); He-uniform with Adam 1e-3 and the cosine
// stays at chance (52.2, 51.3 %).
const (
	DefaultInit      = GlorotUniform
	DefaultOptimizer = "adam"
	DefaultLR        = 0.001
	DefaultSchedule  = "cosine"
	DefaultWarmup    = 1
	DefaultBatch     = 32
	DefaultEpochs    = 10
	DefaultPatience  = 4
	DefaultMomentum  = 0.9 // SGD's
)

// DefaultConfig returns the recipe above as a Config: the start of every run that does not
// choose otherwise (catdog train, catdog finetune and the study start from it). A Config's
// zero values mean what they say where they can mean something (Warmup 0: no warm-up,
// Momentum 0: plain SGD, Patience 0: no early stopping); where they cannot (Epochs, Batch,
// LR, Optimizer, Init, Schedule), zero means the recipe's value.
func DefaultConfig() Config {
	return Config{
		Epochs: DefaultEpochs, Batch: DefaultBatch, Init: DefaultInit, Optimizer: DefaultOptimizer, LR: DefaultLR,
		Schedule: DefaultSchedule, Warmup: DefaultWarmup, Momentum: DefaultMomentum, Patience: DefaultPatience,
	}
}

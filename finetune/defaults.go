package finetune

// The training recipe: the defaults of Config, used by catdog train, catdog finetune and
// the study alike (docs/training.md says how they were chosen and what they give).
const (
	DefaultInit      = HeUniform
	DefaultOptimizer = "adam"
	DefaultLR        = 0.0003
	DefaultSchedule  = "constant"
	DefaultWarmup    = 0
	DefaultBatch     = 32
	DefaultEpochs    = 10
	DefaultPatience  = 4
)

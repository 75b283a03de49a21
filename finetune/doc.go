// Package finetune is catdog's training engine, built on Gorgonia (float32).
//
// It trains two kinds of models with one loop:
//
//   - a transfer-learning head on features cached by catdog extract-features
//     (TrainHead), and
//   - a from-scratch convolutional network on prepared uint8 image arrays (TrainCNN),
//     chosen from a registry of architectures (Architectures, Arch).
//
// A network is described by a list of Layer specs (Conv, ReLU, MaxPool, Dropout,
// BatchNorm, Flatten, Dense, Sigmoid, Softmax, GlobalAvgPool, Residual). NewModel turns
// the specs into a Model that holds its weights as plain float32 slices (He initialisation
// from a seed), builds Gorgonia graphs for training and for inference from them, reports a
// layer table, and exports the same math to ONNX through the onnx package's Builder.
//
// Batch normalisation and dropout are catdog's own: batch normalisation is one Gorgonia op
// whose batch statistics feed running averages kept outside the graph (so the exported
// BatchNormalization node uses exactly the statistics Gorgonia uses at inference), and
// dropout multiplies by a mask drawn from the run's seeded generator (so a resumed run
// draws the same masks as an uninterrupted one).
//
// A model of two classes ends with Dense(1) and Sigmoid, one of C >= 3 classes with
// Dense(C) and Softmax (OutputLayers, WithClasses). Training uses binary or categorical
// cross-entropy computed from logits, optionally weighted per class (Config.ClassWeights,
// BalancedWeights), Adam or SGD with momentum, shuffled mini-batches from the seed,
// validation every epoch, early stopping on validation loss with the best weights kept,
// and a checkpoint written atomically after every epoch so an interrupted run resumes
// where it stopped. Each run writes a run folder whose files are described in
// docs/training.md.
package finetune

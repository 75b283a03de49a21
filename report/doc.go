// Package report turns catdog's run folders into documents people can read.
//
// Load reads a run folder as the training engine writes it (config.json, model.json,
// history.json, predictions.npy, labels.npy; see docs/training.md) into a Run, scoring
// the test predictions with package metrics when metrics.json is missing. Write renders
// one run's report.md and a self-contained report.html (pictures inline, no external
// assets): summary, configuration and environment, the network drawn box by box with its
// layer table, loss and accuracy per epoch, the classification report in scikit-learn's
// layout, the confusion matrix, the ROC curve, and the test photos the model got most
// confidently wrong. Index writes runs/index.md and runs/index.html, the leaderboard of
// every run with their curves overlaid, the published reference results beside ours, and
// the models that were not run with the reason and the fix.
//
// docs/reports.md describes the files and the documents.
package report

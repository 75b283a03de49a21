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
// A run has the classes its config.json names (Dogs vs. Cats, dog then cat, when it names
// none). A run of two classes is scored at a threshold on the probability of its second
// class, as Dogs vs. Cats always was. A run of three classes or more gives each test photo
// a row of probabilities, and its document adds the top-k accuracies with their
// intervals, a table and a bar chart of each class's precision, recall, F1 and
// one-vs-rest ROC AUC, the confusion matrix by true class, one ROC curve per class against
// the rest, the most confident mistakes of each class in turn, and the class weights it
// trained with. Index compares the runs of one set of classes (those of the most runs) and
// lists the runs of other classes apart, each set on its own.
//
// docs/reports.md describes the files and the documents.
package report

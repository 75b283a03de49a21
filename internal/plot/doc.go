// Package plot draws catdog's charts as PNG bytes with gonum.org/v1/plot, in one style
// (Liberation Sans, a colour-blind-friendly palette, light grids): bar charts and
// histograms of a dataset, curves per epoch, ROC curves (one per model, or one per class
// against the rest), confusion matrices of any number of classes (counts, or shares of
// each row), grouped bars of per-class scores, bars of test accuracy against published
// results, grids of captioned photos, and network diagrams drawn from a layer table.
package plot

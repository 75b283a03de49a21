// Package datasets turns labelled photos into the arrays catdog trains on, and reads them
// back: the Dogs vs. Cats photos of the study first, and any folder per class.
//
// Prepare reads a source (Kaggle's train.zip in place, its extracted folder, Microsoft's
// PetImages folder or zip, or a folder per class such as photos/daisy/ and photos/rose/,
// as a folder or a zip; with no source it downloads PetImages into the user cache),
// decodes every photo on all cores through internal/imgutil, and writes to a folder:
//
//	dogs_vs_cats_photos.npy   uint8 (N, S, S, 3), RGB, HWC, in file-name order
//	dogs_vs_cats_labels.npy   uint8 (N,), 0 = dog, 1 = cat
//	split_train.npy, split_valid.npy, split_test.npy
//	                          int64 row indices, sorted; 60/20/20 within each class
//	manifest.json             Manifest: source, settings, classes, kept and skipped files,
//	                          counts, checksums
//	class_balance.png, image_sizes.png
//
// Dogs vs. Cats keeps the study's labels and array names whatever its layout. Any other
// folder per class is labelled by its folder names, in sorted order (as Keras's
// image_dataset_from_directory) or the order Options.Classes gives, and its arrays are
// photos.npy and labels.npy (Manifest.ArrayFiles), labels an index into Manifest.Classes.
//
// The same source, size, filter and seed give byte-identical files. Every file is written
// atomically, the manifest last. Memory stays bounded whatever the number of photos: only a
// small window of decoded images is in flight, and pixels are streamed to disk as uint8.
//
// Open reads such a folder back without loading the pixels; Dataset.Batches yields batches
// of a split, shuffled from a seed if asked, with the float conversion (Batch.Float32) done
// per batch only.
package datasets

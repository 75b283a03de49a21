// Package datasets turns the Dogs vs. Cats photos into the arrays catdog trains on, and
// reads them back.
//
// Prepare reads a source (Kaggle's train.zip in place, its extracted folder, a folder per
// class, or Microsoft's PetImages folder or zip; with no source it downloads PetImages into
// the user cache), decodes every photo on all cores through internal/imgutil, and writes to
// a folder:
//
//	dogs_vs_cats_photos.npy   uint8 (N, S, S, 3), RGB, HWC, in file-name order
//	dogs_vs_cats_labels.npy   uint8 (N,), 0 = dog, 1 = cat
//	split_train.npy, split_valid.npy, split_test.npy
//	                          int64 row indices, sorted; 60/20/20 within each class
//	manifest.json             Manifest: source, settings, kept and skipped files, counts, checksums
//	class_balance.png, image_sizes.png
//
// The same source, size, filter and seed give byte-identical files. Every file is written
// atomically, the manifest last. Memory stays bounded whatever the number of photos: only a
// small window of decoded images is in flight, and pixels are streamed to disk as uint8.
//
// Open reads such a folder back without loading the pixels; Dataset.Batches yields batches
// of a split, shuffled from a seed if asked, with the float conversion (Batch.Float32) done
// per batch only.
package datasets

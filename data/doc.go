// Package data reads the three datasets of the paper (CIFAR-10, MNIST,
// Fashion-MNIST) from their official file formats, downloads them with
// checksums, and turns them into float32 NCHW mini-batches with the official
// augmentation chain (spec §3.1).
//
// # Where the files are
//
// ResolveDir picks the data root: the --data-dir flag, else $DEEPNMF_DATA,
// else os.UserCacheDir()/deepnmf. Each dataset has its own folder under the
// root with the official file names:
//
//	cifar10/cifar-10-binary.tar.gz        (the official archive, read as is)
//	cifar10/cifar-10-batches-bin/*.bin    (or the archive extracted; preferred when both exist)
//	mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//	fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
//
// Fetch stores the official archives unchanged: the loaders read the gzip'd
// IDX files and the CIFAR-10 tar.gz directly (streaming, no temporary
// extraction), so nothing is unpacked.
//
// # Memory layout
//
// A Split keeps its images as uint8, N×C×H×W (CHW per image, the CIFAR-10
// record order), and labels as uint8. A batch becomes float32 only when it is
// drawn: value/255 computed as float32(v)/255, as the official code divides
// the float32 tensor by its maximum 255.
//
// # Single images
//
// ReadImage prepares a PNG or JPEG file as a test image of a dataset (what
// deepnmf predict classifies). It reads the header first and refuses images
// over MaxImagePixels, and resizes straight into the crop, so its memory is
// the decoded image and little more.
//
// # Random streams and resume
//
// A Loader derives every random number from the user seed through a mixing
// function: the permutation of epoch e from (seed, shuffle stream, e) and the
// augmentation of batch b of epoch e from (seed, augment stream, e, b), each
// a fresh math/rand/v2 PCG. Batch b of epoch e is therefore a pure function of
// (data, config, seed, e, b): a run resumed at any batch boundary reproduces
// the uninterrupted run bit for bit, and a checkpoint needs to store only the
// seed, the epoch and the batch index. There is no hidden generator state to
// save.
package data

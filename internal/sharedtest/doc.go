// Package sharedtest gives tests the read-only inputs in ../shared: the
// PyTorch golden files, the datasets and the reference runs. They are never
// copied into the repository, so a test that needs one fails under CI=true
// (where ../shared is always present) and skips elsewhere.
package sharedtest

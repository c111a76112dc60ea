// Package atomicfile writes files so that a reader (or a run resumed after a
// crash) sees either the old content or the new one, never a half-written file.
package atomicfile

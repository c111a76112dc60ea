//go:build amd64 && !noasm && !purego

package kernels

//go:generate sh -c "cd _asmgen/rows && go run . -out ../../rows_amd64.s -stubs ../../rows_stubs_amd64.go -pkg kernels"

// rowKernels reports whether the row kernels run as AVX-512 assembly.
func rowKernels() bool { return ActivePath() == PathAVX512 }

// Command deepnmf trains, evaluates and inspects deep non-negative matrix
// factorization networks on the CPU.
package main

import (
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		os.Exit(1)
	}
}

// Command deepnmf trains, evaluates and studies deep non-negative matrix
// factorization networks on the CPU. Every command is flag parsing plus one
// call into the library (packages train and experiment); run
// `deepnmf help` for the list and `deepnmf COMMAND --help` for each.
//
// Exit status: 0 on success, 1 on an error, 130 after SIGINT and 143 after
// SIGTERM (the command stopped cleanly first; a run keeps its last
// checkpoint).
package main

// Package sweep runs studies: many training runs made from one spec (networks
// × seeds × any grid of training options), on this machine with a bounded
// pool of jobs or on a Slurm cluster as one array job, and summarises them
// into the paper's accuracy table (spec §4.1) or any other table of groups of
// runs that differ only in their seed.
//
// # Study directory
//
//	STUDY_DIR/plan.json         the plan: budget and one entry per run (index, group, run directory, train.Options)
//	STUDY_DIR/configs/*.json    network configs the plan generated or copied (official format)
//	STUDY_DIR/runs/<name>/      one run directory per entry (what deepnmf train writes) plus sweep-status.json
//	STUDY_DIR/sweep.sbatch      the Slurm array script (deepnmf sweep slurm)
//	STUDY_DIR/slurm-jobs.json   submitted array jobs (deepnmf sweep slurm --submit)
//	STUDY_DIR/logs/%A_%a.out    one log per array task
//
// A run directory is the unit of work: every process (a local pool or an array
// task on any node of a shared file system) resumes a run from its last
// checkpoint and writes nothing outside it, so the same plan can be run,
// killed, resubmitted and continued in any mix of places; an epoch finished
// and checkpointed is never repeated.
//
// # The parameter-balance family (spec §4.3)
//
// BalanceFamily builds networks with cnmf_1x1's geometry (four blocks, 5×5,
// 5×5, full-field and 1×1 patches, average pooling after blocks 1 and 2) whose
// share of parameters in the 1×1 mixing convolutions,
//
//	s = #(b-slot 1×1 convolutions, with bias) / (#b-slot + #a-slot NNMF),
//
// runs from about 5 % to about 60 % while the total parameter count stays
// within ±2 % of cnmf_1x1's 167,886 (counts for the CIFAR-10 input 3×28×28).
// Blocks 1 and 4 keep cnmf_1x1's 32 and 10 channels; an exhaustive integer
// search picks n_a and n_b of block 2 and n_b of block 3 with n_a of block 3
// near the value that makes the total exact, and keeps, among the candidates
// within a quarter of a point of the target share, the widths closest to
// cnmf_1x1's (see BalanceFamily). The next block's input dimension follows
// n_b (25·n_b after block 1, 16·n_b after block 2, n_b after block 3), so a
// high share needs a narrow block 2 and a wide block 3; a low share narrows
// block 3's 1×1 layer below its NNMF layer.
//
// # Initialising a 1×1 layer whose output count differs from its input count
//
// The official b-slot convolution init is identity plus noise: bias U(±5e-5),
// weight [I | 0] + U(±5e-5) entry-wise (spec §2.1). package nn implements it for
// every n_b ≤ n_a (nn/build.go, addConv): output channel k < min(n_a, n_b) starts as
// a copy of input channel k; every other weight (and so the whole column of an
// input channel k ≥ n_b when n_b < n_a) starts within 5e-5 of zero. For
// n_b < n_a this is exactly the official [I_{n_b} | 0]: the layer initially
// passes the first n_b channels on and ignores the rest. For n_b > n_a the
// official code fails (shape mismatch) and nn's config validation refuses
// such a config (spec §6 item 5). The balance family therefore keeps
// n_b ≤ n_a in every block, so each member is a network the official code
// builds and initialises the same way; TestBalanceInit checks both cases
// against nn.Build.
// (A b-slot NNMF layer, type 1, gets the identity init [I | 0] + 1e-4 only
// when n_a ≥ n_b and U[0,1) otherwise; the family does not use it.)
//
// # Budget
//
// The built-in specs "paper" and "balance" use the paper's protocol (CIFAR-10,
// 500 epochs, all images) unless their budget flags reduce it; a plan records
// its budget, and a reduced one is labelled (e.g. "reduced budget: 10,000
// images × 3 epochs × 2 seeds") in every status and table.
package sweep

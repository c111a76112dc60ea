// Package train trains and evaluates the paper's networks with the official
// protocol (spec §3): the loss, one Adam and one ReduceLROnPlateau per
// parameter group, the float32 stop rule, an epoch engine with hooks,
// metrics.csv, atomic checkpoints and bit-identical resume.
//
// Where to start:
//
//   - Training: fill an Options (DefaultOptions is the paper's protocol; a
//     preset name, a config file or an in-memory *nn.Config picks the
//     network), then Start a new run in a directory, Resume one, or
//     StartOrResume (what a preemptible cluster task calls), and call
//     Session.Train. A run directory is locked while a Session has it open;
//     a run killed at any moment continues bit-identically.
//   - Evaluation: OpenModel opens a run directory or a weights file (with
//     its config, or the config deepnmf stored in it), and Model.Evaluate
//     runs the official test pass, optionally corrupting each batch first
//     (EvalOptions.Corrupt, for robustness studies).
//   - Speed: Stepper is one training step (the engine's own), Bench times it.
//
// What stays unexported: the checkpoint layout (read it through Resume and
// LoadRunInfo), the engine's buffers and the lock's mechanics.
package train

// Package experiment holds the paper's studies beyond one accuracy figure
// (spec §4, §5): the four noise corruptions of the official robustness
// scripts and the robustness sweep over a trained model, the gradient-accuracy
// study of the NNMF backward methods (spec §1.7), the backward cost
// measurement (spec §4.2), the pictures of a run (training curves, the first
// NNMF layer's dictionary and its reconstructions) and the static HTML report
// that gathers runs and studies.
//
// # Random streams
//
// Every random number comes from a math/rand/v2 PCG seeded from the user seed
// and a key that names what it is for (noise type, level and test batch for a
// corruption; case and purpose for the gradient study), never from a
// generator shared across calls. A corrupted batch is therefore a pure function
// of (seed, noise, level, batch index, the clean batch): the order in which
// levels or batches are evaluated does not change the result.
//
// Within one corrupted batch the uniform draws U[0,1) (rand.Float32) are taken
// image by image in batch order, element by element in C×H×W order; holes with
// noise draws the whole batch's mask first and then the whole batch's filler
// noise, as the official script's two rand_like calls do.
package experiment
